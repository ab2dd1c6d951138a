/** PKCS#11 key backend (pkcs11:token=<label>;object=<label>, RFC 7512): not built yet. */
import { TrustlineError } from "../../errors.js";
import type { KeyAlgorithm } from "../../../policy/index.js";
import type { KeyBackend, KeyRef } from "../backend.js";
import type { Signer } from "../signer.js";

export class Pkcs11Backend implements KeyBackend {
  constructor(_env: NodeJS.ProcessEnv) {}
  generate(_algorithm: KeyAlgorithm, _label: string, _store: string): Promise<KeyRef> {
    return Promise.reject(new TrustlineError("USAGE", "PKCS#11 keys are not supported yet"));
  }
  describe(_uri: string): Promise<KeyRef> {
    return Promise.reject(new TrustlineError("USAGE", "PKCS#11 keys are not supported yet"));
  }
  signer(_ref: KeyRef): Promise<Signer> {
    return Promise.reject(new TrustlineError("USAGE", "PKCS#11 keys are not supported yet"));
  }
  async close(): Promise<void> {}
}
