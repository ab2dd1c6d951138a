/**
 * The default key backend: each CA key is an encrypted PKCS#8 PEM file under the home's keys/.
 * All keys of one home share the scrypt salt in the home's configuration, so a process derives
 * the key-encryption key once (~0.1 s) however many CA keys it opens; each file has its own IV.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { KeyAlgorithm } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer, toPem } from "../pem.js";
import { writeFileAtomic } from "../store/atomic.js";
import { DerError } from "../x509/der.js";
import { describePublicKey, generateKeyPair, spkiOf } from "../x509/keys.js";
import { createCipheriv, createDecipheriv, createPublicKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import type { KeyBackend, KeyRef, KeyWrapper, PassphraseSource } from "./backend.js";
import {
  decryptPrivateKey,
  deriveKey,
  encryptPrivateKey,
  paramsEqual,
  parseEncryptedPrivateKey,
  type ScryptParams,
  WrongPassphraseError,
} from "./encrypted-pkcs8.js";
import { keyObjectSigner, signatureAlgorithmFor, type Signer } from "./signer.js";
import { keyAlgorithmOf } from "../../policy/index.js";

export const FILE_KEY_SCHEME = "file:";
/** The passphrase-derived key-encryption key of a home (no file: it is derived each time). */
export const PASSPHRASE_WRAPPER_URI = "file:passphrase";

export class FileKeyBackend implements KeyBackend {
  readonly #home: string;
  readonly #kdf: ScryptParams;
  readonly #passphrase: PassphraseSource;
  readonly #derived = new Map<string, Promise<Buffer>>();

  constructor(home: string, kdf: ScryptParams, passphrase: PassphraseSource) {
    this.#home = home;
    this.#kdf = kdf;
    this.#passphrase = passphrase;
  }

  #kek(params: ScryptParams): Promise<Buffer> {
    const id = `${Buffer.from(params.salt).toString("hex")}:${params.cost}:${params.blockSize}:${params.parallelization}`;
    let p = this.#derived.get(id);
    if (!p) {
      p = this.#passphrase().then((pw) => {
        if (pw.length === 0) throw new TrustlineError("KEY_UNAVAILABLE", "the passphrase is empty", { details: { reason: "wrong-passphrase" } });
        return deriveKey(pw, params);
      });
      // A failed derivation (no passphrase) must not poison later attempts.
      p.catch(() => this.#derived.delete(id));
      this.#derived.set(id, p);
    }
    return p;
  }

  #path(uri: string): string {
    if (!uri.startsWith(FILE_KEY_SCHEME)) throw new TrustlineError("CONFIG_INVALID", `key URI "${uri}" is not a file: URI`);
    const rel = uri.slice(FILE_KEY_SCHEME.length);
    return isAbsolute(rel) ? rel : join(this.#home, rel);
  }

  async generate(algorithm: KeyAlgorithm, label: string, store: string = FILE_KEY_SCHEME): Promise<KeyRef> {
    if (store !== FILE_KEY_SCHEME) throw new TrustlineError("USAGE", `the file key store is "${FILE_KEY_SCHEME}" (keys in the home's keys/ folder), not "${store.slice(0, 60)}"`);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(label)) throw new TrustlineError("USAGE", `key label "${label}" must be lowercase letters, digits and -`);
    const kek = await this.#kek(this.#kdf);
    const { privateKey, publicKey } = await generateKeyPair(algorithm);
    const uri = `${FILE_KEY_SCHEME}keys/${label}.key.pem`;
    const path = this.#path(uri);
    mkdirSync(join(this.#home, "keys"), { recursive: true, mode: 0o700 });
    try {
      writeFileAtomic(path, toPem(encryptPrivateKey(privateKey, kek, this.#kdf), "ENCRYPTED PRIVATE KEY"), { exclusive: true, mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new TrustlineError("ALREADY_EXISTS", `a key file already exists at ${path}; refusing to overwrite it`);
      throw e;
    }
    return { uri, algorithm, publicKey: spkiOf(publicKey) };
  }

  /** An existing key file: opened (so the passphrase is asked) to read its public key. */
  async describe(uri: string): Promise<KeyRef> {
    const privateKey = await this.#open(uri);
    const algorithm = keyAlgorithmOf(describePublicKey(createPublicKey(privateKey)));
    if (!algorithm) throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${this.#path(uri)} holds an unsupported key type`, { details: { uri } });
    return { uri, algorithm, publicKey: spkiOf(createPublicKey(privateKey)) };
  }

  /**
   * The decrypted key, in memory only, for a consumer that must hold the key itself (node's TLS
   * layer, for the EST server's own key); checked against the public key `ref` names.
   */
  async privateKey(ref: KeyRef): Promise<KeyObject> {
    const privateKey = await this.#open(ref.uri);
    if (!Buffer.from(spkiOf(createPublicKey(privateKey))).equals(Buffer.from(ref.publicKey))) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${this.#path(ref.uri)} holds a different key than its certificate names; was it replaced?`, { details: { uri: ref.uri } });
    }
    return privateKey;
  }

  async signer(ref: KeyRef): Promise<Signer> {
    const path = this.#path(ref.uri);
    const privateKey = await this.#open(ref.uri);
    const publicKey = spkiOf(createPublicKey(privateKey));
    if (!Buffer.from(publicKey).equals(Buffer.from(ref.publicKey))) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${path} holds a different key than the CA certificate names; was it replaced?`, { details: { uri: ref.uri } });
    }
    const algorithm = keyAlgorithmOf(describePublicKey(createPublicKey(privateKey)));
    if (!algorithm) throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${path} holds an unsupported key type`);
    return keyObjectSigner(privateKey, signatureAlgorithmFor(algorithm), publicKey);
  }

  async close(): Promise<void> {
    this.#derived.clear();
  }

  /**
   * The passphrase as key-encryption key: AES-256-GCM under a key derived (HKDF) from the same
   * scrypt result that opens the key files, so no second slow derivation and no key used twice.
   */
  async createWrapper(_label: string, store: string = FILE_KEY_SCHEME): Promise<KeyWrapper> {
    if (store !== FILE_KEY_SCHEME) throw new TrustlineError("USAGE", `the file key store is "${FILE_KEY_SCHEME}", not "${store.slice(0, 60)}"`);
    return this.openWrapper(PASSPHRASE_WRAPPER_URI);
  }

  async openWrapper(uri: string): Promise<KeyWrapper> {
    if (uri !== PASSPHRASE_WRAPPER_URI) throw new TrustlineError("CONFIG_INVALID", `unknown file key-encryption key "${uri.slice(0, 60)}"`);
    const key = async () => Buffer.from(hkdfSync("sha256", await this.#kek(this.#kdf), Buffer.alloc(0), "trustline:data-key-wrap", 32));
    return {
      uri,
      wrap: async (plaintext) => {
        const iv = randomBytes(12);
        const cipher = createCipheriv("aes-256-gcm", await key(), iv);
        return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
      },
      unwrap: async (wrapped) => {
        const k = await key();
        try {
          if (wrapped.length < 12 + 16) throw new Error("short");
          const decipher = createDecipheriv("aes-256-gcm", k, wrapped.subarray(0, 12));
          decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
          return Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
        } catch {
          throw new TrustlineError("KEY_UNAVAILABLE", "wrong passphrase: it does not open the home's data key. Check --passphrase-file or TRUSTLINE_PASSPHRASE", { details: { uri, reason: "wrong-passphrase" } });
        }
      },
    };
  }

  /** Decrypt the key file `uri` names. */
  async #open(uri: string): Promise<KeyObject> {
    const ref = { uri };
    const path = this.#path(ref.uri);
    if (!existsSync(path)) throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${path} is missing`, { details: { uri: ref.uri } });
    let info;
    try {
      const der = derFromPemOrDer(readFileSync(path), ["ENCRYPTED PRIVATE KEY"]);
      if (!der) throw new DerError("no ENCRYPTED PRIVATE KEY block");
      info = parseEncryptedPrivateKey(der);
    } catch (e) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the key file ${path} is not an encrypted PKCS#8 key: ${(e as Error).message}`, { cause: e, details: { uri: ref.uri } });
    }
    const kek = await this.#kek(paramsEqual(info.params, this.#kdf) ? this.#kdf : info.params);
    let privateKey;
    try {
      privateKey = decryptPrivateKey(info, kek);
    } catch (e) {
      if (e instanceof WrongPassphraseError) {
        throw new TrustlineError("KEY_UNAVAILABLE", `wrong passphrase: it does not open the key ${ref.uri}. Check --passphrase-file or TRUSTLINE_PASSPHRASE`, {
          details: { uri: ref.uri, reason: "wrong-passphrase" },
        });
      }
      throw e;
    }
    return privateKey;
  }
}
