/**
 * The Signer is the only thing that touches a private key. Backends (encrypted files now; Azure
 * Key Vault and PKCS#11 later) hand out Signers; everything else sees only `sign(data)`.
 */
import { createPublicKey, hash, type KeyObject, randomBytes, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import type { KeyAlgorithm } from "../../policy/index.js";
import { bitString, oid, sequence, tlv } from "../x509/der.js";

export type SignatureAlgorithm = "ecdsa-p256-sha256" | "ecdsa-p384-sha384" | "rsa-pkcs1-sha256";

export interface Signer {
  readonly algorithm: SignatureAlgorithm;
  /** SubjectPublicKeyInfo, DER. */
  readonly publicKey: Uint8Array;
  /** DER-encoded signature value over `data`, ready for X.509, CRL or CMS. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export interface SignatureAlgorithmInfo {
  readonly hash: "sha256" | "sha384";
  readonly oid: string;
  /** AlgorithmIdentifier, DER (RSA carries an explicit NULL parameter; ECDSA none: RFC 5758 §3.2). */
  readonly algorithmIdentifier: Uint8Array;
  /** The same algorithm for WebCrypto / @peculiar/x509. */
  readonly webCrypto: { readonly name: "ECDSA" | "RSASSA-PKCS1-v1_5"; readonly hash: "SHA-256" | "SHA-384" };
}

const NULL = tlv(0x05);

export const SIGNATURE_ALGORITHMS: Readonly<Record<SignatureAlgorithm, SignatureAlgorithmInfo>> = {
  "ecdsa-p256-sha256": {
    hash: "sha256",
    oid: "1.2.840.10045.4.3.2",
    algorithmIdentifier: sequence(oid("1.2.840.10045.4.3.2")),
    webCrypto: { name: "ECDSA", hash: "SHA-256" },
  },
  "ecdsa-p384-sha384": {
    hash: "sha384",
    oid: "1.2.840.10045.4.3.3",
    algorithmIdentifier: sequence(oid("1.2.840.10045.4.3.3")),
    webCrypto: { name: "ECDSA", hash: "SHA-384" },
  },
  "rsa-pkcs1-sha256": {
    hash: "sha256",
    oid: "1.2.840.113549.1.1.11",
    algorithmIdentifier: sequence(oid("1.2.840.113549.1.1.11"), NULL),
    webCrypto: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  },
};

/** The signature algorithm a CA key of this kind signs with. */
export function signatureAlgorithmFor(key: KeyAlgorithm): SignatureAlgorithm {
  if (key === "p256") return "ecdsa-p256-sha256";
  if (key === "p384") return "ecdsa-p384-sha384";
  return "rsa-pkcs1-sha256";
}

/** A Signer over a node:crypto private key (node's ECDSA output is already DER). */
export function keyObjectSigner(privateKey: KeyObject, algorithm: SignatureAlgorithm, publicKey: Uint8Array): Signer {
  const hash = SIGNATURE_ALGORITHMS[algorithm].hash;
  return {
    algorithm,
    publicKey,
    sign: async (data) => new Uint8Array(nodeSign(hash, data, privateKey)),
  };
}

/**
 * Whether the signer signs for the public key it names: one signature over a random message,
 * verified here. The self-check of a key just made or just moved to another backend.
 */
export async function signerHolds(signer: Signer): Promise<boolean> {
  const probe = randomBytes(32);
  const signature = await signer.sign(probe);
  return nodeVerify(SIGNATURE_ALGORITHMS[signer.algorithm].hash, probe, createPublicKey({ key: Buffer.from(signer.publicKey), format: "der", type: "spki" }), signature);
}

/** `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }`: certificate, CRL and CSR share this shape. */
export async function signStructure(tbs: Uint8Array, signer: Signer): Promise<Uint8Array> {
  const signature = await signer.sign(tbs);
  return sequence(tbs, SIGNATURE_ALGORITHMS[signer.algorithm].algorithmIdentifier, bitString(signature));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value (SHA-1 is what the RFC names). */
export function keyIdentifier(subjectPublicKey: Uint8Array): Uint8Array {
  return new Uint8Array(hash("sha1", subjectPublicKey, "buffer"));
}
