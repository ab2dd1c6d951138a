/**
 * The one place that maps a key URI's scheme to its backend. Remote backends are loaded on first
 * use, so a home whose keys are all files never loads the Azure SDK or the PKCS#11 module.
 */
import { TrustlineError } from "../errors.js";
import type { KeyAlgorithm } from "../../policy/index.js";
import type { KeyBackend, KeyBackendContext, KeyRef } from "./backend.js";
import { FileKeyBackend } from "./file-backend.js";
import type { Signer } from "./signer.js";

export type KeyScheme = "file" | "azure-keyvault" | "pkcs11";

const LOADERS: Readonly<Record<KeyScheme, (context: KeyBackendContext) => Promise<KeyBackend>>> = {
  file: async (c) => new FileKeyBackend(c.homeDir, { ...c.kdf, salt: Buffer.from(c.kdf.salt) }, c.passphrase),
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

  /** Release every loaded backend's sessions and connections. */
  async close(): Promise<void> {
    const backends = [...this.#loaded.values()];
    this.#loaded.clear();
    await Promise.all(backends.map(async (b) => (await b.catch(() => undefined))?.close()));
  }
}
