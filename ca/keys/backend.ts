/** Key backends: where CA private keys live. Chosen by the key URI's scheme, in one place. */
import type { KeyAlgorithm } from "../../policy/index.js";
import type { Signer } from "./signer.js";

export interface KeyRef {
  /** `file:keys/device.key.pem` (relative to the home); later `azure-keyvault://...`, `pkcs11:...`. */
  readonly uri: string;
  readonly algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
}

export interface KeyBackend {
  /** Create a key pair inside the backend; the private key never leaves it unencrypted. */
  generate(algorithm: KeyAlgorithm, label: string): Promise<KeyRef>;
  signer(ref: KeyRef): Promise<Signer>;
}

/** Where a passphrase comes from (a file, the environment, a prompt): asked only when a key is opened. */
export type PassphraseSource = () => Promise<string>;
