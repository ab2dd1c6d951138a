/**
 * A test-only certificate and CRL factory on the repository's DER writer and node:crypto: real,
 * signed certificates with whatever a test needs, including what no CA should issue (duplicate
 * extensions, unknown critical extensions, a TBS algorithm that differs from the outer one, SHA-1,
 * version 1 intermediates, names in PrintableString or UTF8String, odd spacing and case).
 * Synchronous and fast (no @peculiar/x509 encoding), so each test builds its own hierarchy.
 *
 *   const root = selfSigned({ subject: "/CN=Root" });
 *   const ca = issue(root, { subject: "/CN=CA", ca: true });
 *   const leaf = issue(ca, { subject: "/CN=leaf", eku: [EKU.clientAuth] });
 */
import { newKeyPair } from "./keys.js";
import { constants, createPrivateKey, createPublicKey, sign as nodeSign, type KeyObject } from "node:crypto";
import { keyIdentifier } from "../../ca/keys/signer.js";
import { toPem } from "../../ca/pem.js";
import { bitString, children, oid, readRoot, sequence, slice, tlv } from "../../ca/x509/der.js";
import { subjectPublicKeyBits } from "../../ca/x509/keys.js";
import { FIXED_NOW } from "./pki.js";
import { REVOCATION_REASONS, type RevocationReason } from "../../policy/index.js";

export const DAY = 86_400_000;

export const EKU = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  any: "2.5.29.37.0",
} as const;

export const ANY_POLICY = "2.5.29.32.0";
/** Test policy OIDs under 2.16.840.1.101.3.2.1.48 (the arc NIST PKITS uses for its test policies). */
export const POLICY = (n: number): string => `2.16.840.1.101.3.2.1.48.${n}`;

// ---------------------------------------------------------------------------------------------
// Keys

export type KeyAlg = "p256" | "p384" | "p521" | "rsa2048" | "ed25519" | "dsa";

export interface KeyPair {
  readonly alg: KeyAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly spki: Uint8Array;
}

const rsaPool: KeyPair[] = [];

/** A fresh key; RSA keys come from a small pool (generating one costs ~100 ms): pass `slot` for distinct ones. */
export function newKey(alg: KeyAlg = "p256", slot = 0): KeyPair {
  if (alg === "rsa2048") {
    while (rsaPool.length <= slot) rsaPool.push(makeKey("rsa2048"));
    return rsaPool[slot]!;
  }
  return makeKey(alg);
}

/** A key pair from a PEM private key (DSA keys sharing domain parameters come from `openssl genpkey -paramfile`). */
export function keyFromPem(privatePem: string, alg: KeyAlg): KeyPair {
  const privateKey = createPrivateKey(privatePem);
  const publicKey = createPublicKey(privateKey);
  return { alg, privateKey, publicKey, spki: new Uint8Array(publicKey.export({ format: "der", type: "spki" })) };
}

function makeKey(alg: KeyAlg): KeyPair {
  if (alg === "dsa") throw new Error("DSA keys: use keyFromPem with keys sharing domain parameters");
  const pair =
    alg === "rsa2048"
      ? newKeyPair("rsa", { modulusLength: 2048 })
      : alg === "ed25519"
        ? newKeyPair("ed25519")
        : newKeyPair("ec", { namedCurve: { p256: "P-256", p384: "P-384", p521: "P-521" }[alg] });
  return { alg, ...pair, spki: new Uint8Array(pair.publicKey.export({ format: "der", type: "spki" })) };
}

// ---------------------------------------------------------------------------------------------
// Primitive encodings

export function integer(v: bigint | number): Uint8Array {
  let n = BigInt(v);
  const bytes: number[] = [];
  if (n === 0n) bytes.push(0);
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
export const octetString = (b: Uint8Array) => tlv(0x04, b);
export const boolean = (b: boolean) => tlv(0x01, Uint8Array.of(b ? 0xff : 0));
export const ia5 = (s: string) => tlv(0x16, ascii(s));

export function time(d: Date): Uint8Array {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050 ? tlv(0x17, ascii(`${iso.slice(2)}Z`)) : tlv(0x18, ascii(`${iso}Z`));
}

export const generalizedTime = (d: Date): Uint8Array => tlv(0x18, ascii(`${d.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`));

/** A named-bit BIT STRING with trailing zero bits removed (DER). */
export function namedBits(bits: readonly number[]): Uint8Array {
  if (bits.length === 0) return tlv(0x03, Uint8Array.of(0));
  const max = Math.max(...bits);
  const bytes = new Uint8Array(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[b >> 3]! |= 0x80 >> (b & 7);
  return tlv(0x03, Uint8Array.of(7 - (max & 7)), bytes);
}

// ---------------------------------------------------------------------------------------------
// Names

const ATTRIBUTE_OIDS: Readonly<Record<string, string>> = {
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  serialNumber: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  E: "1.2.840.113549.1.9.1",
  DC: "0.9.2342.19200300.100.1.25",
};

export const STRING = { utf8: 0x0c, printable: 0x13, ia5: 0x16, teletex: 0x14, bmp: 0x1e } as const;

/** One attribute: [type, value, string tag (default UTF8String; C, E and DC as the RFC wants)]. */
export type Attribute = readonly [type: string, value: string, tag?: number];

function attribute([type, value, tag]: Attribute): Uint8Array {
  const oidText = ATTRIBUTE_OIDS[type] ?? type;
  const t = tag ?? (type === "C" ? STRING.printable : type === "E" || type === "DC" ? STRING.ia5 : STRING.utf8);
  const bytes = t === STRING.utf8 ? utf8(value) : t === STRING.bmp ? new Uint8Array(Buffer.from(value, "utf16le").swap16()) : ascii(value);
  return sequence(oid(oidText), tlv(t, bytes));
}

/** A Name from RDNs, most significant first; an RDN is one attribute or several (multi-valued). */
export function name(...rdns: readonly (Attribute | readonly Attribute[])[]): Uint8Array {
  return sequence(...rdns.map((r) => (Array.isArray(r[0]) ? tlv(0x31, ...(r as readonly Attribute[]).map(attribute)) : tlv(0x31, attribute(r as Attribute)))));
}

/** "/C=US/O=Acme/CN=Device CA" (OpenSSL -subj style, most significant first). "" is the empty name. */
export function dn(text: string): Uint8Array {
  if (text === "" || text === "/") return sequence();
  return name(
    ...text
      .split("/")
      .filter((p) => p.length > 0)
      .map((p) => {
        const eq = p.indexOf("=");
        return [p.slice(0, eq), p.slice(eq + 1)] as Attribute;
      }),
  );
}

// ---------------------------------------------------------------------------------------------
// General names and extensions

export type GeneralNameSpec = { email: string } | { dns: string } | { uri: string } | { ip: string } | { dn: string | Uint8Array } | { otherName: Uint8Array };

function ipBytes(text: string): number[] {
  const [addr, prefix] = text.split("/");
  const v4 = addr!.includes(".");
  let bytes: number[];
  if (v4) bytes = addr!.split(".").map(Number);
  else {
    const [head, tail] = addr!.split("::");
    const groups = (s: string | undefined) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
    const h = groups(head);
    const t = groups(tail);
    const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
    bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  }
  if (prefix === undefined) return bytes;
  const bits = Number(prefix);
  const mask = bytes.map((_, i) => Math.max(0, Math.min(8, bits - i * 8))).map((n) => (0xff << (8 - n)) & 0xff);
  return [...bytes, ...mask];
}

export function generalName(n: GeneralNameSpec): Uint8Array {
  if ("email" in n) return tlv(0x81, ascii(n.email));
  if ("dns" in n) return tlv(0x82, ascii(n.dns));
  if ("uri" in n) return tlv(0x86, ascii(n.uri));
  if ("ip" in n) return tlv(0x87, Uint8Array.from(ipBytes(n.ip)));
  if ("dn" in n) return tlv(0xa4, typeof n.dn === "string" ? dn(n.dn) : n.dn);
  return n.otherName;
}

/** A distribution point: a URI, or a URI and/or a CRL issuer (a Name) and the reasons it covers. */
export type DistributionPointSpec = string | { readonly uri?: string; readonly crlIssuer?: string | Uint8Array; readonly reasons?: readonly ReasonName[] };

export interface ExtensionSpec {
  readonly oid: string;
  readonly critical?: boolean;
  /** The extension value (what goes inside the OCTET STRING). */
  readonly value: Uint8Array;
}

export type KeyUsageName = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign";
const KU_BITS: Readonly<Record<KeyUsageName, number>> = { digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3, keyAgreement: 4, keyCertSign: 5, cRLSign: 6 };

export const ext = {
  basicConstraints: (ca: boolean, pathLen?: number, critical = true): ExtensionSpec => ({
    oid: "2.5.29.19",
    critical,
    value: sequence(...(ca ? [boolean(true)] : []), ...(pathLen !== undefined ? [integer(pathLen)] : [])),
  }),
  keyUsage: (usages: readonly KeyUsageName[], critical = true): ExtensionSpec => ({ oid: "2.5.29.15", critical, value: namedBits(usages.map((u) => KU_BITS[u])) }),
  extendedKeyUsage: (oids: readonly string[], critical = false): ExtensionSpec => ({ oid: "2.5.29.37", critical, value: sequence(...oids.map(oid)) }),
  subjectKeyIdentifier: (spki: Uint8Array): ExtensionSpec => ({ oid: "2.5.29.14", value: octetString(keyIdentifier(subjectPublicKeyBits(spki))) }),
  authorityKeyIdentifier: (issuerSpki: Uint8Array): ExtensionSpec => ({ oid: "2.5.29.35", value: sequence(tlv(0x80, keyIdentifier(subjectPublicKeyBits(issuerSpki)))) }),
  subjectAltName: (names: readonly GeneralNameSpec[], critical = false): ExtensionSpec => ({ oid: "2.5.29.17", critical, value: sequence(...names.map(generalName)) }),
  nameConstraints: (c: { permitted?: readonly GeneralNameSpec[]; excluded?: readonly GeneralNameSpec[] }, critical = true): ExtensionSpec => ({
    oid: "2.5.29.30",
    critical,
    value: sequence(
      ...(c.permitted ? [tlv(0xa0, ...c.permitted.map((n) => sequence(generalName(n))))] : []),
      ...(c.excluded ? [tlv(0xa1, ...c.excluded.map((n) => sequence(generalName(n))))] : []),
    ),
  }),
  certificatePolicies: (policies: readonly string[], critical = false): ExtensionSpec => ({
    oid: "2.5.29.32",
    critical,
    value: sequence(...policies.map((p) => sequence(oid(p)))),
  }),
  policyMappings: (mappings: readonly (readonly [issuerDomain: string, subjectDomain: string])[], critical = true): ExtensionSpec => ({
    oid: "2.5.29.33",
    critical,
    value: sequence(...mappings.map(([i, s]) => sequence(oid(i), oid(s)))),
  }),
  policyConstraints: (c: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number }, critical = true): ExtensionSpec => ({
    oid: "2.5.29.36",
    critical,
    value: sequence(
      ...(c.requireExplicitPolicy !== undefined ? [tlv(0x80, integer(c.requireExplicitPolicy).subarray(2))] : []),
      ...(c.inhibitPolicyMapping !== undefined ? [tlv(0x81, integer(c.inhibitPolicyMapping).subarray(2))] : []),
    ),
  }),
  inhibitAnyPolicy: (skipCerts: number, critical = true): ExtensionSpec => ({ oid: "2.5.29.54", critical, value: integer(skipCerts) }),
  crlDistributionPoints: (points: readonly DistributionPointSpec[]): ExtensionSpec => ({
    oid: "2.5.29.31",
    value: sequence(
      ...points.map((p) => {
        const dp = typeof p === "string" ? { uri: p } : p;
        return sequence(
          ...(dp.uri ? [tlv(0xa0, tlv(0xa0, generalName({ uri: dp.uri })))] : []),
          ...(dp.reasons ? [retag(namedBits(dp.reasons.map((r) => REASON_FLAG_BITS[r])), 0x81)] : []),
          ...(dp.crlIssuer ? [tlv(0xa2, generalName({ dn: dp.crlIssuer }))] : []),
        );
      }),
    ),
  }),
};

function encodeExtensions(list: readonly ExtensionSpec[]): Uint8Array {
  return tlv(0xa3, sequence(...list.map((e) => sequence(oid(e.oid), ...(e.critical ? [boolean(true)] : []), octetString(e.value)))));
}

// ---------------------------------------------------------------------------------------------
// Signatures

export type SignatureAlg = "ecdsa-sha1" | "ecdsa-sha256" | "ecdsa-sha384" | "ecdsa-sha512" | "rsa-sha1" | "rsa-sha256" | "rsa-sha384" | "rsa-sha512" | "rsa-pss-sha256" | "ed25519" | "dsa-sha256";

const HASH_OID: Readonly<Record<string, string>> = { sha256: "2.16.840.1.101.3.4.2.1", sha384: "2.16.840.1.101.3.4.2.2", sha512: "2.16.840.1.101.3.4.2.3" };
const NULL = tlv(0x05);

export function algorithmIdentifier(alg: SignatureAlg): Uint8Array {
  switch (alg) {
    case "ecdsa-sha1":
      return sequence(oid("1.2.840.10045.4.1"));
    case "ecdsa-sha256":
      return sequence(oid("1.2.840.10045.4.3.2"));
    case "ecdsa-sha384":
      return sequence(oid("1.2.840.10045.4.3.3"));
    case "ecdsa-sha512":
      return sequence(oid("1.2.840.10045.4.3.4"));
    case "rsa-sha1":
      return sequence(oid("1.2.840.113549.1.1.5"), NULL);
    case "rsa-sha256":
      return sequence(oid("1.2.840.113549.1.1.11"), NULL);
    case "rsa-sha384":
      return sequence(oid("1.2.840.113549.1.1.12"), NULL);
    case "rsa-sha512":
      return sequence(oid("1.2.840.113549.1.1.13"), NULL);
    case "rsa-pss-sha256": {
      const hash = sequence(oid(HASH_OID.sha256!), NULL);
      return sequence(oid("1.2.840.113549.1.1.10"), sequence(tlv(0xa0, hash), tlv(0xa1, sequence(oid("1.2.840.113549.1.1.8"), hash)), tlv(0xa2, integer(32))));
    }
    case "ed25519":
      return sequence(oid("1.3.101.112"));
    case "dsa-sha256":
      return sequence(oid("2.16.840.1.101.3.4.3.2"));
  }
}

export function defaultSignatureAlg(key: KeyPair): SignatureAlg {
  return ({ p256: "ecdsa-sha256", p384: "ecdsa-sha384", p521: "ecdsa-sha512", rsa2048: "rsa-sha256", ed25519: "ed25519", dsa: "dsa-sha256" } as const)[key.alg];
}

export function signBytes(alg: SignatureAlg, data: Uint8Array, key: KeyObject): Uint8Array {
  const hash = alg === "ed25519" ? null : alg.endsWith("sha1") ? "sha1" : alg.slice(-6);
  if (alg === "rsa-pss-sha256") return new Uint8Array(nodeSign("sha256", data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }));
  return new Uint8Array(nodeSign(hash, data, key));
}

// ---------------------------------------------------------------------------------------------
// Certificates

export interface Issued {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly key: KeyPair;
  /** The subject Name, DER. */
  readonly name: Uint8Array;
  readonly serial: bigint;
}

export interface CertSpec {
  readonly subject: string | Uint8Array;
  /** The issuer Name written into the certificate (default: the issuer's subject). */
  readonly issuerName?: string | Uint8Array;
  readonly key?: KeyPair;
  readonly serial?: bigint | number;
  /** The serialNumber INTEGER's content bytes as written (negative or oversized serials, §4.1.2.2). */
  readonly rawSerial?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly version?: 1 | 2 | 3;
  /** Encode both validity dates as GeneralizedTime whatever the year (against RFC 5280 §4.1.2.5 before 2050). */
  readonly generalizedTime?: boolean;
  /** A CA certificate (basicConstraints cA TRUE, keyUsage keyCertSign + cRLSign), with an optional pathLen. */
  readonly ca?: boolean | { readonly pathLen?: number };
  readonly keyUsage?: readonly KeyUsageName[] | null;
  readonly eku?: readonly string[];
  readonly san?: readonly GeneralNameSpec[];
  readonly nameConstraints?: { permitted?: readonly GeneralNameSpec[]; excluded?: readonly GeneralNameSpec[] };
  readonly policies?: readonly string[];
  readonly policyMappings?: readonly (readonly [string, string])[];
  readonly policyConstraints?: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number };
  readonly inhibitAnyPolicy?: number;
  readonly crlDistributionPoints?: readonly DistributionPointSpec[];
  /** Omit the key identifiers (default: both present, as RFC 5280 wants). */
  readonly noKeyIdentifiers?: boolean;
  /** Omit basicConstraints even on a CA (for the §6.1.4(k) tests). */
  readonly noBasicConstraints?: boolean;
  /** More extensions, appended in order (duplicates and unknown critical ones allowed). */
  readonly extensions?: readonly ExtensionSpec[];
  /** Replace every extension by exactly these. */
  readonly onlyExtensions?: readonly ExtensionSpec[];
  readonly signatureAlg?: SignatureAlg;
  /** The TBS `signature` field, when it must differ from the outer algorithm. */
  readonly tbsSignatureAlg?: SignatureAlg;
  /** Flip a bit of the signature. */
  readonly corruptSignature?: boolean;
  /** Sign with this key instead of the issuer's (a forged certificate). */
  readonly signingKey?: KeyPair;
  /** Write the SubjectPublicKeyInfo without algorithm parameters (DSA parameter inheritance, RFC 5280 §6.1.4(e)). */
  readonly omitKeyParameters?: boolean;
}

let nextSerial = 1000n;

function extensionsFor(spec: CertSpec, spki: Uint8Array, issuerSpki: Uint8Array): ExtensionSpec[] {
  if (spec.onlyExtensions) return [...spec.onlyExtensions];
  const list: ExtensionSpec[] = [];
  const ca = spec.ca !== undefined && spec.ca !== false;
  if (!spec.noBasicConstraints && spec.ca !== undefined) {
    list.push(ext.basicConstraints(ca, typeof spec.ca === "object" ? spec.ca.pathLen : undefined));
  }
  const ku = spec.keyUsage === undefined ? (ca ? (["keyCertSign", "cRLSign"] as const) : (["digitalSignature"] as const)) : spec.keyUsage;
  if (ku !== null) list.push(ext.keyUsage(ku));
  if (spec.eku) list.push(ext.extendedKeyUsage(spec.eku));
  if (!spec.noKeyIdentifiers) {
    list.push(ext.subjectKeyIdentifier(spki));
    list.push(ext.authorityKeyIdentifier(issuerSpki));
  }
  // RFC 5280 §4.2.1.6: with an empty subject the SAN MUST be critical.
  if (spec.san) list.push(ext.subjectAltName(spec.san, asName(spec.subject).length === 2));
  if (spec.nameConstraints) list.push(ext.nameConstraints(spec.nameConstraints));
  if (spec.policies) list.push(ext.certificatePolicies(spec.policies));
  if (spec.policyMappings) list.push(ext.policyMappings(spec.policyMappings));
  if (spec.policyConstraints) list.push(ext.policyConstraints(spec.policyConstraints));
  if (spec.inhibitAnyPolicy !== undefined) list.push(ext.inhibitAnyPolicy(spec.inhibitAnyPolicy));
  if (spec.crlDistributionPoints) list.push(ext.crlDistributionPoints(spec.crlDistributionPoints));
  list.push(...(spec.extensions ?? []));
  return list;
}

const asName = (n: string | Uint8Array) => (typeof n === "string" ? dn(n) : n);

function build(spec: CertSpec, issuer: { name: Uint8Array; key: KeyPair } | "self"): Issued {
  const key = spec.key ?? newKey();
  const subject = asName(spec.subject);
  const issuerKey = issuer === "self" ? key : issuer.key;
  const issuerName = spec.issuerName !== undefined ? asName(spec.issuerName) : issuer === "self" ? subject : issuer.name;
  const signer = spec.signingKey ?? issuerKey;
  const alg = spec.signatureAlg ?? defaultSignatureAlg(signer);
  const serial = BigInt(spec.serial ?? nextSerial++);
  const notBefore = spec.notBefore ?? new Date(FIXED_NOW.getTime() - 30 * DAY);
  const notAfter = spec.notAfter ?? new Date(FIXED_NOW.getTime() + 365 * DAY);
  const version = spec.version ?? 3;
  const extensions = version === 3 ? extensionsFor(spec, key.spki, issuerKey.spki) : [];
  const tbs = sequence(
    ...(version > 1 ? [tlv(0xa0, integer(version - 1))] : []),
    spec.rawSerial ? tlv(0x02, spec.rawSerial) : integer(serial),
    algorithmIdentifier(spec.tbsSignatureAlg ?? alg),
    issuerName,
    spec.generalizedTime ? sequence(generalizedTime(notBefore), generalizedTime(notAfter)) : sequence(time(notBefore), time(notAfter)),
    subject,
    spec.omitKeyParameters ? withoutParameters(key.spki) : key.spki,
    ...(extensions.length > 0 ? [encodeExtensions(extensions)] : []),
  );
  const signature = signBytes(alg, tbs, signer.privateKey);
  if (spec.corruptSignature) signature[signature.length - 1]! ^= 0x01;
  const der = sequence(tbs, algorithmIdentifier(alg), bitString(signature));
  return { der, pem: toPem(der, "CERTIFICATE"), key, name: subject, serial };
}

/** SEQUENCE { SEQUENCE { algorithm }, subjectPublicKey }: the SPKI with its parameters dropped. */
function withoutParameters(spki: Uint8Array): Uint8Array {
  const root = readRoot(spki);
  const [alg, bits] = children(spki, root);
  const [algOid] = children(spki, alg!);
  return sequence(sequence(slice(spki, algOid!)), slice(spki, bits!));
}

/** A self-signed CA certificate (a root), CA by default. */
export function selfSigned(spec: CertSpec): Issued {
  return build({ ca: true, ...spec }, "self");
}

/** An issuer known only by its name and key (no certificate of its own needed to sign with). */
export function issuerNamed(subject: string | Uint8Array, key: KeyPair): Issued {
  return { der: new Uint8Array(), pem: "", key, name: asName(subject), serial: 0n };
}

/** A certificate issued by `issuer`. */
export function issue(issuer: Issued, spec: CertSpec): Issued {
  return build(spec, issuer);
}

// ---------------------------------------------------------------------------------------------
// CRLs

export type ReasonName = RevocationReason;
const REASON_CODES: Readonly<Record<ReasonName, number>> = REVOCATION_REASONS;

/** ReasonFlags bit numbers (RFC 5280 §4.2.1.13): as the CRLReason codes, less removeFromCRL. */
const REASON_FLAG_BITS: Readonly<Record<ReasonName, number>> = { ...REASON_CODES, removeFromCRL: -1, privilegeWithdrawn: 7, aACompromise: 8 };

export interface CrlSpec {
  readonly thisUpdate?: Date;
  /** null: no nextUpdate. */
  readonly nextUpdate?: Date | null;
  readonly number?: bigint | number;
  /** Leave the cRLNumber out, or mark it critical (both against RFC 5280 §5.2.3). */
  readonly noNumber?: boolean;
  readonly numberCritical?: boolean;
  /** Entries; `certificateIssuer` (a Name) starts a run of entries for another issuer (indirect CRLs). */
  readonly revoked?: readonly { readonly serial: bigint | number; readonly date?: Date; readonly reason?: ReasonName; readonly certificateIssuer?: string | Uint8Array }[];
  /** issuingDistributionPoint fields. */
  readonly idp?: { readonly uri?: string; readonly onlyUser?: boolean; readonly onlyCa?: boolean; readonly onlySomeReasons?: readonly ReasonName[]; readonly indirect?: boolean };
  /** Make a delta CRL on this base CRL number. */
  readonly deltaBase?: bigint | number;
  /** Sign with another certificate's key (a CRL signer separate from the issuer), naming the issuer still. */
  readonly signer?: Issued;
  readonly issuerName?: string | Uint8Array;
  readonly signatureAlg?: SignatureAlg;
  readonly extensions?: readonly ExtensionSpec[];
  readonly corruptSignature?: boolean;
}

export interface IssuedCrl {
  readonly der: Uint8Array;
  readonly pem: string;
}

export function crl(issuer: Issued, spec: CrlSpec = {}): IssuedCrl {
  const signer = spec.signer?.key ?? issuer.key;
  const alg = spec.signatureAlg ?? defaultSignatureAlg(signer);
  const thisUpdate = spec.thisUpdate ?? new Date(FIXED_NOW.getTime() - DAY);
  const nextUpdate = spec.nextUpdate === null ? undefined : (spec.nextUpdate ?? new Date(FIXED_NOW.getTime() + 7 * DAY));
  const entries = (spec.revoked ?? []).map((r) => {
    const entryExtensions = [
      ...(r.reason ? [sequence(oid("2.5.29.21"), octetString(tlv(0x0a, Uint8Array.of(REASON_CODES[r.reason]))))] : []),
      ...(r.certificateIssuer !== undefined ? [sequence(oid("2.5.29.29"), boolean(true), octetString(sequence(generalName({ dn: r.certificateIssuer }))))] : []),
    ];
    return sequence(integer(r.serial), time(r.date ?? new Date(thisUpdate.getTime() - DAY)), ...(entryExtensions.length > 0 ? [sequence(...entryExtensions)] : []));
  });
  const crlExtensions: ExtensionSpec[] = [
    { oid: "2.5.29.35", value: sequence(tlv(0x80, keyIdentifier(subjectPublicKeyBits(signer.spki)))) },
    ...(spec.noNumber ? [] : [{ oid: "2.5.29.20", critical: spec.numberCritical === true, value: integer(spec.number ?? 1) }]),
  ];
  if (spec.deltaBase !== undefined) crlExtensions.push({ oid: "2.5.29.27", critical: true, value: integer(spec.deltaBase) });
  if (spec.idp) {
    const i = spec.idp;
    crlExtensions.push({
      oid: "2.5.29.28",
      critical: true,
      value: sequence(
        ...(i.uri ? [tlv(0xa0, tlv(0xa0, generalName({ uri: i.uri })))] : []),
        ...(i.onlyUser ? [tlv(0x81, Uint8Array.of(0xff))] : []),
        ...(i.onlyCa ? [tlv(0x82, Uint8Array.of(0xff))] : []),
        ...(i.onlySomeReasons ? [retag(namedBits(i.onlySomeReasons.map((r) => REASON_FLAG_BITS[r])), 0x83)] : []),
        ...(i.indirect ? [tlv(0x84, Uint8Array.of(0xff))] : []),
      ),
    });
  }
  crlExtensions.push(...(spec.extensions ?? []));
  const tbs = sequence(
    integer(1),
    algorithmIdentifier(alg),
    spec.issuerName !== undefined ? asName(spec.issuerName) : issuer.name,
    time(thisUpdate),
    ...(nextUpdate ? [time(nextUpdate)] : []),
    ...(entries.length > 0 ? [sequence(...entries)] : []),
    tlv(0xa0, sequence(...crlExtensions.map((e) => sequence(oid(e.oid), ...(e.critical ? [boolean(true)] : []), octetString(e.value))))),
  );
  const signature = signBytes(alg, tbs, signer.privateKey);
  if (spec.corruptSignature) signature[signature.length - 1]! ^= 0x01;
  const der = sequence(tbs, algorithmIdentifier(alg), bitString(signature));
  return { der, pem: toPem(der, "X509 CRL") };
}

/** The same TLV under another tag (IMPLICIT tagging). */
function retag(der: Uint8Array, tag: number): Uint8Array {
  const out = der.slice();
  out[0] = tag;
  return out;
}
