/**
 * PKCS#11 key backend: CA keys generated on a token or HSM (non-extractable, sensitive) and used
 * through `pkcs11js`. The token signs a digest computed here (SoftHSM2 has no CKM_ECDSA_SHA256),
 * and ECDSA's raw r||s is turned into the DER the certificates need. Each signature runs on a
 * session of its own, off the main thread, so batch issuance keeps several in flight.
 *
 * A home whose keys are all on the token has no passphrase, so the token also holds the key that
 * wraps the home's data key: an AES-256 secret key object, never extractable, used for AES-GCM on
 * the token (`createWrapper`). The data key is only ever in the clear in this process's memory.
 */
import { createPublicKey, hash as nodeHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { KeyAlgorithm } from "../../../policy/index.js";
import { TrustlineError } from "../../errors.js";
import type { KeyBackend, KeyRef, KeyWrapper } from "../backend.js";
import { SIGNATURE_ALGORITHMS, signatureAlgorithmFor, type Signer, signerHolds } from "../signer.js";
import { ecdsaRawToDer } from "../ecdsa-der.js";
import { formatKeyUri, type Pkcs11Uri, parsePkcs11Uri } from "./uri.js";

type Pkcs11Module = typeof import("pkcs11js");
type Pkcs11 = InstanceType<Pkcs11Module["PKCS11"]>;
type Handle = Buffer;

/** Session states (PKCS#11 CK_STATE) in which the user is logged in; pkcs11js does not export them. */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;

/** How many sessions (signatures in flight) one token gets: the two cores, and a little slack. */
const SESSIONS_PER_TOKEN = 4;

const CURVES = {
  p256: { oid: "06082a8648ce3d030107", jwk: "P-256", hash: "sha256", size: 32 },
  p384: { oid: "06052b81040022", jwk: "P-384", hash: "sha384", size: 48 },
} as const;
/** AES-GCM as the data key is wrapped: a fresh 96-bit IV each time, a 128-bit tag; stored iv || ciphertext || tag. */
const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
/**
 * Cryptoki answers to a decryption whose tag does not match: the standard ones, and what tokens
 * actually say (SoftHSM2 answers CKR_GENERAL_ERROR). Any other answer (a PIN, a missing token or
 * object, an unsupported mechanism) is about the token, and keeps its own error.
 */
const TAG_REFUSED = new Set(["CKR_ENCRYPTED_DATA_INVALID", "CKR_ENCRYPTED_DATA_LEN_RANGE", "CKR_GENERAL_ERROR", "CKR_FUNCTION_FAILED"]);

/** DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1): what CKM_RSA_PKCS signs. */
const SHA256_DIGEST_INFO = Buffer.from("3031300d060960864801650304020105000420", "hex");

let loadedPkcs11: Pkcs11Module | undefined;
function pkcs11js(): Pkcs11Module {
  if (!loadedPkcs11) {
    try {
      loadedPkcs11 = createRequire(import.meta.url)("pkcs11js") as Pkcs11Module;
    } catch (e) {
      throw new TrustlineError("KEY_UNAVAILABLE", "PKCS#11 support (the pkcs11js package, an optional dependency built by npm ci) is not installed; run npm ci on a machine with a C++ compiler", { cause: e });
    }
  }
  return loadedPkcs11;
}

/** A CKR_* code from pkcs11js, by name ("CKR_PIN_INCORRECT"), or undefined. */
function ckr(e: unknown): string | undefined {
  const message = (e as Error | undefined)?.message ?? "";
  return /^CKR_[A-Z_]+/.exec(message)?.[0];
}

/** Cryptoki errors, mapped in one place. */
function tokenError(e: unknown, doing: string, details: Record<string, unknown>): TrustlineError {
  if (e instanceof TrustlineError) return e;
  const code = ckr(e);
  if (code === "CKR_PIN_INCORRECT" || code === "CKR_PIN_LEN_RANGE") {
    return new TrustlineError("AUTH_REQUIRED", `the token refused the PIN while ${doing} (${code}); check TRUSTLINE_PKCS11_PIN or the PIN file`, { details: { ...details, reason: "wrong-pin" } });
  }
  if (code === "CKR_PIN_LOCKED" || code === "CKR_PIN_EXPIRED") return new TrustlineError("AUTH_REQUIRED", `the token's user PIN is ${code === "CKR_PIN_LOCKED" ? "locked" : "expired"} (${code}); the security officer must reset it`, { details: { ...details, reason: "pin-locked" } });
  if (code === "CKR_TOKEN_NOT_PRESENT" || code === "CKR_DEVICE_REMOVED" || code === "CKR_SESSION_HANDLE_INVALID" || code === "CKR_DEVICE_ERROR") {
    return new TrustlineError("KEY_UNAVAILABLE", `the token went away while ${doing} (${code})`, { cause: e, details });
  }
  return new TrustlineError("KEY_UNAVAILABLE", `the PKCS#11 token failed while ${doing}: ${code ?? (e as Error).message}`, { cause: e, details: { ...details, ...(code ? { ckr: code } : {}) } });
}

/** One loaded, initialised module per path, shared by every backend in the process. */
class LoadedModule {
  static readonly #byPath = new Map<string, LoadedModule>();
  readonly p11: Pkcs11;
  readonly path: string;
  #users = 0;

  private constructor(path: string) {
    const mod = pkcs11js();
    this.path = path;
    this.p11 = new mod.PKCS11();
    try {
      this.p11.load(path);
    } catch (e) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the PKCS#11 module ${path} will not load (${(e as Error).message.split("\n")[0]}); set TRUSTLINE_PKCS11_MODULE or module-path= to the token's module, e.g. /usr/lib/softhsm/libsofthsm2.so`, { cause: e, details: { module: path } });
    }
    try {
      // Signatures run on libuv's worker threads: the module must lock for itself (without this
      // flag a module may assume one thread, and SoftHSM2 crashes under concurrent sessions).
      this.p11.C_Initialize({ flags: mod.CKF_OS_LOCKING_OK });
    } catch (e) {
      if (ckr(e) !== "CKR_CRYPTOKI_ALREADY_INITIALIZED") throw tokenError(e, `initialising ${path}`, { module: path });
    }
  }

  static acquire(path: string): LoadedModule {
    let m = LoadedModule.#byPath.get(path);
    if (!m) {
      m = new LoadedModule(path);
      LoadedModule.#byPath.set(path, m);
    }
    m.#users++;
    return m;
  }

  release(): void {
    if (--this.#users > 0) return;
    LoadedModule.#byPath.delete(this.path);
    try {
      this.p11.C_Finalize();
      this.p11.close();
    } catch {
      /* already gone: nothing left to release */
    }
  }
}

/** A token's logged-in sessions: at most SESSIONS_PER_TOKEN, each running one operation at a time. */
class TokenSessions {
  readonly label: string;
  readonly #module: LoadedModule;
  readonly #slot: Handle;
  readonly #pin: () => string;
  readonly #idle: Handle[] = [];
  readonly #all: Handle[] = [];
  readonly #waiting: ((s: Handle) => void)[] = [];
  #busy = 0;
  readonly #drained: (() => void)[] = [];

  constructor(module: LoadedModule, label: string, pin: () => string) {
    this.#module = module;
    this.label = label;
    this.#pin = pin;
    const p11 = module.p11;
    const slots = p11.C_GetSlotList(true);
    const labels: string[] = [];
    let found: Handle | undefined;
    for (const slot of slots) {
      const tokenLabel = p11.C_GetTokenInfo(slot).label.replace(/[\s\0]+$/, "");
      labels.push(tokenLabel);
      if (tokenLabel === label) {
        if (found) throw new TrustlineError("USAGE", `two tokens are labelled "${label}"; relabel one`, { details: { token: label } });
        found = slot;
      }
    }
    if (!found) {
      throw new TrustlineError("KEY_UNAVAILABLE", `no PKCS#11 token labelled "${label}" in ${module.path}; tokens present: ${labels.map((l) => `"${l}"`).join(", ") || "none"}`, { details: { token: label, tokens: labels } });
    }
    this.#slot = found;
  }

  #open(): Handle {
    const mod = pkcs11js();
    const p11 = this.#module.p11;
    const session = p11.C_OpenSession(this.#slot, mod.CKF_SERIAL_SESSION | mod.CKF_RW_SESSION);
    // Login is the application's, shared by every session on the token, including another
    // backend's in this process: ask the new session whether it is logged in rather than remember.
    const state = p11.C_GetSessionInfo(session).state;
    if (state !== CKS_RO_USER_FUNCTIONS && state !== CKS_RW_USER_FUNCTIONS) {
      try {
        p11.C_Login(session, mod.CKU_USER, this.#pin());
      } catch (e) {
        if (ckr(e) !== "CKR_USER_ALREADY_LOGGED_IN") {
          p11.C_CloseSession(session);
          throw tokenError(e, `logging in to token "${this.label}"`, { token: this.label });
        }
      }
    }
    this.#all.push(session);
    return session;
  }

  /** Run `fn` on a session of its own. */
  async use<T>(fn: (session: Handle, p11: Pkcs11) => Promise<T> | T): Promise<T> {
    let session = this.#idle.pop();
    if (!session) {
      if (this.#all.length < SESSIONS_PER_TOKEN) session = this.#open();
      else session = await new Promise<Handle>((resolve) => this.#waiting.push(resolve));
    }
    this.#busy++;
    try {
      return await fn(session, this.#module.p11);
    } finally {
      this.#busy--;
      const next = this.#waiting.shift();
      if (next) next(session);
      else {
        this.#idle.push(session);
        if (this.#busy === 0) for (const resolve of this.#drained.splice(0)) resolve();
      }
    }
  }

  /**
   * Close this pool's sessions once no operation runs on them (a signature in flight runs on
   * another thread). Only its own: another backend in the process may share the module and token.
   */
  async close(): Promise<void> {
    if (this.#busy > 0) await new Promise<void>((resolve) => this.#drained.push(resolve));
    const p11 = this.#module.p11;
    for (const session of this.#all) {
      try {
        p11.C_CloseSession(session);
      } catch {
        /* the token is gone: its sessions with it */
      }
    }
    this.#all.length = 0;
    this.#idle.length = 0;
  }
}

function attribute(p11: Pkcs11, session: Handle, object: Handle, type: number): Buffer {
  return p11.C_GetAttributeValue(session, object, [{ type }])[0]!.value;
}

function findObjects(p11: Pkcs11, session: Handle, template: { type: number; value?: number | boolean | string | Buffer }[]): Handle[] {
  p11.C_FindObjectsInit(session, template);
  try {
    return p11.C_FindObjects(session, 16);
  } finally {
    p11.C_FindObjectsFinal(session);
  }
}

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** The SubjectPublicKeyInfo (canonical DER, via node) of a token's public key object. */
function spkiOfPublicObject(p11: Pkcs11, session: Handle, object: Handle): { spki: Uint8Array; algorithm: KeyAlgorithm } {
  const mod = pkcs11js();
  const keyType = attribute(p11, session, object, mod.CKA_KEY_TYPE).readUInt32LE(0);
  if (keyType === mod.CKK_EC) {
    const params = attribute(p11, session, object, mod.CKA_EC_PARAMS).toString("hex");
    const entry = (Object.entries(CURVES) as [KeyAlgorithm, (typeof CURVES)["p256"] | (typeof CURVES)["p384"]][]).find(([, c]) => c.oid === params);
    if (!entry) throw new TrustlineError("USAGE", "the token key is on a curve Trustline does not use (P-256 and P-384 only)");
    const [algorithm, curve] = entry;
    // CKA_EC_POINT is a DER OCTET STRING wrapping the uncompressed point 04 || x || y.
    const wrapped = attribute(p11, session, object, mod.CKA_EC_POINT);
    const point = wrapped[0] === 0x04 && wrapped.length === 2 * curve.size + 3 ? wrapped.subarray(2) : wrapped;
    if (point.length !== 2 * curve.size + 1 || point[0] !== 0x04) throw new TrustlineError("KEY_UNAVAILABLE", "the token's EC point is not an uncompressed point");
    const jwk = { kty: "EC", crv: curve.jwk, x: b64url(point.subarray(1, 1 + curve.size)), y: b64url(point.subarray(1 + curve.size)) };
    return { spki: new Uint8Array(createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "der" })), algorithm };
  }
  if (keyType === mod.CKK_RSA) {
    const n = attribute(p11, session, object, mod.CKA_MODULUS);
    const e = attribute(p11, session, object, mod.CKA_PUBLIC_EXPONENT);
    const bits = n.length * 8 - Math.clz32(n[0]!) + 24;
    const algorithm: KeyAlgorithm | undefined = bits === 2048 ? "rsa2048" : bits === 3072 ? "rsa3072" : bits === 4096 ? "rsa4096" : undefined;
    if (!algorithm) throw new TrustlineError("USAGE", `the token key is RSA-${bits}; Trustline signs with RSA 2048 (signers), 3072 or 4096`);
    return { spki: new Uint8Array(createPublicKey({ key: { kty: "RSA", n: b64url(n), e: b64url(e) }, format: "jwk" }).export({ type: "spki", format: "der" })), algorithm };
  }
  throw new TrustlineError("USAGE", "the token key is neither EC nor RSA");
}

export class Pkcs11Backend implements KeyBackend {
  readonly #env: NodeJS.ProcessEnv;
  readonly #modules = new Map<string, LoadedModule>();
  readonly #tokens = new Map<string, TokenSessions>();

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  #modulePath(uri: Pkcs11Uri): string {
    const path = uri.modulePath ?? this.#env.TRUSTLINE_PKCS11_MODULE;
    if (!path) throw new TrustlineError("KEY_UNAVAILABLE", "no PKCS#11 module given: set TRUSTLINE_PKCS11_MODULE (or module-path= in the key URI) to the token's module, e.g. /usr/lib/softhsm/libsofthsm2.so");
    return path;
  }

  /** The user PIN: pin-source=file: in the URI, TRUSTLINE_PKCS11_PIN_FILE, or TRUSTLINE_PKCS11_PIN. Never echoed. */
  #pin(uri: Pkcs11Uri): () => string {
    return () => {
      const file = uri.pinFile ?? this.#env.TRUSTLINE_PKCS11_PIN_FILE;
      if (file) {
        try {
          return readFileSync(file, "utf8").replace(/\r?\n$/, "");
        } catch (e) {
          throw new TrustlineError("AUTH_REQUIRED", `cannot read the PKCS#11 PIN file ${file}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`, { details: { reason: "no-pin" } });
        }
      }
      const pin = this.#env.TRUSTLINE_PKCS11_PIN;
      if (pin) return pin;
      throw new TrustlineError("AUTH_REQUIRED", `token "${uri.token}" needs its user PIN: set TRUSTLINE_PKCS11_PIN_FILE (a file holding it) or TRUSTLINE_PKCS11_PIN`, { details: { reason: "no-pin", token: uri.token } });
    };
  }

  #sessions(uri: Pkcs11Uri): TokenSessions {
    const path = this.#modulePath(uri);
    const id = `${path}\0${uri.token}`;
    let tokens = this.#tokens.get(id);
    if (!tokens) {
      // SoftHSM2 and others read their configuration from the process environment when initialised.
      if (this.#env.SOFTHSM2_CONF && !process.env.SOFTHSM2_CONF) process.env.SOFTHSM2_CONF = this.#env.SOFTHSM2_CONF;
      let module = this.#modules.get(path);
      if (!module) {
        module = LoadedModule.acquire(path);
        this.#modules.set(path, module);
      }
      tokens = new TokenSessions(module, uri.token, this.#pin(uri));
      this.#tokens.set(id, tokens);
    }
    return tokens;
  }

  async generate(algorithm: KeyAlgorithm, label: string, store: string): Promise<KeyRef> {
    const { where, object, id } = newObjectAt(label, store);
    const mod = pkcs11js();
    const tokens = this.#sessions(where);
    let handles: { privateKey: Handle; publicKey: Handle } | undefined;
    const publicKey = await tokens.use(async (session, p11) => {
      const common = [
        { type: mod.CKA_TOKEN, value: true },
        { type: mod.CKA_LABEL, value: object },
        { type: mod.CKA_ID, value: id },
      ];
      const privateTemplate = [...common, { type: mod.CKA_PRIVATE, value: true }, { type: mod.CKA_SENSITIVE, value: true }, { type: mod.CKA_EXTRACTABLE, value: false }, { type: mod.CKA_SIGN, value: true }, { type: mod.CKA_DECRYPT, value: false }, { type: mod.CKA_UNWRAP, value: false }, { type: mod.CKA_DERIVE, value: false }];
      let keys;
      try {
        if (algorithm === "p256" || algorithm === "p384") {
          keys = await p11.C_GenerateKeyPairAsync(session, { mechanism: mod.CKM_EC_KEY_PAIR_GEN }, [...common, { type: mod.CKA_VERIFY, value: true }, { type: mod.CKA_EC_PARAMS, value: Buffer.from(CURVES[algorithm].oid, "hex") }], privateTemplate);
        } else {
          const bits = algorithm === "rsa2048" ? 2048 : algorithm === "rsa3072" ? 3072 : 4096;
          keys = await p11.C_GenerateKeyPairAsync(session, { mechanism: mod.CKM_RSA_PKCS_KEY_PAIR_GEN }, [...common, { type: mod.CKA_VERIFY, value: true }, { type: mod.CKA_MODULUS_BITS, value: bits }, { type: mod.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) }], privateTemplate);
        }
      } catch (e) {
        throw tokenError(e, `generating a ${algorithm} key on token "${where.token}"`, { token: where.token });
      }
      handles = keys;
      return spkiOfPublicObject(p11, session, keys.publicKey).spki;
    });
    const ref: KeyRef = { uri: formatKeyUri(where, object, id), algorithm, publicKey };
    // Self-check once: the new key signs, and the signature holds under the public key read back.
    // A key that fails it is destroyed, so nothing unusable is left on the token.
    let holds = false;
    try {
      holds = await signerHolds(await this.signer(ref));
    } finally {
      if (!holds && handles) {
        const made = handles;
        await tokens.use((session, p11) => {
          p11.C_DestroyObject(session, made.privateKey);
          p11.C_DestroyObject(session, made.publicKey);
        }).catch(() => undefined);
      }
    }
    if (!holds) throw new TrustlineError("KEY_UNAVAILABLE", `the key made on token "${where.token}" (${object}) does not sign for its own public key; it was destroyed`, { details: { uri: ref.uri } });
    return ref;
  }

  /** The private key object and public key the URI names (exactly one). */
  async #locate(uri: string): Promise<{ where: Pkcs11Uri; privateKey: Handle; spki: Uint8Array; algorithm: KeyAlgorithm }> {
    const where = parsePkcs11Uri(uri);
    if (where.object === undefined && where.id === undefined) throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" names a token, not a key: add object=<label> (and id= when labels repeat)`);
    if (where.type === "secret-key") throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" names a key-encryption key (type=secret-key), not a signing key`);
    const mod = pkcs11js();
    return this.#sessions(where).use((session, p11) => {
      const select = [...(where.object !== undefined ? [{ type: mod.CKA_LABEL, value: where.object }] : []), ...(where.id !== undefined ? [{ type: mod.CKA_ID, value: Buffer.from(where.id) }] : [])];
      let privates: Handle[];
      let publics: Handle[];
      try {
        privates = findObjects(p11, session, [{ type: mod.CKA_CLASS, value: mod.CKO_PRIVATE_KEY }, ...select]);
        publics = findObjects(p11, session, [{ type: mod.CKA_CLASS, value: mod.CKO_PUBLIC_KEY }, ...select]);
      } catch (e) {
        throw tokenError(e, `looking for ${where.object ?? "the key"} on token "${where.token}"`, { token: where.token });
      }
      const named = `${where.object !== undefined ? `"${where.object}"` : "the key"}${where.id !== undefined ? ` (id ${Buffer.from(where.id).toString("hex")})` : ""}`;
      if (privates.length === 0) throw new TrustlineError("KEY_UNAVAILABLE", `token "${where.token}" has no private key ${named}`, { details: { token: where.token, ...(where.object !== undefined ? { object: where.object } : {}) } });
      if (privates.length > 1) throw new TrustlineError("USAGE", `token "${where.token}" has ${privates.length} private keys ${named}; add id= to the URI to name one`);
      if (publics.length !== 1) throw new TrustlineError("KEY_UNAVAILABLE", `token "${where.token}" has ${publics.length === 0 ? "no" : "several"} public key object${publics.length === 0 ? "" : "s"} for ${named}; Trustline reads the public key from exactly one`);
      const { spki, algorithm } = spkiOfPublicObject(p11, session, publics[0]!);
      return { where, privateKey: privates[0]!, spki, algorithm };
    });
  }

  async describe(uri: string): Promise<KeyRef> {
    const found = await this.#locate(uri);
    return { uri, algorithm: found.algorithm, publicKey: found.spki };
  }

  async signer(ref: KeyRef): Promise<Signer> {
    const found = await this.#locate(ref.uri);
    if (!Buffer.from(found.spki).equals(Buffer.from(ref.publicKey))) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the token key ${ref.uri} is not the key the CA certificate names (their public keys differ); was it replaced?`, { details: { uri: ref.uri } });
    }
    const algorithm = signatureAlgorithmFor(found.algorithm);
    const mod = pkcs11js();
    const tokens = this.#sessions(found.where);
    const ec = found.algorithm === "p256" || found.algorithm === "p384" ? CURVES[found.algorithm] : undefined;
    const mechanism = { mechanism: ec ? mod.CKM_ECDSA : mod.CKM_RSA_PKCS };
    const outLength = ec ? 2 * ec.size : found.algorithm === "rsa2048" ? 256 : found.algorithm === "rsa3072" ? 384 : 512;
    return {
      algorithm,
      publicKey: found.spki,
      sign: (data) =>
        tokens.use(async (session, p11) => {
          const digest = nodeHash(SIGNATURE_ALGORITHMS[algorithm].hash, data, "buffer");
          const input = ec ? digest : Buffer.concat([SHA256_DIGEST_INFO, digest]);
          try {
            p11.C_SignInit(session, mechanism, found.privateKey);
            const raw = await p11.C_SignAsync(session, input, Buffer.alloc(outLength));
            return ec ? ecdsaRawToDer(raw, ec.size) : new Uint8Array(raw);
          } catch (e) {
            throw tokenError(e, `signing with ${ref.uri.split("?")[0]}`, { uri: ref.uri });
          }
        }),
    };
  }

  /**
   * A new AES-256 key-encryption key on the token at `store`: sensitive, never extractable, for
   * encrypt/decrypt only. It is checked once (a value wraps and unwraps back) and destroyed if not.
   */
  async createWrapper(label: string, store: string): Promise<KeyWrapper> {
    const { where, object, id } = newObjectAt(label, store);
    const mod = pkcs11js();
    const tokens = this.#sessions(where);
    const handle = await tokens.use(async (session, p11) => {
      try {
        return await p11.C_GenerateKeyAsync(session, { mechanism: mod.CKM_AES_KEY_GEN }, [
          { type: mod.CKA_CLASS, value: mod.CKO_SECRET_KEY },
          { type: mod.CKA_KEY_TYPE, value: mod.CKK_AES },
          { type: mod.CKA_VALUE_LEN, value: 32 },
          { type: mod.CKA_TOKEN, value: true },
          { type: mod.CKA_PRIVATE, value: true },
          { type: mod.CKA_SENSITIVE, value: true },
          { type: mod.CKA_EXTRACTABLE, value: false },
          { type: mod.CKA_ENCRYPT, value: true },
          { type: mod.CKA_DECRYPT, value: true },
          { type: mod.CKA_WRAP, value: false },
          { type: mod.CKA_UNWRAP, value: false },
          { type: mod.CKA_SIGN, value: false },
          { type: mod.CKA_VERIFY, value: false },
          { type: mod.CKA_DERIVE, value: false },
          { type: mod.CKA_LABEL, value: object },
          { type: mod.CKA_ID, value: id },
        ]);
      } catch (e) {
        throw tokenError(e, `generating a key-encryption key on token "${where.token}"`, { token: where.token });
      }
    });
    const wrapper = this.#wrapperFor(formatKeyUri(where, object, id, "secret-key"), where, handle);
    let holds = false;
    try {
      const probe = randomBytes(32);
      holds = Buffer.from(await wrapper.unwrap(await wrapper.wrap(probe))).equals(probe);
    } finally {
      if (!holds) await tokens.use((session, p11) => p11.C_DestroyObject(session, handle)).catch(() => undefined);
    }
    if (!holds) throw new TrustlineError("KEY_UNAVAILABLE", `the key-encryption key made on token "${where.token}" (${object}) does not unwrap what it wraps; it was destroyed`, { details: { uri: wrapper.uri } });
    return wrapper;
  }

  /** The key-encryption key a `type=secret-key` URI names (exactly one AES secret key object). */
  async openWrapper(uri: string): Promise<KeyWrapper> {
    const where = parsePkcs11Uri(uri);
    if (where.type !== "secret-key") throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" does not name a key-encryption key: its URI has type=secret-key`);
    if (where.object === undefined && where.id === undefined) throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" names a token, not a key: add object=<label> (and id= when labels repeat)`);
    const mod = pkcs11js();
    const handle = await this.#sessions(where).use((session, p11) => {
      const select = [...(where.object !== undefined ? [{ type: mod.CKA_LABEL, value: where.object }] : []), ...(where.id !== undefined ? [{ type: mod.CKA_ID, value: Buffer.from(where.id) }] : [])];
      const named = `${where.object !== undefined ? `"${where.object}"` : "the key"}${where.id !== undefined ? ` (id ${Buffer.from(where.id).toString("hex")})` : ""}`;
      let found: Handle[];
      try {
        found = findObjects(p11, session, [{ type: mod.CKA_CLASS, value: mod.CKO_SECRET_KEY }, ...select]);
      } catch (e) {
        throw tokenError(e, `looking for ${named} on token "${where.token}"`, { token: where.token });
      }
      if (found.length === 0) throw new TrustlineError("KEY_UNAVAILABLE", `token "${where.token}" has no key-encryption key ${named}; the home's data key cannot be opened without it`, { details: { uri, token: where.token, ...(where.object !== undefined ? { object: where.object } : {}) } });
      if (found.length > 1) throw new TrustlineError("USAGE", `token "${where.token}" has ${found.length} secret keys ${named}; add id= to the URI to name one`);
      const keyType = attribute(p11, session, found[0]!, mod.CKA_KEY_TYPE).readUInt32LE(0);
      if (keyType !== mod.CKK_AES) throw new TrustlineError("KEY_UNAVAILABLE", `the secret key ${named} on token "${where.token}" is not an AES key`, { details: { uri } });
      return found[0]!;
    });
    return this.#wrapperFor(uri, where, handle);
  }

  /** AES-GCM with the token's key object: iv || ciphertext || tag, the IV fresh for each wrap. */
  #wrapperFor(uri: string, where: Pkcs11Uri, key: Handle): KeyWrapper {
    const mod = pkcs11js();
    const tokens = this.#sessions(where);
    const shown = uri.split("?")[0];
    const gcm = (iv: Buffer) => ({ mechanism: mod.CKM_AES_GCM, parameter: { type: mod.CK_PARAMS_GCM, iv, ivBits: GCM_IV_BYTES * 8, tagBits: GCM_TAG_BYTES * 8 } });
    const unwrapFailed = (cause?: unknown) =>
      new TrustlineError("KEY_UNAVAILABLE", `the token's key ${shown} does not open the home's data key: the wrapped value was altered, or it was wrapped by another key`, { ...(cause ? { cause } : {}), details: { uri, reason: "unwrap-failed" } });
    return {
      uri,
      wrap: (plaintext) =>
        tokens.use(async (session, p11) => {
          const iv = randomBytes(GCM_IV_BYTES);
          try {
            p11.C_EncryptInit(session, gcm(iv), key);
            const sealed = await p11.C_EncryptAsync(session, Buffer.from(plaintext), Buffer.alloc(plaintext.length + GCM_TAG_BYTES));
            return new Uint8Array(Buffer.concat([iv, sealed]));
          } catch (e) {
            throw tokenError(e, `wrapping with ${shown}`, { uri });
          }
        }),
      unwrap: (wrapped) =>
        tokens.use(async (session, p11) => {
          if (wrapped.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw unwrapFailed();
          const data = Buffer.from(wrapped);
          try {
            p11.C_DecryptInit(session, gcm(data.subarray(0, GCM_IV_BYTES)), key);
            return new Uint8Array(await p11.C_DecryptAsync(session, data.subarray(GCM_IV_BYTES), Buffer.alloc(data.length - GCM_IV_BYTES)));
          } catch (e) {
            const code = ckr(e);
            if (code !== undefined && TAG_REFUSED.has(code)) throw unwrapFailed(e);
            throw tokenError(e, `unwrapping with ${shown}`, { uri });
          }
        }),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#tokens.values()].map((t) => t.close()));
    this.#tokens.clear();
    for (const m of this.#modules.values()) m.release();
    this.#modules.clear();
  }
}

/**
 * Where a new object goes and what it is called: the token `store` names, a label with a random
 * suffix and a random id, so a retry after a failure never meets the half-made object of the first try.
 */
function newObjectAt(label: string, store: string): { where: ReturnType<typeof parsePkcs11Uri>; object: string; id: Buffer } {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(label)) throw new TrustlineError("USAGE", `key label "${label}" must be lowercase letters, digits and -`);
  const where = parsePkcs11Uri(store);
  if (where.object !== undefined || where.id !== undefined) throw new TrustlineError("USAGE", "a PKCS#11 key store names a token only (pkcs11:token=<label>); object= and id= name one key");
  return { where, object: `trustline-${label}-${randomBytes(3).toString("hex")}`, id: randomBytes(16) };
}
