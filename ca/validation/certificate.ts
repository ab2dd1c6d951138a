/**
 * A certificate decoded once for path validation: every field §6.1 reads, the extensions it acts on,
 * and what is wrong with the extensions (kept as findings, not thrown, so that the failure is
 * reported against this certificate in its path). Structural damage to the certificate itself
 * (not DER, no TBSCertificate, a bad Name) is thrown as INPUT_INVALID.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { TrustlineError } from "../errors.js";
import { oid, readRoot, sequence, slice } from "../x509/der.js";
import { serialHex } from "../x509/serial.js";
import { readPublicKey } from "../x509/spki.js";
import { ctxCons, DerError, TAG, content, expectTag, items, readBitString, readBoolean, readOid, readSmallInteger, readTime, readTlv, type Tlv } from "./asn1.js";
import * as ext from "./extensions.js";
import type { GeneralName } from "./general-names.js";
import { parseDistinguishedName, type DistinguishedName } from "./names.js";
import { identifySignatureAlgorithm, type SignatureAlgorithm } from "./signature.js";

export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** Extensions whose content this engine reads, or which carry no constraint on the path (§4.2). */
const RECOGNISED = new Set<string>([
  ext.EXT.subjectKeyIdentifier,
  ext.EXT.keyUsage,
  ext.EXT.subjectAltName,
  ext.EXT.issuerAltName,
  ext.EXT.basicConstraints,
  ext.EXT.nameConstraints,
  ext.EXT.crlDistributionPoints,
  ext.EXT.certificatePolicies,
  ext.EXT.policyMappings,
  ext.EXT.authorityKeyIdentifier,
  ext.EXT.policyConstraints,
  ext.EXT.extendedKeyUsage,
  ext.EXT.freshestCrl,
  ext.EXT.inhibitAnyPolicy,
  ext.EXT.authorityInfoAccess,
  ext.EXT.subjectInfoAccess,
]);

export interface DecodedExtensions {
  readonly basicConstraints?: ext.BasicConstraints;
  readonly keyUsage?: number;
  readonly extendedKeyUsage?: readonly string[];
  readonly subjectKeyId?: string;
  readonly authorityKeyId?: ext.AuthorityKeyIdentifier;
  readonly subjectAltName?: readonly GeneralName[];
  readonly nameConstraints?: ext.NameConstraints;
  readonly certificatePolicies?: readonly ext.PolicyInformation[];
  readonly policyMappings?: readonly ext.PolicyMapping[];
  readonly policyConstraints?: ext.PolicyConstraints;
  readonly inhibitAnyPolicy?: number;
  readonly crlDistributionPoints?: readonly ext.DistributionPoint[];
}

type Decoders = { readonly [K in keyof DecodedExtensions]-?: readonly [string, (v: Uint8Array) => NonNullable<DecodedExtensions[K]>] };
const DECODERS: Decoders = {
  basicConstraints: [ext.EXT.basicConstraints, ext.decodeBasicConstraints],
  keyUsage: [ext.EXT.keyUsage, ext.decodeKeyUsage],
  extendedKeyUsage: [ext.EXT.extendedKeyUsage, ext.decodeExtendedKeyUsage],
  subjectKeyId: [ext.EXT.subjectKeyIdentifier, ext.decodeSubjectKeyIdentifier],
  authorityKeyId: [ext.EXT.authorityKeyIdentifier, ext.decodeAuthorityKeyIdentifier],
  subjectAltName: [ext.EXT.subjectAltName, ext.decodeSubjectAltName],
  nameConstraints: [ext.EXT.nameConstraints, ext.decodeNameConstraints],
  certificatePolicies: [ext.EXT.certificatePolicies, ext.decodeCertificatePolicies],
  policyMappings: [ext.EXT.policyMappings, ext.decodePolicyMappings],
  policyConstraints: [ext.EXT.policyConstraints, ext.decodePolicyConstraints],
  inhibitAnyPolicy: [ext.EXT.inhibitAnyPolicy, ext.decodeInhibitAnyPolicy],
  crlDistributionPoints: [ext.EXT.crlDistributionPoints, ext.decodeCrlDistributionPoints],
};
const DECODER_BY_OID = new Map(Object.entries(DECODERS).map(([field, [oid, decode]]) => [oid, { field, decode }]));

const OID_DSA = "1.2.840.10040.4.1";

export class ParsedCertificate {
  /** SHA-256 of the DER, hex: the certificate's identity in caches and loop detection. */
  readonly id: string;
  readonly version: number;
  readonly serial: string;
  /** The serialNumber INTEGER's content octets, as encoded (§4.1.2.2: positive, at most 20 octets). */
  readonly serialBytes: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signatureValue: Uint8Array;
  /** The algorithm that signed this certificate, or why it cannot be used. */
  readonly signatureAlgorithm: SignatureAlgorithm | { readonly unsupported: string };
  /** §4.1.1.2: the TBS `signature` field must equal the outer signatureAlgorithm. */
  readonly algorithmFieldsAgree: boolean;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** §4.1.2.5: validity dates 1950-2049 are UTCTime, from 2050 GeneralizedTime; false when not so encoded. */
  readonly validityEncodingConforms: boolean;
  /** issuerUniqueID or subjectUniqueID is present (§4.1.2.8: only in version 2 or 3). */
  readonly hasUniqueIdentifiers: boolean;
  readonly spki: Uint8Array;
  readonly keyAlgorithm: string;
  /** The SPKI AlgorithmIdentifier's parameters, DER; undefined when absent (DSA inheritance, §6.1.4(e)). */
  readonly keyParameters: Uint8Array | undefined;
  readonly extensions: readonly RawExtension[];
  readonly ext: DecodedExtensions;
  /** Extension OIDs present more than once (§4.2: "MUST NOT include more than one instance"). */
  readonly duplicateExtensions: readonly string[];
  readonly malformedExtensions: readonly { readonly oid: string; readonly reason: string }[];
  /** Critical extensions this engine does not recognise (§6.1.4(o), §6.1.5(f)). */
  readonly unknownCriticalExtensions: readonly string[];
  /** Issuer and subject match (§6.1: self-issued certificates are not counted in path lengths). */
  readonly selfIssued: boolean;

  private key: { readonly value?: KeyObject; readonly error?: string } | undefined;
  /** Outcomes of signature checks by issuer key: "" verified, else the reason it failed. Deterministic, so cacheable. */
  readonly signatureChecks = new Map<string, string>();

  readonly der: Uint8Array;

  /** `der` is copied: the parse must not change if the caller reuses its buffer. `id` when already computed. */
  constructor(input: Uint8Array, id?: string) {
    const der = input.slice();
    this.der = der;
    this.id = id ?? sha256Hex(der);
    const root = readRoot(der);
    const [tbsTlv, outerAlg, sigTlv, extra] = items(der, root, "Certificate");
    if (!tbsTlv || !outerAlg || !sigTlv || extra) throw new DerError("a Certificate is SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }");
    this.tbs = slice(der, tbsTlv);
    const sig = readBitString(der, sigTlv, "signatureValue");
    if (sig.unusedBits !== 0) throw new DerError("signatureValue has unused bits");
    this.signatureValue = sig.bytes;

    const fields = items(der, tbsTlv, "TBSCertificate");
    let i = 0;
    this.version = 1;
    if (fields[0]?.tag === ctxCons(0)) {
      this.version = readSmallInteger(der, readTlv(der, fields[0].contentStart, fields[0].end), "version") + 1;
      if (this.version < 1 || this.version > 3) throw new DerError(`unknown certificate version ${this.version}`);
      i = 1;
    }
    const serialTlv = expectTag(fields[i++], TAG.INTEGER, "serialNumber");
    this.serialBytes = content(der, serialTlv);
    this.serial = serialHex(this.serialBytes);
    const innerAlg = expectTag(fields[i++], TAG.SEQUENCE, "signature");
    this.issuer = parseDistinguishedName(der, expectTag(fields[i++], TAG.SEQUENCE, "issuer"));
    const [nb, na, vextra] = items(der, fields[i++], "validity");
    if (vextra) throw new DerError("validity has extra fields");
    this.notBefore = readTime(der, nb, "notBefore");
    this.notAfter = readTime(der, na, "notAfter");
    const encodedAsProfiled = (t: Tlv | undefined, d: Date) => {
      const year = d.getUTCFullYear();
      return year < 1950 || (year < 2050 ? t?.tag === TAG.UTC_TIME : t?.tag === TAG.GENERALIZED_TIME);
    };
    this.validityEncodingConforms = encodedAsProfiled(nb, this.notBefore) && encodedAsProfiled(na, this.notAfter);
    this.subject = parseDistinguishedName(der, expectTag(fields[i++], TAG.SEQUENCE, "subject"));
    const spkiTlv = expectTag(fields[i++], TAG.SEQUENCE, "subjectPublicKeyInfo");
    this.spki = slice(der, spkiTlv);
    const [keyAlg] = items(der, spkiTlv, "subjectPublicKeyInfo");
    const [keyOid, keyParams] = items(der, keyAlg, "SPKI algorithm");
    this.keyAlgorithm = readOid(der, keyOid, "SPKI algorithm");
    this.keyParameters = keyParams && keyParams.tag !== TAG.NULL ? slice(der, keyParams) : undefined;

    const algDer = (t: Tlv) => Buffer.from(der.buffer, der.byteOffset + t.start, t.end - t.start);
    this.algorithmFieldsAgree = algDer(innerAlg).equals(algDer(outerAlg));
    let algorithm: SignatureAlgorithm | { unsupported: string };
    try {
      algorithm = identifySignatureAlgorithm(der, outerAlg);
    } catch (e) {
      algorithm = { unsupported: (e as Error).message };
    }
    this.signatureAlgorithm = algorithm;

    const extensions: RawExtension[] = [];
    let uniqueIds = false;
    for (; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.tag === 0x81 || f.tag === 0x82) {
        uniqueIds = true; // issuer/subject unique identifiers: unused by §6.1
        continue;
      }
      if (f.tag !== ctxCons(3)) throw new DerError(`unexpected TBSCertificate field 0x${f.tag.toString(16)}`);
      for (const e of items(der, readTlv(der, f.contentStart, f.end), "extensions")) {
        const parts = items(der, e, "Extension");
        const oid = readOid(der, parts[0], "extnID");
        const critical = parts.length === 3 ? readBoolean(der, parts[1]!, "critical") : false;
        const valueTlv = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, "extnValue");
        extensions.push({ oid, critical, value: content(der, valueTlv) });
      }
    }
    this.extensions = extensions;
    this.hasUniqueIdentifiers = uniqueIds;
    const decoded = this.decodeExtensions(extensions);
    this.ext = decoded.ext;
    this.duplicateExtensions = decoded.duplicates;
    this.malformedExtensions = this.version < 3 && extensions.length > 0 ? [...decoded.malformed, { oid: "-", reason: `a version ${this.version} certificate has extensions` }] : decoded.malformed;
    this.unknownCriticalExtensions = extensions.filter((e) => e.critical && !RECOGNISED.has(e.oid)).map((e) => e.oid);
    this.selfIssued = this.issuer.key === this.subject.key;
  }

  private decodeExtensions(list: readonly RawExtension[]) {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    const duplicates: string[] = [];
    const malformed: { oid: string; reason: string }[] = [];
    for (const e of list) {
      if (seen.has(e.oid)) {
        if (!duplicates.includes(e.oid)) duplicates.push(e.oid);
        continue;
      }
      seen.add(e.oid);
      const decoder = DECODER_BY_OID.get(e.oid);
      if (!decoder) continue;
      try {
        out[decoder.field] = decoder.decode(e.value);
      } catch (err) {
        malformed.push({ oid: e.oid, reason: (err as Error).message });
      }
    }
    return { ext: out as DecodedExtensions, duplicates, malformed };
  }

  private isoDates: readonly [string, string] | undefined;
  /** notBefore and notAfter as ISO 8601 text, made once (reports repeat them on every validation). */
  get validityText(): readonly [string, string] {
    return (this.isoDates ??= [this.notBefore.toISOString(), this.notAfter.toISOString()]);
  }

  private nameAndKey: string | undefined;
  /** Subject name and public key together: a certificate "for the same CA" in loop detection (RFC 4158 §5.2). */
  get subjectAndKey(): string {
    return (this.nameAndKey ??= `${this.subject.key}|${Buffer.from(this.spki).toString("base64")}`);
  }

  get isCa(): boolean {
    return this.ext.basicConstraints?.ca === true;
  }

  /** The subject public key as node:crypto needs it, imported once. */
  publicKey(): { readonly value?: KeyObject; readonly error?: string } {
    if (!this.key) {
      try {
        this.key = { value: readPublicKey(this.spki).publicKey };
      } catch (e) {
        this.key = { error: `the public key cannot be read: ${(e as Error).message}` };
      }
    }
    return this.key;
  }

  /** The key with DSA parameters inherited from the issuer (RFC 5280 §6.1.4(e)-(f)); not cached. */
  publicKeyWithParameters(parameters: Uint8Array): { readonly value?: KeyObject; readonly error?: string } {
    try {
      const root = readRoot(this.spki);
      const [, bits] = items(this.spki, root, "subjectPublicKeyInfo");
      const rebuilt = sequence(sequence(oid(OID_DSA), parameters), slice(this.spki, bits!));
      return { value: createPublicKey({ key: Buffer.from(rebuilt), format: "der", type: "spki" }) };
    } catch (e) {
      return { error: `the public key cannot be read with inherited DSA parameters: ${(e as Error).message}` };
    }
  }

  /** A DSA key whose parameters come from its issuer (§6.1.4(d)-(f)). */
  get inheritsKeyParameters(): boolean {
    return this.keyAlgorithm === OID_DSA && this.keyParameters === undefined;
  }
}

export const sha256Hex = (der: Uint8Array): string => createHash("sha256").update(der).digest("hex");

/** Decode a certificate for validation; INPUT_INVALID when the DER is not a certificate. */
export function parseCertificateForValidation(der: Uint8Array, id?: string): ParsedCertificate {
  try {
    return new ParsedCertificate(der, id);
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    throw new TrustlineError("INPUT_INVALID", `not a usable X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
}
