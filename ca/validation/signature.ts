/**
 * Signature algorithms a path may use, and their verification with node:crypto. Algorithms are
 * identified from the AlgorithmIdentifier's DER; anything not listed here is refused by name
 * rather than guessed at.
 */
import { constants, verify as nodeVerify, type KeyObject } from "node:crypto";
import { ctxCons, DerError, TAG, items, readOid, readSmallInteger, readTlv, type Tlv } from "./asn1.js";

export type HashName = "sha1" | "sha256" | "sha384" | "sha512";
export type KeyKind = "ec" | "rsa" | "rsa-pss" | "ed25519" | "ed448" | "dsa";

export interface SignatureAlgorithm {
  readonly name: string;
  /** The digest (null for EdDSA, which hashes internally). */
  readonly hash: HashName | null;
  readonly key: KeyKind;
  /** RSASSA-PSS salt length. */
  readonly saltLength?: number;
}

const HASH_OIDS: Readonly<Record<string, HashName>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

const SIMPLE: Readonly<Record<string, SignatureAlgorithm>> = {
  "1.2.840.10045.4.1": { name: "ecdsa-with-SHA1", hash: "sha1", key: "ec" },
  "1.2.840.10045.4.3.2": { name: "ecdsa-with-SHA256", hash: "sha256", key: "ec" },
  "1.2.840.10045.4.3.3": { name: "ecdsa-with-SHA384", hash: "sha384", key: "ec" },
  "1.2.840.10045.4.3.4": { name: "ecdsa-with-SHA512", hash: "sha512", key: "ec" },
  "1.2.840.113549.1.1.5": { name: "sha1WithRSAEncryption", hash: "sha1", key: "rsa" },
  "1.2.840.113549.1.1.11": { name: "sha256WithRSAEncryption", hash: "sha256", key: "rsa" },
  "1.2.840.113549.1.1.12": { name: "sha384WithRSAEncryption", hash: "sha384", key: "rsa" },
  "1.2.840.113549.1.1.13": { name: "sha512WithRSAEncryption", hash: "sha512", key: "rsa" },
  "1.3.101.112": { name: "Ed25519", hash: null, key: "ed25519" },
  "1.3.101.113": { name: "Ed448", hash: null, key: "ed448" },
  "1.2.840.10040.4.3": { name: "dsa-with-SHA1", hash: "sha1", key: "dsa" },
  "2.16.840.1.101.3.4.3.2": { name: "dsa-with-SHA256", hash: "sha256", key: "dsa" },
};

const OID_RSASSA_PSS = "1.2.840.113549.1.1.10";
const OID_MGF1 = "1.2.840.113549.1.1.8";

/** The hash named by an AlgorithmIdentifier (PSS parameters). */
function hashOf(buf: Uint8Array, t: Tlv, what: string): HashName {
  const oid = readOid(buf, items(buf, t, what)[0], what);
  const hash = HASH_OIDS[oid];
  if (!hash) throw new DerError(`${what}: unsupported hash ${oid}`);
  return hash;
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1). Supported when the MGF1 hash equals the message hash (what
 * every profile in use, and node:crypto, do) and the trailer field is the default.
 */
function pssAlgorithm(buf: Uint8Array, params: Tlv | undefined): SignatureAlgorithm {
  let hash: HashName = "sha1";
  let mgfHash: HashName = "sha1";
  let saltLength = 20;
  if (params) {
    for (const f of items(buf, params, "RSASSA-PSS-params")) {
      const inner = readTlv(buf, f.contentStart, f.end);
      if (f.tag === ctxCons(0)) hash = hashOf(buf, inner, "PSS hashAlgorithm");
      else if (f.tag === ctxCons(1)) {
        const [mgfOid, mgfParams] = items(buf, inner, "PSS maskGenAlgorithm");
        if (readOid(buf, mgfOid, "mask generation function") !== OID_MGF1) throw new DerError("PSS: only MGF1 is supported");
        if (!mgfParams) throw new DerError("PSS: MGF1 without a hash");
        mgfHash = hashOf(buf, mgfParams, "MGF1 hash");
      } else if (f.tag === ctxCons(2)) saltLength = readSmallInteger(buf, inner, "PSS saltLength");
      else if (f.tag === ctxCons(3)) {
        if (readSmallInteger(buf, inner, "PSS trailerField") !== 1) throw new DerError("PSS: unsupported trailerField");
      } else throw new DerError(`PSS: unexpected field 0x${f.tag.toString(16)}`);
    }
  }
  if (mgfHash !== hash) throw new DerError(`PSS with MGF1-${mgfHash} over ${hash} is not supported`);
  return { name: `RSASSA-PSS-${hash.toUpperCase()}`, hash, key: "rsa-pss", saltLength };
}

/** Identify the algorithm of an AlgorithmIdentifier at `t` inside `buf`; DerError when unsupported. */
export function identifySignatureAlgorithm(buf: Uint8Array, t: Tlv): SignatureAlgorithm {
  const [oidTlv, params] = items(buf, t, "AlgorithmIdentifier");
  const oid = readOid(buf, oidTlv, "signature algorithm");
  if (oid === OID_RSASSA_PSS) return pssAlgorithm(buf, params?.tag === TAG.SEQUENCE ? params : undefined);
  const known = SIMPLE[oid];
  if (!known) throw new DerError(`unsupported signature algorithm ${oid}`);
  return known;
}

/** Which node:crypto key types can check a signature of this kind. */
function keyFits(alg: SignatureAlgorithm, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (alg.key === "rsa-pss") return type === "rsa" || type === "rsa-pss";
  return type === alg.key;
}

/**
 * Verify `signature` over `data`. Returns a reason when it does not hold (wrong key type, bad
 * signature, or node refusing the input), undefined when it does.
 */
export function verifySignature(alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array, key: KeyObject): string | undefined {
  if (!keyFits(alg, key)) return `a ${alg.name} signature cannot be made by a ${key.asymmetricKeyType ?? "unknown"} key`;
  try {
    const ok =
      alg.key === "rsa-pss"
        ? nodeVerify(alg.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength ?? 20 }, signature)
        : nodeVerify(alg.hash, data, key, signature);
    return ok ? undefined : "the signature does not verify with the issuer's public key";
  } catch (e) {
    return `the signature could not be checked: ${(e as Error).message}`;
  }
}
