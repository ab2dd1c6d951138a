/**
 * The one place that maps a key URI's scheme to its backend. Remote backends are loaded on first
 * use, so a home whose keys are all files never loads the Azure SDK or the PKCS#11 module.
 */
import { TrustlineError } from "../errors.js";
import { type KeyAlgorithm, keyAlgorithmOf } from "../../policy/index.js";
import { describePublicKey, publicKeyFromSpki } from "../x509/keys.js";
import type { KeyBackend, KeyBackendContext, KeyRef, KeyWrapper } from "./backend.js";
import { FileKeyBackend } from "./file-backend.js";
import type { KeyObject } from "node:crypto";
import type { Signer } from "./signer.js";

export type KeyScheme = "file" | "azure-keyvault" | "pkcs11";

const LOADERS: Readonly<Record<KeyScheme, (context: KeyBackendContext) => Promise<KeyBackend>>> = {
  file: async (c) => {
    if (!c.kdf || !c.passphrase) throw new TrustlineError("USAGE", "file: key URIs name keys inside a CA home; give a key file path instead");
    return new FileKeyBackend(c.homeDir, { ...c.kdf, salt: Buffer.from(c.kdf.salt) }, c.passphrase);
  },
  "azure-keyvault": async (c) => new (await import("./azure-keyvault/backend.js")).AzureKeyVaultBackend(c.env),
  pkcs11: async (c) => new (await import("./pkcs11/backend.js")).Pkcs11Backend(c.env),
};

/** The default store of new keys: encrypted files in the home. */
export const DEFAULT_KEY_STORE = "file:";

/** The scheme of a key URI or store, or a USAGE error naming the ones there are. */
export function keyScheme(uri: string): KeyScheme {
  const m = /^([a-z][a-z0-9+.-]*):/.exec(uri);
  const scheme = m?.[1];
  if (scheme === "file" || scheme === "azure-keyvault" || scheme === "pkcs11") return scheme;
  const shown = uri.length > 60 ? `${uri.slice(0, 60)}…` : uri;
  throw new TrustlineError("USAGE", `"${shown.replace(/[\u0000-\u001f\u007f]/g, "?")}" is not a key URI: use file:, azure-keyvault://<vault-host>/keys/<name> or pkcs11:token=<label>;object=<label>`);
}

/** Every backend behind one face: the home's `keys`. */
export class KeyBackends {
  readonly #context: KeyBackendContext;
  readonly #loaded = new Map<KeyScheme, Promise<KeyBackend>>();

  constructor(context: KeyBackendContext) {
    this.#context = context;
  }

  #backend(uri: string): Promise<KeyBackend> {
    const scheme = keyScheme(uri);
    let backend = this.#loaded.get(scheme);
    if (!backend) {
      backend = LOADERS[scheme](this.#context);
      backend.catch(() => this.#loaded.delete(scheme));
      this.#loaded.set(scheme, backend);
    }
    return backend;
  }

  /** A new key at `store` (default: files in the home). */
  async generate(algorithm: KeyAlgorithm, label: string, store: string = DEFAULT_KEY_STORE): Promise<KeyRef> {
    return (await this.#backend(store)).generate(algorithm, label, store);
  }

  /** An existing key named by its URI. */
  async describe(uri: string): Promise<KeyRef> {
    return (await this.#backend(uri)).describe(uri);
  }

  async signer(ref: KeyRef): Promise<Signer> {
    return (await this.#backend(ref.uri)).signer(ref);
  }

  /**
   * A file key of the home, decrypted in memory (the EST server's TLS key: node's TLS layer needs
   * the key itself). Only file keys: a vault or token key never leaves its backend.
   */
  async fileKey(ref: KeyRef): Promise<KeyObject> {
    if (keyScheme(ref.uri) !== "file") throw new TrustlineError("CONFIG_INVALID", `the key ${ref.uri.slice(0, 60)} is not a file key of the home; only file keys can be handed to TLS`);
    const backend = await this.#backend(ref.uri);
    if (!(backend instanceof FileKeyBackend)) throw new TrustlineError("CONFIG_INVALID", "the file key backend is not available");
    return backend.privateKey(ref);
  }

  /** A new key-encryption key at `store` (the data key's wrapper). */
  async createWrapper(label: string, store: string = DEFAULT_KEY_STORE): Promise<KeyWrapper> {
    const backend = await this.#backend(store);
    if (!backend.createWrapper) throw new TrustlineError("CONFIG_INVALID", `the ${keyScheme(store)} key backend cannot wrap the home's data key`);
    return backend.createWrapper(label, store);
  }

  /** The key-encryption key named by `uri`. */
  async openWrapper(uri: string): Promise<KeyWrapper> {
    const backend = await this.#backend(uri);
    if (!backend.openWrapper) throw new TrustlineError("CONFIG_INVALID", `the ${keyScheme(uri)} key backend cannot unwrap the home's data key`);
    return backend.openWrapper(uri);
  }

  /** Release every loaded backend's sessions and connections. */
  async close(): Promise<void> {
    const backends = [...this.#loaded.values()];
    this.#loaded.clear();
    await Promise.all(backends.map(async (b) => (await b.catch(() => undefined))?.close()));
  }
}

/** Whether `text` names a key in a remote backend (a vault key or a token object) rather than a file path. */
export function isRemoteKeyUri(text: string): boolean {
  return /^(azure-keyvault|pkcs11):/.test(text);
}

/**
 * A Signer for a key outside any CA home (a CI pipeline's firmware-signing key in Key Vault or on
 * a token), checked against the certificate's public key. `close` releases the backend.
 */
export async function openRemoteSigner(uri: string, publicKey: Uint8Array, env: NodeJS.ProcessEnv = process.env): Promise<{ signer: Signer; close: () => Promise<void> }> {
  if (!isRemoteKeyUri(uri)) throw new TrustlineError("USAGE", `"${uri.slice(0, 60)}" is not a vault or token key URI`);
  const algorithm = keyAlgorithmOf(describePublicKey(publicKeyFromSpki(publicKey)));
  if (!algorithm) throw new TrustlineError("INPUT_INVALID", "the signer certificate's key is not P-256, P-384 or RSA 3072/4096");
  const backends = new KeyBackends({ homeDir: process.cwd(), env });
  try {
    return { signer: await backends.signer({ uri, algorithm, publicKey }), close: () => backends.close() };
  } catch (e) {
    await backends.close();
    throw e;
  }
}
