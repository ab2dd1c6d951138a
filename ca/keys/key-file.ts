/**
 * A Signer over a private key file (PKCS#8 or traditional PEM, plain or encrypted): what a CI
 * pipeline holds for firmware signing. CA keys go through the key backends instead.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { keyAlgorithmOf } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { describePublicKey, spkiOf } from "../x509/keys.js";
import { keyObjectSigner, signatureAlgorithmFor, type Signer } from "./signer.js";

export function signerFromKeyFile(path: string, passphrase?: string): Signer {
  let text: Buffer;
  try {
    text = readFileSync(path);
  } catch (e) {
    throw new TrustlineError("KEY_UNAVAILABLE", `cannot read the key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (e) {
    const msg = (e as Error).message;
    if (/passphrase|decrypt|bad decrypt/i.test(msg)) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${path} is encrypted and ${passphrase === undefined ? "no passphrase was given (TRUSTLINE_KEY_PASSPHRASE or --key-passphrase-file)" : "the passphrase does not open it"}`);
    }
    throw new TrustlineError("KEY_UNAVAILABLE", `${path} is not a private key the signer can use`, { cause: e });
  }
  const publicKey = createPublicKey(key);
  const algorithm = keyAlgorithmOf(describePublicKey(publicKey));
  if (!algorithm) throw new TrustlineError("KEY_UNAVAILABLE", `${path} holds a ${key.asymmetricKeyType} key; signing supports P-256, P-384 and RSA`);
  return keyObjectSigner(key, signatureAlgorithmFor(algorithm), spkiOf(publicKey));
}
