/**
 * CMS SignedData (RFC 5652) as firmware signatures and RFC 3161 timestamp tokens use it: encode a
 * detached SignedData with DER-sorted signed attributes, and parse one (ours, OpenSSL's, a TSA's).
 * Import-free of issuing code: the verifier and an update server use it.
 */
import { children, content, DerError, oid, oidText, readRoot, readTlv, sequence, slice, tlv, type Tlv } from "../x509/der.js";

export const CMS_OIDS = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  tstInfo: "1.2.840.113549.1.9.16.1.4",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  signingCertificateV2: "1.2.840.113549.1.9.16.2.47",
  signingCertificate: "1.2.840.113549.1.9.16.2.12",
  algorithmProtection: "1.2.840.113549.1.9.52",
  timeStampToken: "1.2.840.113549.1.9.16.2.14",
} as const;

export const DIGEST_OIDS: Readonly<Record<string, "sha256" | "sha384" | "sha512">> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export function digestAlgorithmIdentifier(hash: "sha256" | "sha384" | "sha512"): Uint8Array {
  const id = Object.entries(DIGEST_OIDS).find(([, h]) => h === hash)![0];
  // RFC 5754 §2: the parameters of SHA-2 AlgorithmIdentifiers are absent.
  return sequence(oid(id));
}

export interface Attribute {
  readonly type: string;
  /** DER of each value in the attribute's SET. */
  readonly values: readonly Uint8Array[];
}

export function encodeAttribute(type: string, value: Uint8Array): Uint8Array {
  return sequence(oid(type), tlv(0x31, value));
}

/** X.690 §11.6: the elements of a DER SET OF are sorted by their encodings (pkijs does not do this). */
export function derSetOf(elements: readonly Uint8Array[], tag = 0x31): Uint8Array {
  const sorted = [...elements].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return tlv(tag, ...sorted);
}

export interface SignerInfoInput {
  /** The signer certificate's issuer Name (DER) and serial (content bytes of its INTEGER). */
  readonly issuerName: Uint8Array;
  readonly serialContent: Uint8Array;
  readonly digestAlgorithm: Uint8Array;
  readonly signedAttributes: readonly Uint8Array[];
  readonly signatureAlgorithm: Uint8Array;
  readonly signature: Uint8Array;
  readonly unsignedAttributes?: readonly Uint8Array[];
}

/** The bytes a SignerInfo's signature covers: DER SET OF the (sorted) signed attributes, tag 0x31. */
export function signedAttributesToSign(attributes: readonly Uint8Array[]): Uint8Array {
  return derSetOf(attributes, 0x31);
}

export function encodeSignerInfo(s: SignerInfoInput): Uint8Array {
  return sequence(
    tlv(0x02, Uint8Array.of(1)),
    sequence(s.issuerName, tlv(0x02, s.serialContent)),
    s.digestAlgorithm,
    derSetOf(s.signedAttributes, 0xa0), // [0] IMPLICIT SET OF, same order as what was signed
    s.signatureAlgorithm,
    tlv(0x04, s.signature),
    ...(s.unsignedAttributes?.length ? [derSetOf(s.unsignedAttributes, 0xa1)] : []),
  );
}

/** ContentInfo(SignedData), detached id-data. `certificates`: signer first, then intermediates. */
export function encodeDetachedSignedData(input: { digestAlgorithm: Uint8Array; certificates: readonly Uint8Array[]; crls?: readonly Uint8Array[]; signerInfo: Uint8Array }): Uint8Array {
  const signedData = sequence(
    tlv(0x02, Uint8Array.of(1)),
    derSetOf([input.digestAlgorithm]),
    sequence(oid(CMS_OIDS.data)),
    derSetOf(input.certificates, 0xa0),
    ...(input.crls?.length ? [derSetOf(input.crls, 0xa1)] : []),
    tlv(0x31, input.signerInfo),
  );
  return sequence(oid(CMS_OIDS.signedData), tlv(0xa0, signedData));
}

// ---------------------------------------------------------------------------------------------

export interface ParsedSignerInfo {
  readonly version: number;
  /** IssuerAndSerialNumber: issuer Name DER and serial hex; undefined for SubjectKeyIdentifier sids. */
  readonly issuer?: Uint8Array;
  readonly serial?: string;
  readonly subjectKeyId?: Uint8Array;
  readonly digestAlgorithm: string;
  /** The [0] IMPLICIT signed attributes exactly as encoded (tag 0xA0), or undefined when absent. */
  readonly signedAttributesRaw?: Uint8Array;
  readonly signedAttributes: readonly Attribute[];
  readonly signatureAlgorithm: string;
  /** The AlgorithmIdentifier, DER. */
  readonly signatureAlgorithmDer: Uint8Array;
  readonly signature: Uint8Array;
  readonly unsignedAttributes: readonly Attribute[];
}

export interface ParsedSignedData {
  readonly eContentType: string;
  /** The encapsulated content (a TSA's TSTInfo); undefined when detached. */
  readonly eContent?: Uint8Array;
  readonly digestAlgorithms: readonly string[];
  readonly certificates: readonly Uint8Array[];
  readonly crls: readonly Uint8Array[];
  readonly signerInfos: readonly ParsedSignerInfo[];
}

function parseAttributes(buf: Uint8Array, set: Tlv): Attribute[] {
  return children(buf, set).map((attr) => {
    const [type, values] = children(buf, attr);
    if (!type || !values || type.tag !== 0x06 || values.tag !== 0x31) throw new DerError("malformed attribute");
    return { type: oidText(content(buf, type)), values: children(buf, values).map((v) => slice(buf, v)) };
  });
}

function parseSignerInfo(buf: Uint8Array, t: Tlv): ParsedSignerInfo {
  const parts = children(buf, t);
  let i = 0;
  const version = parts[i++];
  const sid = parts[i++];
  const digest = parts[i++];
  if (!version || !sid || !digest) throw new DerError("incomplete SignerInfo");
  let signedAttributesRaw: Uint8Array | undefined;
  let signedAttributes: Attribute[] = [];
  if (parts[i]?.tag === 0xa0) {
    signedAttributesRaw = slice(buf, parts[i]!);
    signedAttributes = parseAttributes(buf, parts[i++]!);
  }
  const sigAlg = parts[i++];
  const signature = parts[i++];
  if (!sigAlg || !signature || signature.tag !== 0x04) throw new DerError("SignerInfo without signature");
  const unsigned = parts[i]?.tag === 0xa1 ? parseAttributes(buf, parts[i]!) : [];
  let issuer: Uint8Array | undefined;
  let serial: string | undefined;
  let subjectKeyId: Uint8Array | undefined;
  if (sid.tag === 0x30) {
    const [name, serialTlv] = children(buf, sid);
    if (!name || !serialTlv) throw new DerError("malformed IssuerAndSerialNumber");
    issuer = slice(buf, name);
    let s = serialTlv.contentStart;
    while (s < serialTlv.end - 1 && buf[s] === 0) s++;
    serial = Buffer.from(buf.subarray(s, serialTlv.end)).toString("hex");
  } else if (sid.tag === 0x80) {
    subjectKeyId = content(buf, sid);
  } else throw new DerError("unknown SignerIdentifier");
  return {
    version: content(buf, version)[0] ?? 0,
    ...(issuer ? { issuer } : {}),
    ...(serial ? { serial } : {}),
    ...(subjectKeyId ? { subjectKeyId } : {}),
    digestAlgorithm: oidText(content(buf, children(buf, digest)[0]!)),
    ...(signedAttributesRaw ? { signedAttributesRaw } : {}),
    signedAttributes,
    signatureAlgorithm: oidText(content(buf, children(buf, sigAlg)[0]!)),
    signatureAlgorithmDer: slice(buf, sigAlg),
    signature: content(buf, signature),
    unsignedAttributes: unsigned,
  };
}

/** Parse ContentInfo(SignedData). DER only (a BER, indefinite-length file is refused). */
export function parseSignedData(der: Uint8Array): ParsedSignedData {
  const root = readRoot(der);
  const [type, explicit] = children(der, root);
  if (!type || type.tag !== 0x06 || oidText(content(der, type)) !== CMS_OIDS.signedData || !explicit || explicit.tag !== 0xa0) {
    throw new DerError("not a CMS SignedData (ContentInfo with id-signedData)");
  }
  const sd = readTlv(der, explicit.contentStart, explicit.end);
  const parts = children(der, sd);
  let i = 1; // version
  const digestAlgorithms = children(der, parts[i++]!).map((a) => oidText(content(der, children(der, a)[0]!)));
  const encap = parts[i++];
  if (!encap) throw new DerError("SignedData without encapContentInfo");
  const [eType, eExplicit] = children(der, encap);
  if (!eType) throw new DerError("encapContentInfo without eContentType");
  let eContent: Uint8Array | undefined;
  if (eExplicit) eContent = content(der, readTlv(der, eExplicit.contentStart, eExplicit.end));
  let certificates: Uint8Array[] = [];
  let crls: Uint8Array[] = [];
  if (parts[i]?.tag === 0xa0) certificates = children(der, parts[i++]!).map((c) => slice(der, c));
  if (parts[i]?.tag === 0xa1) crls = children(der, parts[i++]!).map((c) => slice(der, c));
  const infos = parts[i];
  if (!infos || infos.tag !== 0x31) throw new DerError("SignedData without signerInfos");
  return {
    eContentType: oidText(content(der, eType)),
    ...(eContent ? { eContent } : {}),
    digestAlgorithms,
    certificates,
    crls,
    signerInfos: children(der, infos).map((s) => parseSignerInfo(der, s)),
  };
}

/** The SET OF bytes a signature covers, from the [0] IMPLICIT form it is stored in. */
export function signedBytesOf(signedAttributesRaw: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(signedAttributesRaw);
  copy[0] = 0x31;
  return copy;
}

/** Whether a stored SET OF is DER-canonical: sorted by encoding (X.690 §11.6). */
export function isSortedSet(raw: Uint8Array): boolean {
  const t = readRoot(Uint8Array.from([0x31, ...raw.subarray(1)]), 0x31);
  const buf = Uint8Array.from([0x31, ...raw.subarray(1)]);
  const items = children(buf, t).map((c) => slice(buf, c));
  for (let k = 1; k < items.length; k++) if (Buffer.compare(Buffer.from(items[k - 1]!), Buffer.from(items[k]!)) > 0) return false;
  return true;
}
