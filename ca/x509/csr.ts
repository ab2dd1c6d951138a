/**
 * PKCS#10 certification requests (RFC 2986): parse and verify the self-signature with node:crypto
 * directly (importing a device key through WebCrypto costs more than the whole check).
 */
import { createHash, createPublicKey, type KeyObject, sign as nodeSign } from "node:crypto";
import { identifySignatureAlgorithm, type SignatureAlgorithm, verifySignature } from "../validation/signature.js";
import type { KeyDescription } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer } from "../pem.js";
import { children, content, DerError, oid, oidText, readRoot, sequence, slice, tlv, type Tlv } from "./der.js";
import { PublicKeyRejected } from "./public-key-checks.js";
import { describeSpki, readPublicKey } from "./spki.js";
import { parseName, type NameAttribute } from "./name.js";

export interface ParsedCsr {
  readonly der: Uint8Array;
  /** SHA-256 of the CSR's DER, hex: the request hash recorded with the certificate. */
  readonly sha256: string;
  readonly subject: readonly NameAttribute[];
  readonly commonNames: readonly string[];
  readonly spki: Uint8Array;
  readonly publicKey: KeyObject;
  readonly key: KeyDescription;
}

const invalid = (message: string, cause?: unknown) => new TrustlineError("CSR_INVALID", message, cause === undefined ? {} : { cause });

/** The DER of a PEM or DER CSR (not yet checked); CSR_INVALID when PEM holds no request block. */
export function csrDer(input: Uint8Array): Uint8Array {
  const der = derFromPemOrDer(input, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]);
  if (!der) throw invalid("the file is PEM but holds no CERTIFICATE REQUEST block (is it a certificate or a key?)");
  return der;
}

/** Parse a PEM or DER CSR and verify its self-signature; any failure is CSR_INVALID. */
export function parseCsr(input: Uint8Array): ParsedCsr {
  return parseCsrDer(csrDer(input));
}

/** `parseCsr` for a request already in DER; `sha256` (hex) when the caller has hashed it (batch workers). */
export function parseCsrDer(der: Uint8Array, sha256?: string): ParsedCsr {
  if (der.length === 0 || der[0] !== 0x30) throw invalid("the file is not a certificate request: neither a PEM CERTIFICATE REQUEST block nor DER");
  let cri: Tlv, alg: Tlv, sig: Tlv, spkiTlv: Tlv, nameTlv: Tlv;
  try {
    const root = readRoot(der);
    const top = children(der, root);
    if (top.length !== 3) throw new DerError("a CertificationRequest has three parts");
    [cri, alg, sig] = top as [Tlv, Tlv, Tlv];
    const criParts = children(der, cri);
    const [version, name, spki] = criParts;
    if (!version || version.tag !== 0x02 || content(der, version).length !== 1 || content(der, version)[0] !== 0) throw new DerError("version must be 0 (v1)");
    if (!name || name.tag !== 0x30 || !spki || spki.tag !== 0x30) throw new DerError("subject or public key missing");
    nameTlv = name;
    spkiTlv = spki;
    if (sig.tag !== 0x03) throw new DerError("signature is not a BIT STRING");
  } catch (e) {
    throw invalid(`the file is not a well-formed PKCS#10 request: ${(e as Error).message}`, e);
  }
  // The algorithm table is the path validator's; a CSR adds one rule: no SHA-1 (nor DSA).
  let algorithm: SignatureAlgorithm;
  try {
    algorithm = identifySignatureAlgorithm(der, alg);
  } catch (e) {
    throw invalid(`the request's signature algorithm ${algorithmName(der, alg)} is not supported or malformed (use ECDSA or RSA with SHA-256/384/512)`, e);
  }
  if (algorithm.hash === "sha1") throw invalid("the request is signed with SHA-1, which is not accepted; sign it with SHA-256 or stronger");
  if (algorithm.key === "dsa") throw invalid("the request is signed with DSA, which is not accepted; use ECDSA or RSA");
  const spki = slice(der, spkiTlv);
  let publicKey: KeyObject;
  let key: KeyDescription;
  try {
    ({ publicKey, key } = readPublicKey(spki));
  } catch (e) {
    if (e instanceof PublicKeyRejected) throw invalid(`the request's public key is refused: ${e.message}`, e);
    throw invalid(`the request's public key cannot be read: ${(e as Error).message}`, e);
  }
  const sigBits = content(der, sig);
  if (sigBits[0] !== 0) throw invalid("the request's signature BIT STRING has unused bits");
  const keyType = publicKey.asymmetricKeyType;
  const fits = algorithm.key === "rsa-pss" ? keyType === "rsa" || keyType === "rsa-pss" : keyType === algorithm.key;
  if (!fits) throw invalid(`the request is signed with ${algorithm.name} but holds a ${keyType} key`);
  if (verifySignature(algorithm, slice(der, cri), sigBits.subarray(1), publicKey) !== undefined) throw invalid("the request's signature does not verify: it was altered, or not signed by the key it holds (no proof of possession)");
  let subject: NameAttribute[];
  try {
    subject = parseName(der, nameTlv);
  } catch (e) {
    throw invalid(`the request's subject cannot be read: ${(e as Error).message}`, e);
  }
  return {
    der,
    sha256: sha256 ?? createHash("sha256").update(der).digest("hex"),
    subject,
    commonNames: subject.filter((a) => a.type === "CN").map((a) => a.value),
    spki,
    publicKey,
    key,
  };
}

/** The OID an AlgorithmIdentifier names, for an error message; "?" when it is too malformed to say. */
function algorithmName(der: Uint8Array, alg: Tlv): string {
  try {
    const first = alg.tag === 0x30 ? children(der, alg)[0] : undefined;
    return first?.tag === 0x06 ? oidText(content(der, first)) : "?";
  } catch {
    return "?";
  }
}

/**
 * Make a PKCS#10 request with a node:crypto key: for a CI pipeline requesting its signer
 * certificate, for test fixtures and the demo. Subject: CN only.
 */
export function createCsr(privateKey: KeyObject, commonName: string): Uint8Array {
  const publicKey = createPublicKey(privateKey);
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const name = sequence(tlv(0x31, sequence(oid("2.5.4.3"), tlv(0x0c, new TextEncoder().encode(commonName)))));
  const cri = sequence(tlv(0x02, Uint8Array.of(0)), name, spki, tlv(0xa0));
  const key = describeSpki(spki);
  const ec = key.type === "ec";
  const [hash, algOid] = ec ? (key.curve === "P-384" ? ["sha384", "1.2.840.10045.4.3.3"] : ["sha256", "1.2.840.10045.4.3.2"]) : ["sha256", "1.2.840.113549.1.1.11"];
  const algorithm = ec ? sequence(oid(algOid!)) : sequence(oid(algOid!), tlv(0x05));
  const signature = new Uint8Array(nodeSign(hash!, cri, privateKey));
  return sequence(cri, algorithm, tlv(0x03, Uint8Array.of(0), signature));
}
