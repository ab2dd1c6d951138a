/**
 * A loopback Azure Key Vault speaking what the real @azure/keyvault-keys client sends: the bearer
 * challenge (401 + WWW-Authenticate, then the request again with a token), key create, get and
 * sign. It holds real keys and signs the digest it is given for real (ECDSA r||s with
 * @noble/curves, since node:crypto cannot sign a digest without hashing it again; RSA PKCS#1 v1.5
 * over a DigestInfo), and wraps and unwraps with RSA-OAEP-256 for real (node:crypto), honouring
 * each key's key_ops as the service does. Knobs for tests and the benchmark: added latency, a sliding-window limit on
 * signatures answered with 429 + Retry-After as the service does, scripted failures, and
 * malformed signatures.
 */
import { constants, generateKeyPairSync, type KeyObject, privateDecrypt, privateEncrypt, publicEncrypt, randomBytes } from "node:crypto";
import { p256, p384 } from "@noble/curves/nist.js";
import { type JsonLoopback, type JsonRequest, startJsonLoopback } from "./loopback-tls.js";

export interface FakeKeyVaultOptions {
  /** Added to every answer (ms). */
  readonly latencyMs?: number;
  /**
   * The sign limit, per second: enforced as the service does, per 10-second window (e.g. 200/s is
   * 2,000 signatures in any 10 s); beyond: 429 with Retry-After (whole seconds).
   */
  readonly signsPerSecond?: number;
  /** The token the vault accepts (default "test-token"). */
  readonly token?: string;
}

interface StoredKey {
  readonly kty: "EC" | "RSA" | "EC-HSM" | "RSA-HSM";
  readonly crv?: "P-256" | "P-384";
  readonly privateKey: KeyObject;
  readonly publicJwk: Record<string, unknown>;
  readonly version: string;
  /** What the key may do (the create request's key_ops; sign and verify when none were asked for). */
  readonly keyOps: readonly string[];
}

export interface FakeKeyVault {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  /** The server's TLS certificate (PEM): NODE_EXTRA_CA_CERTS for the client processes. */
  readonly certificate: string;
  readonly loopback: JsonLoopback;
  readonly counts: { signs: number; throttled: number; challenges: number; creates: number; wraps: number; unwraps: number };
  /** Answer the next `count` authorised requests with `status` (and an Azure error body). */
  failNext(status: number, count: number, headers?: Record<string, string>): void;
  /** Forget the scripted failures not used yet. */
  clearFailures(): void;
  /** Return signatures that do not verify. */
  malformedSignatures: boolean;
  /** Add a key as if imported (e.g. a CA's existing key): returns its name and version. */
  importKey(name: string, privateKey: KeyObject): { name: string; version: string };
  close(): Promise<void>;
}

/** Key Vault's throttling window ("per 10 seconds", Azure's service limits). */
const WINDOW_MS = 10_000;

const DIGEST_INFO: Record<number, Buffer> = {
  32: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  48: Buffer.from("3041300d060960864801650304020205000430", "hex"),
};

export async function startFakeKeyVault(options: FakeKeyVaultOptions = {}): Promise<FakeKeyVault> {
  const token = options.token ?? "test-token";
  const keys = new Map<string, StoredKey[]>();
  const counts = { signs: 0, throttled: 0, challenges: 0, creates: 0, wraps: 0, unwraps: 0 };
  const failures: { status: number; headers: Record<string, string> }[] = [];
  const signedAt: number[] = [];
  let url = "";

  const bundle = (name: string, k: StoredKey) => ({
    key: { kid: `${url}/keys/${name}/${k.version}`, kty: k.kty, key_ops: k.keyOps, ...k.publicJwk },
    attributes: { enabled: true, created: Math.floor(Date.now() / 1000), updated: Math.floor(Date.now() / 1000), recoveryLevel: "Recoverable+Purgeable" },
  });
  const store = (name: string, kty: StoredKey["kty"], privateKey: KeyObject, crv?: StoredKey["crv"], keyOps: readonly string[] = ["sign", "verify"]): StoredKey => {
    const jwk = privateKey.export({ format: "jwk" }) as Record<string, unknown>;
    const publicJwk = kty.startsWith("EC") ? { crv, x: jwk.x, y: jwk.y } : { n: jwk.n, e: jwk.e };
    const k: StoredKey = { kty, ...(crv ? { crv } : {}), privateKey, publicJwk, version: randomBytes(16).toString("hex"), keyOps };
    keys.set(name, [...(keys.get(name) ?? []), k]);
    return k;
  };
  const find = (name: string, version: string | undefined) => {
    const versions = keys.get(name);
    return version ? versions?.find((k) => k.version === version) : versions?.at(-1);
  };
  const notFound = (r: JsonRequest, name: string) => r.reply(404, { error: { code: "KeyNotFound", message: `A key with (name/id) ${name} was not found in this key vault.` } });
  const forbiddenOperation = (r: JsonRequest, operation: string) => r.reply(403, { error: { code: "Forbidden", message: `Operation ${operation} is not allowed on this key.` } });
  const badParameter = (r: JsonRequest, message: string) => r.reply(400, { error: { code: "BadParameter", message } });
  /** The requested key_ops, or undefined for none (the key may then sign and verify, as before). */
  const requestedOps = (body: Record<string, unknown>): string[] | undefined => (Array.isArray(body.key_ops) ? body.key_ops.map(String) : undefined);

  const sign = (k: StoredKey, alg: string, digest: Buffer): Buffer => {
    if (k.kty.startsWith("EC")) {
      const d = Buffer.from((k.privateKey.export({ format: "jwk" }) as { d: string }).d, "base64url");
      const curve = k.crv === "P-384" ? p384 : p256;
      const want = k.crv === "P-384" ? "ES384" : "ES256";
      if (alg !== want) throw new Error(`alg ${alg} does not fit ${k.crv}`);
      return Buffer.from(curve.sign(digest, d, { prehash: false }));
    }
    if (alg !== "RS256" && alg !== "RS384") throw new Error(`alg ${alg} is not supported by this fake`);
    return privateEncrypt({ key: k.privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([DIGEST_INFO[digest.length]!, digest]));
  };

  const handle = (r: JsonRequest) => {
    const auth = r.req.headers.authorization;
    if (auth !== `Bearer ${token}`) {
      counts.challenges++;
      return r.reply(401, { error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." } }, {
        "www-authenticate": 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
      });
    }
    const failure = failures.shift();
    if (failure) return r.reply(failure.status, { error: { code: failure.status === 403 ? "Forbidden" : failure.status === 429 ? "Throttled" : "Failure", message: `scripted ${failure.status}` } }, failure.headers);
    const parts = r.url.pathname.split("/").filter(Boolean); // keys, name, [version|create], [sign]
    if (parts[0] !== "keys" || !parts[1]) return r.reply(400, { error: { code: "BadParameter", message: "unknown path" } });
    const name = parts[1];
    const body = (r.body ?? {}) as Record<string, unknown>;
    if (r.req.method === "POST" && parts[2] === "create" && parts.length === 3) {
      counts.creates++;
      const kty = String(body.kty) as StoredKey["kty"];
      if (kty === "EC" || kty === "EC-HSM") {
        const crv = body.crv === "P-384" ? "P-384" : "P-256";
        return r.reply(200, bundle(name, store(name, kty, generateKeyPairSync("ec", { namedCurve: crv }).privateKey, crv, requestedOps(body))));
      }
      if (kty === "RSA" || kty === "RSA-HSM") return r.reply(200, bundle(name, store(name, kty, generateKeyPairSync("rsa", { modulusLength: Number(body.key_size ?? 2048) }).privateKey, undefined, requestedOps(body))));
      return r.reply(400, { error: { code: "BadParameter", message: `kty ${kty}` } });
    }
    if (r.req.method === "GET" && parts.length <= 3) {
      const k = find(name, parts[2]);
      return k ? r.reply(200, bundle(name, k)) : notFound(r, name);
    }
    if (r.req.method === "POST" && (parts[3] === "wrapkey" || parts[3] === "unwrapkey") && parts.length === 4) {
      const k = find(name, parts[2]);
      if (!k) return notFound(r, name);
      const operation = parts[3] === "wrapkey" ? "wrapKey" : "unwrapKey";
      if (!k.keyOps.includes(operation)) return forbiddenOperation(r, operation);
      if (!k.kty.startsWith("RSA")) return badParameter(r, `${operation} needs an RSA key`);
      if (body.alg !== "RSA-OAEP-256") return badParameter(r, `alg ${String(body.alg)} is not supported by this fake (RSA-OAEP-256 only)`);
      const value = Buffer.from(String(body.value ?? ""), "base64url");
      const oaep = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" };
      let result: Buffer;
      try {
        result = operation === "wrapKey" ? publicEncrypt({ key: k.privateKey, ...oaep }, value) : privateDecrypt({ key: k.privateKey, ...oaep }, value);
      } catch {
        // What the service answers for a value that does not decrypt under the key.
        return badParameter(r, "Unwrap failed: the value is not valid for this key.");
      }
      counts[operation === "wrapKey" ? "wraps" : "unwraps"]++;
      return r.reply(200, { kid: `${url}/keys/${name}/${k.version}`, value: result.toString("base64url") });
    }
    if (r.req.method === "POST" && parts[3] === "sign" && parts.length === 4) {
      const k = find(name, parts[2]);
      if (!k) return notFound(r, name);
      if (!k.keyOps.includes("sign")) return forbiddenOperation(r, "sign");
      const now = Date.now();
      while (signedAt.length > 0 && signedAt[0]! <= now - WINDOW_MS) signedAt.shift();
      if (options.signsPerSecond !== undefined && signedAt.length >= (options.signsPerSecond * WINDOW_MS) / 1000) {
        counts.throttled++;
        const seconds = Math.max(1, Math.ceil((signedAt[0]! + WINDOW_MS - now) / 1000));
        return r.reply(429, { error: { code: "Throttled", message: "Request was not processed because too many requests were received." } }, { "retry-after": String(seconds) });
      }
      signedAt.push(now);
      counts.signs++;
      const digest = Buffer.from(String(body.value), "base64url");
      let signature = sign(k, String(body.alg), digest);
      if (fake.malformedSignatures) signature = randomBytes(signature.length);
      return r.reply(200, { kid: `${url}/keys/${name}/${k.version}`, value: signature.toString("base64url") });
    }
    return r.reply(405, { error: { code: "BadParameter", message: "method not allowed" } });
  };

  const loopback = await startJsonLoopback((r) => {
    if (options.latencyMs) setTimeout(() => handle(r), options.latencyMs);
    else handle(r);
  });
  url = `https://127.0.0.1:${loopback.port}`;
  const fake: FakeKeyVault = {
    url,
    host: `127.0.0.1:${loopback.port}`,
    certificate: loopback.certificate,
    loopback,
    counts,
    failNext: (status, count, headers = {}) => {
      for (let i = 0; i < count; i++) failures.push({ status, headers });
    },
    clearFailures: () => {
      failures.length = 0;
    },
    malformedSignatures: false,
    importKey: (name, privateKey) => {
      const ec = privateKey.asymmetricKeyType === "ec";
      const crv = ec ? ((privateKey.export({ format: "jwk" }) as { crv: string }).crv as "P-256" | "P-384") : undefined;
      const k = store(name, ec ? "EC-HSM" : "RSA-HSM", privateKey, crv);
      return { name, version: k.version };
    },
    close: () => loopback.close(),
  };
  return fake;
}
