/**
 * A detached CMS SignedData (RFC 5652) over a file, made and checked the same way whatever the file
 * is: firmware images (sign.ts, verify.ts) and auditor's reports (ca/reports/signature.ts).
 *
 * Made: signed attributes contentType id-data, signingTime, messageDigest, signingCertificateV2
 * (RFC 5035) and CMSAlgorithmProtection (RFC 6211), plus the caller's own, DER-sorted.
 * Checked: exactly one signer over detached id-data; SHA-2 algorithms that agree; signed
 * attributes present, DER-sorted, well formed; the digest the caller computed equals messageDigest;
 * the signature holds with the signer certificate included in the SignedData, which
 * signingCertificateV2 (when present) names. Chain, usage and revocation are the caller's.
 */
import { createHash } from "node:crypto";
import { SIGNATURE_ALGORITHMS, type Signer } from "../keys/signer.js";
import { dersOf } from "../pem.js";
import { decodeTime } from "../revocation/crl-codec.js";
import { parseCertificateForValidation, type ParsedCertificate } from "../validation/certificate.js";
import { identifySignatureAlgorithm, type SignatureAlgorithm, verifySignature } from "../validation/signature.js";
import { issuerNameDer, serialContentOf } from "../x509/cert-fields.js";
import { children, content, oid, oidText, readRoot, sequence, tlv } from "../x509/der.js";
import { encodeTime } from "../x509/tbs-encoder.js";
import {
  CMS_OIDS,
  DIGEST_OIDS,
  digestAlgorithmIdentifier,
  encodeAttribute,
  encodeDetachedSignedData,
  encodeSignerInfo,
  isSortedSet,
  type ParsedSignedData,
  type ParsedSignerInfo,
  parseSignedData,
  signedAttributesToSign,
  signedBytesOf,
} from "./cms.js";

export type DigestName = "sha256" | "sha384" | "sha512";

/** The checks of this module, by the names verdicts report. */
export type CmsCheck = "format" | "algorithms" | "signed-attributes" | "message-digest" | "signature" | "signing-certificate";

/** A check that said no; `check` names it. Verifiers with more checks widen C. */
export class SignatureCheckFailure<C extends string = CmsCheck> extends Error {
  constructor(
    readonly check: C,
    message: string,
  ) {
    super(message);
  }
}

export interface DetachedSignatureInput {
  readonly signer: Signer;
  /** The signer certificate first, then the intermediates to carry (DER). */
  readonly certificates: readonly Uint8Array[];
  /** The file's digest under `signatureDigest(signer)`. */
  readonly digest: Uint8Array;
  readonly now: Date;
  /** More signed attributes (encoded Attribute DER), e.g. the firmware manifest. */
  readonly attributes?: readonly Uint8Array[];
  /** Unsigned attributes made from the signature value (an RFC 3161 time-stamp). */
  readonly unsigned?: (signature: Uint8Array) => Promise<readonly Uint8Array[]>;
}

/** The digest a signer's signature uses: the signature's own hash (RFC 5753 §3.1). */
export function signatureDigest(signer: Signer): DigestName {
  return SIGNATURE_ALGORITHMS[signer.algorithm].hash;
}

/** ContentInfo(SignedData) DER, detached id-data. */
export async function signDetached(input: DetachedSignatureInput): Promise<Uint8Array> {
  const [signerCert] = input.certificates;
  if (!signerCert) throw new TypeError("signDetached needs the signer certificate");
  const algorithm = SIGNATURE_ALGORITHMS[input.signer.algorithm];
  const digestAlgorithm = digestAlgorithmIdentifier(algorithm.hash);
  const signedAttributes = [
    encodeAttribute(CMS_OIDS.contentType, oid(CMS_OIDS.data)),
    encodeAttribute(CMS_OIDS.signingTime, encodeTime(input.now)),
    encodeAttribute(CMS_OIDS.messageDigest, tlv(0x04, input.digest)),
    // RFC 5035: ESSCertIDv2 with the default hash (SHA-256), whose AlgorithmIdentifier DER omits.
    encodeAttribute(CMS_OIDS.signingCertificateV2, sequence(sequence(sequence(tlv(0x04, createHash("sha256").update(signerCert).digest()))))),
    // RFC 6211: binds the digest and signature algorithms into what is signed.
    encodeAttribute(CMS_OIDS.algorithmProtection, sequence(digestAlgorithm, tlv(0xa1, content(algorithm.algorithmIdentifier, readRoot(algorithm.algorithmIdentifier))))),
    ...(input.attributes ?? []),
  ];
  const signature = await input.signer.sign(signedAttributesToSign(signedAttributes));
  const signerInfo = encodeSignerInfo({
    issuerName: issuerNameDer(signerCert),
    serialContent: serialContentOf(signerCert),
    digestAlgorithm,
    signedAttributes,
    signatureAlgorithm: algorithm.algorithmIdentifier,
    signature,
    unsignedAttributes: input.unsigned ? await input.unsigned(signature) : [],
  });
  return encodeDetachedSignedData({ digestAlgorithm, certificates: input.certificates, signerInfo });
}

export interface OpenedSignature {
  readonly signedData: ParsedSignedData;
  readonly signerInfo: ParsedSignerInfo;
  /** The digest the file must be hashed with. */
  readonly digestName: DigestName;
  readonly algorithm: SignatureAlgorithm;
  /** The signed messageDigest. */
  readonly messageDigest: Uint8Array;
  readonly signingTime?: string;
}

export const signedAttributesOf = (si: ParsedSignerInfo, type: string) => si.signedAttributes.filter((a) => a.type === type);

/** Decode signed attributes: malformed DER inside them is a "signed-attributes" refusal, never a crash. */
export function decodingAttributes<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof SignatureCheckFailure) throw e;
    throw new SignatureCheckFailure("signed-attributes", `a signed attribute is malformed: ${(e as Error).message}`);
  }
}

/** Steps 1 and 2: the format, the algorithms and the signed attributes of a signature file (DER or PEM CMS/PKCS7). */
export function openDetachedSignature(file: Uint8Array): OpenedSignature {
  // PEM signatures are labelled CMS (RFC 7468) or, by older tools, PKCS7.
  const der = [...dersOf(file, "CMS"), ...dersOf(file, "PKCS7")][0];
  if (!der) throw new SignatureCheckFailure("format", "the signature file holds no CMS signature (DER, or a PEM CMS / PKCS7 block)");
  let sd: ParsedSignedData;
  try {
    sd = parseSignedData(der);
  } catch (e) {
    throw new SignatureCheckFailure("format", `the signature file is not a DER CMS SignedData: ${(e as Error).message}`);
  }
  if (sd.signerInfos.length !== 1) throw new SignatureCheckFailure("format", `expected exactly one signer, found ${sd.signerInfos.length}`);
  if (sd.eContentType !== CMS_OIDS.data) throw new SignatureCheckFailure("format", `the signed content type is ${sd.eContentType}, not id-data`);
  if (sd.eContent !== undefined) throw new SignatureCheckFailure("format", "the signature is not detached (it embeds content)");
  const si = sd.signerInfos[0]!;
  const digestName = DIGEST_OIDS[si.digestAlgorithm];
  if (!digestName) throw new SignatureCheckFailure("algorithms", `digest algorithm ${si.digestAlgorithm} is not allowed (SHA-256, SHA-384, SHA-512)`);
  const algorithm = allowedSignatureAlgorithm(si.signatureAlgorithmDer);
  if (!algorithm) throw new SignatureCheckFailure("algorithms", `signature algorithm ${si.signatureAlgorithm} is not allowed (ECDSA, RSA PKCS#1 v1.5 or RSASSA-PSS, with SHA-2)`);
  if (algorithm.hash !== digestName) throw new SignatureCheckFailure("algorithms", `the digest (${digestName}) and the signature's hash (${algorithm.hash}) differ`);

  if (!si.signedAttributesRaw) throw new SignatureCheckFailure("signed-attributes", "the signature has no signed attributes (an -noattr signature): its content type, digest and signer are not bound; refused");
  if (!isSortedSet(si.signedAttributesRaw)) throw new SignatureCheckFailure("signed-attributes", "the signed attributes are not DER-sorted (X.690 §11.6)");
  // Attribute values are decoded here, not by the CMS parser: a malformed one is this check's refusal.
  return decodingAttributes(() => {
    const contentType = signedAttributesOf(si, CMS_OIDS.contentType);
    if (contentType.length !== 1 || contentType[0]!.values.length !== 1 || oidText(content(contentType[0]!.values[0]!, readRoot(contentType[0]!.values[0]!, 0x06))) !== CMS_OIDS.data) {
      throw new SignatureCheckFailure("signed-attributes", "the contentType attribute is missing or not id-data");
    }
    const md = signedAttributesOf(si, CMS_OIDS.messageDigest);
    if (md.length !== 1 || md[0]!.values.length !== 1) throw new SignatureCheckFailure("signed-attributes", "there must be exactly one messageDigest attribute");
    const messageDigest = content(md[0]!.values[0]!, readRoot(md[0]!.values[0]!, 0x04));
    const protection = signedAttributesOf(si, CMS_OIDS.algorithmProtection)[0];
    if (protection) {
      const v = protection.values[0]!;
      const [d, s] = children(v, readRoot(v));
      const dOid = d ? oidText(content(v, children(v, d)[0]!)) : "";
      const sOid = s ? oidText(content(v, children(v, s)[0]!)) : "";
      if (dOid !== si.digestAlgorithm || sOid !== si.signatureAlgorithm) throw new SignatureCheckFailure("algorithms", "CMSAlgorithmProtection does not match the algorithms used (RFC 6211)");
    }
    const signingTime = signedAttributesOf(si, CMS_OIDS.signingTime)[0];
    return { signedData: sd, signerInfo: si, digestName, algorithm, messageDigest, ...(signingTime ? { signingTime: decodeSigningTime(signingTime.values[0]!) } : {}) };
  });
}

/** Whether the file's digest equals the signed messageDigest. */
export function digestMatches(opened: OpenedSignature, digest: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(digest), Buffer.from(opened.messageDigest)) === 0;
}

/** Step 3a: the signer certificate, as the SignerInfo names it among the SignedData's certificates. */
export function signerCertificate(opened: OpenedSignature): ParsedCertificate {
  const si = opened.signerInfo;
  const certs = opened.signedData.certificates.map((c, i) => parseOrFail(c, `certificate ${i + 1} of the signature`));
  const signer = certs.find((c) => c.serial === si.serial && si.issuer !== undefined && Buffer.compare(Buffer.from(c.issuer.der), Buffer.from(si.issuer)) === 0);
  if (!signer) throw new SignatureCheckFailure("signing-certificate", "the signature does not include its signer's certificate");
  return signer;
}

/** Step 3b: the signature holds with the signer's key, and signingCertificateV2 (when present) names that certificate. */
export function checkSignature(opened: OpenedSignature, signer: ParsedCertificate): void {
  const si = opened.signerInfo;
  const signerKey = signer.publicKey();
  if (!signerKey.value) throw new SignatureCheckFailure("signature", `the signer certificate cannot be trusted: ${signerKey.error ?? "its public key cannot be read"}`);
  if (verifySignature(opened.algorithm, signedBytesOf(si.signedAttributesRaw!), si.signature, signerKey.value) !== undefined) {
    throw new SignatureCheckFailure("signature", "the signature over the signed attributes does not hold: it does not verify with the signer certificate's key (the signature file was altered)");
  }
  const v2 = signedAttributesOf(si, CMS_OIDS.signingCertificateV2)[0];
  if (v2) {
    const hash = decodingAttributes(() => essCertHash(v2.values[0]!));
    if (Buffer.compare(Buffer.from(createHash(hash.algorithm).update(signer.der).digest()), Buffer.from(hash.value)) !== 0) {
      throw new SignatureCheckFailure("signing-certificate", "signingCertificateV2 names another certificate than the one that signed (RFC 5035)");
    }
  }
}

/**
 * The signature algorithm of a SignerInfo, when allowed: SHA-2 only. Some TSAs write the bare key
 * algorithm (rsaEncryption, id-ecPublicKey) and let the digestAlgorithm name the hash (RFC 5652 §5.3).
 */
export function allowedSignatureAlgorithm(der: Uint8Array, digest?: string): SignatureAlgorithm | undefined {
  const bare: Readonly<Record<string, SignatureAlgorithm["key"]>> = { "1.2.840.113549.1.1.1": "rsa", "1.2.840.10045.2.1": "ec" };
  try {
    const id = oidText(content(der, children(der, readRoot(der))[0]!));
    const key = bare[id];
    if (key && digest) return { name: `${key} with ${digest}`, hash: digest as SignatureAlgorithm["hash"], key };
    const algorithm = identifySignatureAlgorithm(der, readRoot(der));
    return algorithm.hash === "sha1" || algorithm.hash === null ? undefined : algorithm;
  } catch {
    return undefined;
  }
}

export function parseOrFail(der: Uint8Array, what: string): ParsedCertificate {
  try {
    return parseCertificateForValidation(der);
  } catch (e) {
    throw new SignatureCheckFailure("format", `${what} cannot be read: ${(e as Error).message}`);
  }
}

function decodeSigningTime(value: Uint8Array): string {
  try {
    return decodeTime(value, readRoot(value, value[0]!)).toISOString();
  } catch {
    throw new SignatureCheckFailure("signed-attributes", "the signingTime attribute is malformed");
  }
}

function essCertHash(value: Uint8Array): { algorithm: string; value: Uint8Array } {
  // SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2, ... }
  const certs = children(value, readRoot(value))[0]!;
  const first = children(value, certs)[0]!;
  const parts = children(value, first);
  if (parts[0]!.tag === 0x30) {
    const algOid = oidText(content(value, children(value, parts[0]!)[0]!));
    return { algorithm: DIGEST_OIDS[algOid] ?? "sha256", value: content(value, parts[1]!) };
  }
  return { algorithm: "sha256", value: content(value, parts[0]!) };
}
