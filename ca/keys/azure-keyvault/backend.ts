/**
 * Azure Key Vault key backend: CA keys created in the vault (software or HSM key types, never
 * exportable), used through @azure/keyvault-keys. Hashing stays here: the vault receives a digest
 * and returns a signature, which is verified locally before anything is signed with it (a wrong or
 * malformed answer must never reach a certificate). ECDSA's r||s is turned into DER.
 *
 * A home whose keys are all in the vault has no passphrase, so the vault also holds the key that
 * wraps the home's data key: an RSA key allowed only wrapKey and unwrapKey (RSA-OAEP-256), so
 * reading the home without the vault's permission to unwrap yields nothing.
 */
import { createPublicKey, hash as nodeHash, type KeyObject, randomBytes, verify as nodeVerify } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import { CryptographyClient, type KeyVaultKey, KeyClient } from "@azure/keyvault-keys";
import type { KeyAlgorithm } from "../../../policy/index.js";
import { TrustlineError } from "../../errors.js";
import type { KeyBackend, KeyRef, KeyWrapper } from "../backend.js";
import { ecdsaRawToDer } from "../ecdsa-der.js";
import { SIGNATURE_ALGORITHMS, signatureAlgorithmFor, type Signer } from "../signer.js";
import { credentialFor, TokenRedactor } from "./credential.js";
import { Pacer, ThrottleBudgetExceeded } from "./pacer.js";
import { formatVaultKeyUri, parseVaultKeyUri, type VaultKeyUri } from "./uri.js";

/** Signatures in flight per key: enough to hide tens of ms of latency at the service's limit. */
const MAX_IN_FLIGHT = 32;
/** How long one signature may wait out throttling in total before the operation fails. */
const THROTTLE_BUDGET_MS = 120_000;

const JWA: Record<KeyAlgorithm, "ES256" | "ES384" | "RS256"> = { p256: "ES256", p384: "ES384", rsa2048: "RS256", rsa3072: "RS256", rsa4096: "RS256" };

interface RestErrorLike {
  readonly statusCode?: number;
  readonly code?: string;
  readonly response?: { readonly headers: { get(name: string): string | undefined } };
}

/** Milliseconds to wait when the vault throttled this request (429, or 503 with Retry-After), else undefined. */
function throttledFor(e: unknown): number | undefined {
  const r = e as RestErrorLike;
  if (r?.statusCode !== 429 && !(r?.statusCode === 503 && r.response?.headers.get("retry-after"))) return undefined;
  const header = r.response?.headers.get("retry-after");
  const seconds = header !== undefined && /^\d+$/.test(header) ? Number(header) : NaN;
  if (Number.isFinite(seconds)) return Math.min(seconds, 60) * 1000;
  const date = header ? Date.parse(header) : NaN;
  return Number.isFinite(date) ? Math.min(60_000, Math.max(0, date - Date.now())) : 1000;
}

/** Vault errors, mapped in one place. `permission` is what the operation needs (keys/create, keys/get, keys/sign). */
function vaultError(e: unknown, doing: string, permission: string, details: Record<string, unknown>, redact: (text: string) => string): TrustlineError {
  if (e instanceof TrustlineError) return e;
  if (e instanceof ThrottleBudgetExceeded) return new TrustlineError("REMOTE_UNAVAILABLE", `Key Vault kept throttling while ${doing} (${e.message}); lower the rate (fewer stations per vault) or raise the vault's limits`, { details });
  const r = e as RestErrorLike;
  const status = r?.statusCode;
  if (status === 401 || status === 403) {
    return new TrustlineError("AUTH_REQUIRED", `Key Vault refused ${doing} (HTTP ${status}): the identity needs the ${permission} permission on the vault (an access policy, or the RBAC role "Key Vault Crypto User"/"Crypto Officer"); sign in with az login, a managed identity or TRUSTLINE_AZURE_TOKEN_FILE`, { details: { ...details, status, permission } });
  }
  if (status === 404) return new TrustlineError("KEY_UNAVAILABLE", `Key Vault has no such key while ${doing} (HTTP 404); check the key URI, or whether the key was deleted`, { details: { ...details, status } });
  if (status !== undefined) return new TrustlineError("REMOTE_UNAVAILABLE", `Key Vault failed while ${doing} (HTTP ${status}${r.code ? ` ${redact(r.code)}` : ""})`, { details: { ...details, status } });
  const code = (e as NodeJS.ErrnoException)?.code ?? r?.code;
  // Text from outside (the SDK, the network stack) may quote a request: no token leaves in it.
  const message = redact(e instanceof Error ? (e.message.split("\n")[0] ?? "") : String(e));
  // The credential chain failing (no az login, no managed identity) comes back as an Error of @azure/identity.
  if ((e as Error)?.name === "CredentialUnavailableError" || (e as Error)?.name === "AuthenticationError" || (e as Error)?.name === "AggregateAuthenticationError") {
    return new TrustlineError("AUTH_REQUIRED", `no Azure identity to reach Key Vault while ${doing}: sign in with az login, use a managed identity, or set TRUSTLINE_AZURE_TOKEN_FILE`, { details });
  }
  return new TrustlineError("REMOTE_UNAVAILABLE", `cannot reach Key Vault while ${doing}: ${code ? redact(String(code)) : message}`, { details });
}

/** The SubjectPublicKeyInfo (canonical DER, via node) and algorithm of a vault key. */
function publicKeyOf(key: KeyVaultKey): { spki: Uint8Array; algorithm: KeyAlgorithm; publicKey: KeyObject } {
  const jwk = key.key;
  const b64 = (v: Uint8Array | undefined) => Buffer.from(v ?? []).toString("base64url");
  let publicKey: KeyObject;
  let algorithm: KeyAlgorithm | undefined;
  if (jwk?.kty === "EC" || jwk?.kty === "EC-HSM") {
    if (jwk.crv !== "P-256" && jwk.crv !== "P-384") throw new TrustlineError("USAGE", `the vault key ${key.name} is on ${jwk.crv}; Trustline CA keys are P-256, P-384 or RSA 3072/4096`);
    algorithm = jwk.crv === "P-256" ? "p256" : "p384";
    publicKey = createPublicKey({ key: { kty: "EC", crv: jwk.crv, x: b64(jwk.x), y: b64(jwk.y) }, format: "jwk" });
  } else if (jwk?.kty === "RSA" || jwk?.kty === "RSA-HSM") {
    publicKey = createPublicKey({ key: { kty: "RSA", n: b64(jwk.n), e: b64(jwk.e) }, format: "jwk" });
    const bits = publicKey.asymmetricKeyDetails?.modulusLength;
    algorithm = bits === 2048 ? "rsa2048" : bits === 3072 ? "rsa3072" : bits === 4096 ? "rsa4096" : undefined;
    if (!algorithm) throw new TrustlineError("USAGE", `the vault key ${key.name} is RSA-${bits}; Trustline signs with RSA 2048 (signers), 3072 or 4096`);
  } else {
    throw new TrustlineError("USAGE", `the vault key ${key.name} is of type ${jwk?.kty ?? "unknown"}; Trustline uses EC and RSA keys`);
  }
  return { spki: new Uint8Array(publicKey.export({ type: "spki", format: "der" })), algorithm, publicKey };
}

export class AzureKeyVaultBackend implements KeyBackend {
  readonly #env: NodeJS.ProcessEnv;
  readonly #redactor = new TokenRedactor();
  /** Key reads and creation wait out throttling too (signing has a pacer per key). */
  readonly #requests = new Pacer({ maxInFlight: MAX_IN_FLIGHT, throttleBudgetMs: THROTTLE_BUDGET_MS });
  #credential: TokenCredential | undefined;
  readonly #clients = new Map<string, KeyClient>();

  constructor(env: NodeJS.ProcessEnv) {
    this.#env = env;
  }

  async #credentials(): Promise<TokenCredential> {
    this.#credential ??= await credentialFor(this.#env, this.#redactor);
    return this.#credential;
  }

  /** Client options: pacing is ours (no SDK retries), and a loopback vault's challenge names another resource. */
  #options(vault: VaultKeyUri) {
    return { retryOptions: { maxRetries: 0 }, ...(vault.loopback ? { disableChallengeResourceVerification: true } : {}) };
  }

  async #client(vault: VaultKeyUri): Promise<KeyClient> {
    let client = this.#clients.get(vault.vaultUrl);
    if (!client) {
      client = new KeyClient(vault.vaultUrl, await this.#credentials(), this.#options(vault));
      this.#clients.set(vault.vaultUrl, client);
    }
    return client;
  }

  async generate(algorithm: KeyAlgorithm, label: string, store: string): Promise<KeyRef> {
    const { vault, name } = newKeyAt(label, store);
    const client = await this.#client(vault);
    let key: KeyVaultKey;
    try {
      key =
        algorithm === "p256" || algorithm === "p384"
          ? await this.#requests.run(() => client.createEcKey(name, { curve: algorithm === "p256" ? "P-256" : "P-384", hsm: vault.hsm, keyOps: ["sign", "verify"] }), throttledFor)
          : await this.#requests.run(() => client.createRsaKey(name, { keySize: algorithm === "rsa2048" ? 2048 : algorithm === "rsa3072" ? 3072 : 4096, hsm: vault.hsm, keyOps: ["sign", "verify"] }), throttledFor);
    } catch (e) {
      throw vaultError(e, `creating key ${name}`, "keys/create", { vault: vault.host }, (t) => this.#redactor.redact(t));
    }
    const version = key.properties.version;
    if (!version) throw new TrustlineError("REMOTE_UNAVAILABLE", `Key Vault created ${name} without a version`);
    const { spki, algorithm: made } = publicKeyOf(key);
    if (made !== algorithm) throw new TrustlineError("REMOTE_UNAVAILABLE", `Key Vault made a ${made} key when ${algorithm} was asked for`);
    const ref: KeyRef = { uri: formatVaultKeyUri(vault, name, version), algorithm, publicKey: spki };
    // Self-check once: the new key signs, and the signature holds under the public key read back.
    await (await this.signer(ref)).sign(randomBytes(32));
    return ref;
  }

  async #get(uri: string): Promise<{ vault: VaultKeyUri; key: KeyVaultKey }> {
    const vault = parseVaultKeyUri(uri);
    if (vault.name === undefined) throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" names a vault, not a key: add the key name after /keys/`);
    const client = await this.#client(vault);
    try {
      return { vault, key: await this.#requests.run(() => client.getKey(vault.name!, vault.version ? { version: vault.version } : {}), throttledFor) };
    } catch (e) {
      throw vaultError(e, `reading key ${vault.name}`, "keys/get", { uri }, (t) => this.#redactor.redact(t));
    }
  }

  async describe(uri: string): Promise<KeyRef> {
    const { key } = await this.#get(uri);
    const { spki, algorithm } = publicKeyOf(key);
    return { uri, algorithm, publicKey: spki };
  }

  async signer(ref: KeyRef): Promise<Signer> {
    const { vault, key } = await this.#get(ref.uri);
    const { spki, algorithm, publicKey } = publicKeyOf(key);
    if (!Buffer.from(spki).equals(Buffer.from(ref.publicKey))) {
      throw new TrustlineError("KEY_UNAVAILABLE", `the vault key ${ref.uri} is not the key the certificate names (their public keys differ); was it rotated or replaced?`, { details: { uri: ref.uri } });
    }
    if (key.keyOperations && !key.keyOperations.includes("sign")) throw new TrustlineError("KEY_UNAVAILABLE", `the vault key ${ref.uri} does not allow sign (key_ops ${key.keyOperations.join(", ")})`, { details: { uri: ref.uri } });
    const signatureAlgorithm = signatureAlgorithmFor(algorithm);
    const hashName = SIGNATURE_ALGORITHMS[signatureAlgorithm].hash;
    const jwa = JWA[algorithm];
    // One client per key: each new one repeats the bearer challenge.
    const crypto = new CryptographyClient(key, await this.#credentials(), this.#options(vault));
    const pacer = new Pacer({ maxInFlight: MAX_IN_FLIGHT, throttleBudgetMs: THROTTLE_BUDGET_MS });
    const fieldBytes = algorithm === "p256" ? 32 : algorithm === "p384" ? 48 : 0;
    return {
      algorithm: signatureAlgorithm,
      publicKey: spki,
      sign: async (data) => {
        const digest = nodeHash(hashName, data, "buffer");
        let raw: Uint8Array;
        try {
          raw = (await pacer.run(() => crypto.sign(jwa, digest), throttledFor)).result;
        } catch (e) {
          throw vaultError(e, `signing with ${ref.uri}`, "keys/sign", { uri: ref.uri }, (t) => this.#redactor.redact(t));
        }
        let signature: Uint8Array;
        try {
          signature = fieldBytes ? ecdsaRawToDer(raw, fieldBytes) : raw;
        } catch {
          signature = new Uint8Array();
        }
        // The vault's answer is checked before anything is signed with it.
        if (signature.length === 0 || !nodeVerify(hashName, data, publicKey, signature)) {
          throw new TrustlineError("KEY_UNAVAILABLE", `Key Vault returned a signature that does not verify under ${ref.uri}'s public key; nothing was signed with it`, { details: { uri: ref.uri, reason: "bad-signature" } });
        }
        return signature;
      },
    };
  }

  /**
   * A new RSA 3072 key-encryption key in the vault at `store` (RSA-HSM when the store asks for
   * hsm=true), allowed to wrapKey and unwrapKey only, checked once (a value wraps and unwraps back).
   */
  async createWrapper(label: string, store: string): Promise<KeyWrapper> {
    const { vault, name } = newKeyAt(label, store);
    const client = await this.#client(vault);
    let key: KeyVaultKey;
    try {
      key = await this.#requests.run(() => client.createRsaKey(name, { keySize: 3072, hsm: vault.hsm, keyOps: ["wrapKey", "unwrapKey"] }), throttledFor);
    } catch (e) {
      throw vaultError(e, `creating key-encryption key ${name}`, "keys/create", { vault: vault.host }, (t) => this.#redactor.redact(t));
    }
    const version = key.properties.version;
    if (!version) throw new TrustlineError("REMOTE_UNAVAILABLE", `Key Vault created ${name} without a version`);
    const wrapper = await this.#wrapperFor(formatVaultKeyUri(vault, name, version), vault, key);
    const probe = randomBytes(32);
    if (!Buffer.from(await wrapper.unwrap(await wrapper.wrap(probe))).equals(probe)) {
      throw new TrustlineError("KEY_UNAVAILABLE", `Key Vault's key-encryption key ${wrapper.uri} does not unwrap what it wraps`, { details: { uri: wrapper.uri, reason: "unwrap-failed" } });
    }
    return wrapper;
  }

  /** The key-encryption key a versioned vault key URI names. */
  async openWrapper(uri: string): Promise<KeyWrapper> {
    const parsed = parseVaultKeyUri(uri);
    // The wrapped value is bound to one key version: a rotated key must not silently stand in for it.
    if (parsed.name === undefined || parsed.version === undefined) throw new TrustlineError("USAGE", `"${uri.slice(0, 80)}" does not name one key version: a key-encryption key URI is azure-keyvault://<vault-host>/keys/<name>/<version>`);
    const { vault, key } = await this.#get(uri);
    return this.#wrapperFor(uri, vault, key);
  }

  /** RSA-OAEP-256 through the vault: the unwrapping key never leaves it. */
  async #wrapperFor(uri: string, vault: VaultKeyUri, key: KeyVaultKey): Promise<KeyWrapper> {
    if (key.key?.kty !== "RSA" && key.key?.kty !== "RSA-HSM") throw new TrustlineError("KEY_UNAVAILABLE", `the vault key ${uri} is not an RSA key, so it cannot wrap the home's data key`, { details: { uri } });
    const ops = key.keyOperations ?? [];
    if (!ops.includes("wrapKey") || !ops.includes("unwrapKey")) throw new TrustlineError("KEY_UNAVAILABLE", `the vault key ${uri} does not allow wrapKey and unwrapKey (key_ops ${ops.join(", ") || "none"})`, { details: { uri } });
    const crypto = new CryptographyClient(key, await this.#credentials(), this.#options(vault));
    const redact = (t: string) => this.#redactor.redact(t);
    return {
      uri,
      wrap: async (plaintext) => {
        try {
          return (await this.#requests.run(() => crypto.wrapKey("RSA-OAEP-256", plaintext), throttledFor)).result;
        } catch (e) {
          throw vaultError(e, `wrapping with ${uri}`, "keys/wrapKey", { uri }, redact);
        }
      },
      unwrap: async (wrapped) => {
        try {
          return (await this.#requests.run(() => crypto.unwrapKey("RSA-OAEP-256", wrapped), throttledFor)).result;
        } catch (e) {
          // The vault answers 400 for a value that does not decrypt under its key (altered, or another key's).
          if ((e as RestErrorLike)?.statusCode === 400) {
            throw new TrustlineError("KEY_UNAVAILABLE", `Key Vault's key ${uri} does not open the home's data key: the wrapped value was altered, or it was wrapped by another key`, { details: { uri, reason: "unwrap-failed" } });
          }
          throw vaultError(e, `unwrapping with ${uri}`, "keys/unwrapKey", { uri }, redact);
        }
      },
    };
  }

  async close(): Promise<void> {
    this.#clients.clear();
    const credential = this.#credential as { close?: () => Promise<void> } | undefined;
    this.#credential = undefined;
    await credential?.close?.();
  }
}

/** The vault `store` names and a new key's name: the label with a random suffix, so a retry never adds a version to the key a failed attempt made. */
function newKeyAt(label: string, store: string): { vault: ReturnType<typeof parseVaultKeyUri>; name: string } {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(label)) throw new TrustlineError("USAGE", `key label "${label}" must be lowercase letters, digits and -`);
  const vault = parseVaultKeyUri(store);
  if (vault.name !== undefined) throw new TrustlineError("USAGE", "a Key Vault key store ends in /keys/ (azure-keyvault://<vault-host>/keys/); a name there names one key");
  return { vault, name: `trustline-${label}-${randomBytes(3).toString("hex")}` };
}
