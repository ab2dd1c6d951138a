/**
 * Decoders for the certificate extensions that path validation acts on (RFC 5280 §4.2). Each takes
 * the extension's value (the OCTET STRING's content) and returns a plain value, or throws DerError;
 * the caller records a failure against the certificate instead of refusing the whole input.
 */
import {
  ctx,
  ctxCons,
  DerError,
  TAG,
  content,
  hex,
  items,
  readBoolean,
  readNamedBits,
  readOid,
  readSmallInteger,
  rootOf,
  type Tlv,
} from "./asn1.js";
import { parseGeneralName, parseGeneralNames, type GeneralName } from "./general-names.js";
import { parseRdn } from "./names.js";

export const EXT = {
  subjectDirectoryAttributes: "2.5.29.9",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  issuerAltName: "2.5.29.18",
  basicConstraints: "2.5.29.19",
  nameConstraints: "2.5.29.30",
  crlDistributionPoints: "2.5.29.31",
  certificatePolicies: "2.5.29.32",
  policyMappings: "2.5.29.33",
  authorityKeyIdentifier: "2.5.29.35",
  policyConstraints: "2.5.29.36",
  extendedKeyUsage: "2.5.29.37",
  freshestCrl: "2.5.29.46",
  inhibitAnyPolicy: "2.5.29.54",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  subjectInfoAccess: "1.3.6.1.5.5.7.1.11",
} as const;

export const ANY_POLICY = "2.5.29.32.0";

/** keyUsage bits (RFC 5280 §4.2.1.3), as bit masks over the named-bit BIT STRING. */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

export interface BasicConstraints {
  readonly ca: boolean;
  readonly pathLen?: number;
}

export interface AuthorityKeyIdentifier {
  readonly keyId?: string;
  readonly issuer?: readonly GeneralName[];
  readonly serial?: string;
}

export interface NameConstraints {
  readonly permitted?: readonly GeneralName[];
  readonly excluded?: readonly GeneralName[];
}

export interface PolicyInformation {
  readonly oid: string;
  /** The policyQualifiers SEQUENCE, DER, when present (kept, not interpreted: §6.1 only carries them). */
  readonly qualifiers?: Uint8Array;
}

export interface PolicyMapping {
  readonly issuerDomainPolicy: string;
  readonly subjectDomainPolicy: string;
}

export interface PolicyConstraints {
  readonly requireExplicitPolicy?: number;
  readonly inhibitPolicyMapping?: number;
}

/** A distribution point's name: full names, or one RDN to append to the CRL issuer's name. */
export type DistributionPointName = { readonly fullName: readonly GeneralName[] } | { readonly relativeRdnKey: string };

export interface DistributionPoint {
  readonly name?: DistributionPointName;
  /** ReasonFlags bits (bit 1 keyCompromise ... bit 8 aACompromise); undefined: all reasons. */
  readonly reasons?: number;
  readonly crlIssuer?: readonly GeneralName[];
}

const value = (bytes: Uint8Array, tag: number, what: string): Tlv => rootOf(bytes, tag, what);

export function decodeBasicConstraints(v: Uint8Array): BasicConstraints {
  const fields = items(v, value(v, TAG.SEQUENCE, "basicConstraints"), "basicConstraints");
  let i = 0;
  let ca = false;
  if (fields[i]?.tag === TAG.BOOLEAN) ca = readBoolean(v, fields[i++]!, "basicConstraints cA");
  let pathLen: number | undefined;
  if (fields[i]?.tag === TAG.INTEGER) pathLen = readSmallInteger(v, fields[i++]!, "pathLenConstraint");
  if (i !== fields.length) throw new DerError("basicConstraints has unexpected fields");
  return pathLen === undefined ? { ca } : { ca, pathLen };
}

export function decodeKeyUsage(v: Uint8Array): number {
  return readNamedBits(v, value(v, TAG.BIT_STRING, "keyUsage"), "keyUsage");
}

export function decodeExtendedKeyUsage(v: Uint8Array): string[] {
  const list = items(v, value(v, TAG.SEQUENCE, "extendedKeyUsage"), "extendedKeyUsage");
  if (list.length === 0) throw new DerError("extendedKeyUsage is empty");
  return list.map((t) => readOid(v, t, "KeyPurposeId"));
}

export function decodeSubjectKeyIdentifier(v: Uint8Array): string {
  return hex(content(v, value(v, TAG.OCTET_STRING, "subjectKeyIdentifier")));
}

export function decodeAuthorityKeyIdentifier(v: Uint8Array): AuthorityKeyIdentifier {
  let keyId: string | undefined;
  let issuer: GeneralName[] | undefined;
  let serial: string | undefined;
  for (const f of items(v, value(v, TAG.SEQUENCE, "authorityKeyIdentifier"), "authorityKeyIdentifier")) {
    if (f.tag === ctx(0)) keyId = hex(content(v, f));
    else if (f.tag === ctxCons(1)) issuer = parseGeneralNames(v, f, "authorityCertIssuer", ctxCons(1));
    else if (f.tag === ctx(2)) serial = hex(content(v, f));
    else throw new DerError(`authorityKeyIdentifier: unexpected field 0x${f.tag.toString(16)}`);
  }
  return { ...(keyId !== undefined ? { keyId } : {}), ...(issuer ? { issuer } : {}), ...(serial !== undefined ? { serial } : {}) };
}

export function decodeSubjectAltName(v: Uint8Array): GeneralName[] {
  return parseGeneralNames(v, value(v, TAG.SEQUENCE, "subjectAltName"), "subjectAltName");
}

function decodeSubtrees(v: Uint8Array, t: Tlv, what: string): GeneralName[] {
  const subtrees = items(v, t, what, t.tag);
  if (subtrees.length === 0) throw new DerError(`${what} is empty`);
  // minimum and maximum (which RFC 5280 says MUST be absent / zero) are not used by the comparison.
  return subtrees.map((s) => {
    const base = items(v, s, "GeneralSubtree")[0];
    if (!base) throw new DerError(`${what}: a GeneralSubtree has no base`);
    return parseGeneralName(v, base, "constraint");
  });
}

export function decodeNameConstraints(v: Uint8Array): NameConstraints {
  let permitted: GeneralName[] | undefined;
  let excluded: GeneralName[] | undefined;
  for (const f of items(v, value(v, TAG.SEQUENCE, "nameConstraints"), "nameConstraints")) {
    if (f.tag === ctxCons(0) && !permitted) permitted = decodeSubtrees(v, f, "permittedSubtrees");
    else if (f.tag === ctxCons(1) && !excluded) excluded = decodeSubtrees(v, f, "excludedSubtrees");
    else throw new DerError(`nameConstraints: unexpected field 0x${f.tag.toString(16)}`);
  }
  // §4.2.1.10: "Conforming CAs MUST NOT issue certificates where name constraints is an empty sequence."
  if (!permitted && !excluded) throw new DerError("nameConstraints is an empty sequence");
  return { ...(permitted ? { permitted } : {}), ...(excluded ? { excluded } : {}) };
}

export function decodeCertificatePolicies(v: Uint8Array): PolicyInformation[] {
  const infos = items(v, value(v, TAG.SEQUENCE, "certificatePolicies"), "certificatePolicies");
  if (infos.length === 0) throw new DerError("certificatePolicies is empty");
  const seen = new Set<string>();
  return infos.map((info) => {
    const [idTlv, qualifiers, extra] = items(v, info, "PolicyInformation");
    if (extra) throw new DerError("PolicyInformation has unexpected fields");
    const oid = readOid(v, idTlv, "policyIdentifier");
    // §4.2.1.4: "A certificate policy OID MUST NOT appear more than once in a certificate policies extension."
    if (seen.has(oid)) throw new DerError(`certificatePolicies lists ${oid} twice`);
    seen.add(oid);
    if (qualifiers && qualifiers.tag !== TAG.SEQUENCE) throw new DerError("policyQualifiers is not a SEQUENCE");
    return qualifiers ? { oid, qualifiers: v.subarray(qualifiers.start, qualifiers.end) } : { oid };
  });
}

export function decodePolicyMappings(v: Uint8Array): PolicyMapping[] {
  const list = items(v, value(v, TAG.SEQUENCE, "policyMappings"), "policyMappings");
  if (list.length === 0) throw new DerError("policyMappings is empty");
  return list.map((m) => {
    const [issuer, subject, extra] = items(v, m, "policy mapping");
    if (extra) throw new DerError("a policy mapping has unexpected fields");
    return { issuerDomainPolicy: readOid(v, issuer, "issuerDomainPolicy"), subjectDomainPolicy: readOid(v, subject, "subjectDomainPolicy") };
  });
}

export function decodePolicyConstraints(v: Uint8Array): PolicyConstraints {
  let requireExplicitPolicy: number | undefined;
  let inhibitPolicyMapping: number | undefined;
  for (const f of items(v, value(v, TAG.SEQUENCE, "policyConstraints"), "policyConstraints")) {
    if (f.tag === ctx(0) && requireExplicitPolicy === undefined) requireExplicitPolicy = readSmallInteger(v, f, "requireExplicitPolicy", ctx(0));
    else if (f.tag === ctx(1) && inhibitPolicyMapping === undefined) inhibitPolicyMapping = readSmallInteger(v, f, "inhibitPolicyMapping", ctx(1));
    else throw new DerError(`policyConstraints: unexpected field 0x${f.tag.toString(16)}`);
  }
  // §4.2.1.11: "Conforming CAs MUST NOT issue certificates where policy constraints is an empty sequence."
  if (requireExplicitPolicy === undefined && inhibitPolicyMapping === undefined) throw new DerError("policyConstraints is an empty sequence");
  return {
    ...(requireExplicitPolicy !== undefined ? { requireExplicitPolicy } : {}),
    ...(inhibitPolicyMapping !== undefined ? { inhibitPolicyMapping } : {}),
  };
}

export function decodeInhibitAnyPolicy(v: Uint8Array): number {
  return readSmallInteger(v, value(v, TAG.INTEGER, "inhibitAnyPolicy"), "inhibitAnyPolicy");
}

/** DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] RDN }. */
export function decodeDistributionPointName(v: Uint8Array, t: Tlv): DistributionPointName {
  const [choice, extra] = items(v, t, "DistributionPointName", t.tag);
  if (!choice || extra) throw new DerError("malformed DistributionPointName");
  if (choice.tag === ctxCons(0)) return { fullName: parseGeneralNames(v, choice, "fullName", ctxCons(0)) };
  if (choice.tag === ctxCons(1)) return { relativeRdnKey: parseRdn(v, { ...choice, tag: TAG.SET }).key };
  throw new DerError(`DistributionPointName: unexpected choice 0x${choice.tag.toString(16)}`);
}

export function decodeCrlDistributionPoints(v: Uint8Array): DistributionPoint[] {
  const points = items(v, value(v, TAG.SEQUENCE, "cRLDistributionPoints"), "cRLDistributionPoints");
  if (points.length === 0) throw new DerError("cRLDistributionPoints is empty");
  return points.map((p) => {
    let name: DistributionPointName | undefined;
    let reasons: number | undefined;
    let crlIssuer: GeneralName[] | undefined;
    for (const f of items(v, p, "DistributionPoint")) {
      if (f.tag === ctxCons(0)) name = decodeDistributionPointName(v, f);
      else if (f.tag === ctx(1)) reasons = readNamedBits(v, f, "reasons", ctx(1));
      else if (f.tag === ctxCons(2)) crlIssuer = parseGeneralNames(v, f, "cRLIssuer", ctxCons(2));
      else throw new DerError(`DistributionPoint: unexpected field 0x${f.tag.toString(16)}`);
    }
    return { ...(name ? { name } : {}), ...(reasons !== undefined ? { reasons } : {}), ...(crlIssuer ? { crlIssuer } : {}) };
  });
}
