/**
 * Key backends: where CA private keys live. A key is named by a URI whose scheme picks the backend
 * (`registry.ts`, the one place that knows them all); everything else holds a KeyRef and asks for
 * a Signer, never learning which backend signs.
 */
import type { KeyAlgorithm } from "../../policy/index.js";
import type { Signer } from "./signer.js";

export interface KeyRef {
  /**
   * `file:keys/device.key.pem` (relative to the home), `azure-keyvault://<host>/keys/<name>/<version>`,
   * `pkcs11:token=<label>;object=<label>`.
   */
  readonly uri: string;
  readonly algorithm: KeyAlgorithm;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
}

/** One backend, for one URI scheme. */
export interface KeyBackend {
  /**
   * Create a key pair inside the backend, at `store` (a URI prefix of this scheme: `file:`,
   * `azure-keyvault://<host>/keys/`, `pkcs11:token=<label>`), named after `label` (lowercase
   * letters, digits and -; a backend may add a suffix so a retry never meets a half-made key).
   * The private key never leaves the backend unencrypted.
   */
  generate(algorithm: KeyAlgorithm, label: string, store: string): Promise<KeyRef>;
  /** An existing key (`ca create --key <uri>`): its algorithm and public key, read from the backend. */
  describe(uri: string): Promise<KeyRef>;
  /** A Signer for the key; checks that the backend's key is the one `ref.publicKey` names. */
  signer(ref: KeyRef): Promise<Signer>;
  /** Release sessions and connections (the process may stay alive, e.g. a test runner). */
  close(): Promise<void>;
  /**
   * A new key-encryption key at `store`, named after `label`, for wrapping the home's data key
   * (the key that seals operators' TOTP seeds and token hashes). Absent: this backend cannot wrap.
   */
  createWrapper?(label: string, store: string): Promise<KeyWrapper>;
  /** The key-encryption key a wrapped value names. */
  openWrapper?(uri: string): Promise<KeyWrapper>;
}

/**
 * A key-encryption key held by a backend (derived from the passphrase, an AES key on a token, an
 * RSA key in a vault): the wrapped secret is useless without the backend that holds it.
 */
export interface KeyWrapper {
  /** Where the key-encryption key is, kept beside the wrapped value. */
  readonly uri: string;
  wrap(plaintext: Uint8Array): Promise<Uint8Array>;
  /** KEY_UNAVAILABLE (details.reason "unwrap-failed", or "wrong-passphrase") when it does not open. */
  unwrap(wrapped: Uint8Array): Promise<Uint8Array>;
}

/** Where a passphrase comes from (a file, the environment, a prompt): asked only when a key is opened. */
export type PassphraseSource = () => Promise<string>;

/** What a backend may need from its surroundings; each takes only its own part. */
export interface KeyBackendContext {
  /** The CA home (file keys are relative to it). */
  readonly homeDir: string;
  /**
   * The file backend's passphrase and scrypt parameters (salt shared by the home's key files);
   * absent outside a home (a CI signer's key in a vault or on a token).
   */
  readonly passphrase?: PassphraseSource;
  readonly kdf?: { readonly salt: Uint8Array; readonly cost: number; readonly blockSize: number; readonly parallelization: number };
  /** The environment remote backends read their configuration from (TRUSTLINE_PKCS11_*, TRUSTLINE_AZURE_*). */
  readonly env: NodeJS.ProcessEnv;
}
