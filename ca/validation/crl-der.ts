/**
 * A CrlView over a DER CRL (RFC 5280 §5), read with the schema-less DER walker. Entries are indexed
 * by serial when the CRL is read; it suits the CRLs of a device PKI (thousands of entries). Very
 * large CRLs deserve a linear decoder behind the same interface.
 */
import type { KeyObject } from "node:crypto";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer } from "../pem.js";
import { readRoot, slice } from "../x509/der.js";
import { serialHex } from "../x509/serial.js";
import { readPublicKey } from "../x509/spki.js";
import {
  ctx,
  ctxCons,
  DerError,
  TAG,
  content,
  expectTag,
  hex,
  items,
  readBigInteger,
  readBitString,
  readBoolean,
  readNamedBits,
  readOid,
  readSmallInteger,
  readTime,
  readTlv,
  rootOf,
  type Tlv,
} from "./asn1.js";
import { REVOCATION_REASONS, type CrlView, type IssuingDistributionPoint, type RevokedEntry } from "./crl-view.js";
import { decodeAuthorityKeyIdentifier, decodeDistributionPointName, EXT } from "./extensions.js";
import { parseGeneralNames } from "./general-names.js";
import { identifySignatureAlgorithm, verifySignature, type SignatureAlgorithm } from "./signature.js";

const CRL_EXT = {
  crlNumber: "2.5.29.20",
  deltaCrlIndicator: "2.5.29.27",
  issuingDistributionPoint: "2.5.29.28",
  reasonCode: "2.5.29.21",
  holdInstructionCode: "2.5.29.23",
  invalidityDate: "2.5.29.24",
  certificateIssuer: "2.5.29.29",
} as const;

/** Critical CRL extensions and CRL entry extensions this reader acts on. */
const HANDLED_CRITICAL = new Set<string>([CRL_EXT.deltaCrlIndicator, CRL_EXT.issuingDistributionPoint, EXT.authorityKeyIdentifier, CRL_EXT.crlNumber]);
const HANDLED_ENTRY_CRITICAL = new Set<string>([CRL_EXT.reasonCode, CRL_EXT.invalidityDate, CRL_EXT.holdInstructionCode]);

interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

function readExtensions(buf: Uint8Array, t: Tlv): RawExtension[] {
  const seen = new Set<string>();
  return items(buf, t, "Extensions").map((e) => {
    const parts = items(buf, e, "Extension");
    const oid = readOid(buf, parts[0], "extnID");
    if (seen.has(oid)) throw new DerError(`extension ${oid} appears twice`);
    seen.add(oid);
    const critical = parts.length === 3 ? readBoolean(buf, parts[1]!, "critical") : false;
    return { oid, critical, value: content(buf, expectTag(parts[parts.length - 1], TAG.OCTET_STRING, "extnValue")) };
  });
}

function decodeIdp(v: Uint8Array): IssuingDistributionPoint {
  const idp: { -readonly [K in keyof IssuingDistributionPoint]: IssuingDistributionPoint[K] } = {
    onlyContainsUserCerts: false,
    onlyContainsCACerts: false,
    indirectCRL: false,
    onlyContainsAttributeCerts: false,
  };
  const flag = (f: Tlv) => readBoolean(v, { ...f, tag: TAG.BOOLEAN }, "issuingDistributionPoint flag");
  for (const f of items(v, rootOf(v, TAG.SEQUENCE, "issuingDistributionPoint"), "issuingDistributionPoint")) {
    if (f.tag === ctxCons(0)) idp.distributionPoint = decodeDistributionPointName(v, f);
    else if (f.tag === ctx(1)) idp.onlyContainsUserCerts = flag(f);
    else if (f.tag === ctx(2)) idp.onlyContainsCACerts = flag(f);
    else if (f.tag === ctx(3)) idp.onlySomeReasons = readNamedBits(v, f, "onlySomeReasons", ctx(3));
    else if (f.tag === ctx(4)) idp.indirectCRL = flag(f);
    else if (f.tag === ctx(5)) idp.onlyContainsAttributeCerts = flag(f);
    else throw new DerError(`issuingDistributionPoint: unexpected field 0x${f.tag.toString(16)}`);
  }
  return idp;
}

/**
 * One revokedCertificates entry. `currentIssuer` carries the certificateIssuer in force (RFC 5280
 * §5.3.3: an entry without the extension keeps the previous entry's issuer).
 */
function readEntry(buf: Uint8Array, t: Tlv, unsupported: Set<string>, currentIssuer: Uint8Array | undefined): { serial: string; entry: RevokedEntry } {
  const [serialTlv, dateTlv, extTlv] = items(buf, t, "revokedCertificate");
  const serial = serialHex(content(buf, expectTag(serialTlv, TAG.INTEGER, "userCertificate")));
  const entry: { -readonly [K in keyof RevokedEntry]: RevokedEntry[K] } = { revocationDate: readTime(buf, dateTlv, "revocationDate") };
  if (currentIssuer) entry.certificateIssuer = currentIssuer;
  if (extTlv) {
    for (const e of readExtensions(buf, extTlv)) {
      if (e.oid === CRL_EXT.reasonCode) {
        const code = readSmallInteger(e.value, rootOf(e.value, TAG.ENUMERATED, "reasonCode"), "reasonCode", TAG.ENUMERATED);
        const reason = REVOCATION_REASONS[code];
        if (!reason) throw new DerError(`unknown CRL reason code ${code}`);
        entry.reason = reason;
      } else if (e.oid === CRL_EXT.invalidityDate) {
        entry.invalidityDate = readTime(e.value, rootOf(e.value, TAG.GENERALIZED_TIME, "invalidityDate"), "invalidityDate");
      } else if (e.oid === CRL_EXT.certificateIssuer) {
        const dn = parseGeneralNames(e.value, rootOf(e.value, TAG.SEQUENCE, "certificateIssuer"), "certificateIssuer").find((n) => n.kind === "dn");
        if (dn?.kind === "dn") entry.certificateIssuer = dn.name.der;
        else unsupported.add(`${CRL_EXT.certificateIssuer} (without a directoryName)`);
      } else if (e.critical && !HANDLED_ENTRY_CRITICAL.has(e.oid)) {
        unsupported.add(e.oid);
      }
    }
  }
  return { serial, entry };
}

class DerCrlView implements CrlView {
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  readonly crlNumberCritical?: boolean;
  readonly authorityKeyId?: string;
  readonly signatureAlgorithm: string;
  readonly deltaBaseCrlNumber?: bigint;
  readonly issuingDistributionPoint?: IssuingDistributionPoint;
  readonly unsupportedCriticalExtensions: readonly string[];
  private readonly entries = new Map<string, RevokedEntry[]>();
  private readonly tbs: Uint8Array;
  private readonly signature: Uint8Array;
  private readonly algorithm: SignatureAlgorithm | undefined;
  private readonly keys = new Map<string, KeyObject | undefined>();
  private readonly verified = new Map<string, boolean>();

  constructor(der: Uint8Array) {
    const [tbsTlv, algTlv, sigTlv, extra] = items(der, readRoot(der), "CertificateList");
    if (!tbsTlv || !algTlv || !sigTlv || extra) throw new DerError("a CRL is SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }");
    this.tbs = slice(der, tbsTlv);
    this.signature = readBitString(der, sigTlv, "signatureValue").bytes;
    this.signatureAlgorithm = readOid(der, items(der, algTlv, "signatureAlgorithm")[0], "signatureAlgorithm");
    let algorithm: SignatureAlgorithm | undefined;
    try {
      algorithm = identifySignatureAlgorithm(der, algTlv);
    } catch {
      algorithm = undefined; // an unsupported algorithm: the signature never verifies
    }
    this.algorithm = algorithm;

    const fields = items(der, tbsTlv, "TBSCertList");
    let i = fields[0]?.tag === TAG.INTEGER ? 1 : 0;
    const innerAlg = expectTag(fields[i++], TAG.SEQUENCE, "signature");
    if (!Buffer.from(slice(der, innerAlg)).equals(Buffer.from(slice(der, algTlv)))) throw new DerError("the CRL's two signature algorithm fields differ");
    this.issuerDer = slice(der, expectTag(fields[i++], TAG.SEQUENCE, "issuer"));
    this.thisUpdate = readTime(der, fields[i++], "thisUpdate");
    const next = fields[i];
    if (next && (next.tag === TAG.UTC_TIME || next.tag === TAG.GENERALIZED_TIME)) {
      this.nextUpdate = readTime(der, next, "nextUpdate");
      i++;
    }
    const unsupported = new Set<string>();
    if (fields[i]?.tag === TAG.SEQUENCE) {
      let currentIssuer: Uint8Array | undefined;
      for (const r of items(der, fields[i++], "revokedCertificates")) {
        const { serial, entry } = readEntry(der, r, unsupported, currentIssuer);
        currentIssuer = entry.certificateIssuer;
        const list = this.entries.get(serial);
        if (list) list.push(entry);
        else this.entries.set(serial, [entry]);
      }
    }
    const extField = fields[i];
    if (extField?.tag === ctxCons(0)) {
      const list = readTlv(der, extField.contentStart, extField.end);
      for (const e of readExtensions(der, list)) {
        if (e.oid === CRL_EXT.crlNumber) {
          this.crlNumber = readBigInteger(e.value, rootOf(e.value, TAG.INTEGER, "cRLNumber"), "cRLNumber");
          if (e.critical) this.crlNumberCritical = true;
        }
        else if (e.oid === CRL_EXT.deltaCrlIndicator) this.deltaBaseCrlNumber = readBigInteger(e.value, rootOf(e.value, TAG.INTEGER, "BaseCRLNumber"), "BaseCRLNumber");
        else if (e.oid === CRL_EXT.issuingDistributionPoint) this.issuingDistributionPoint = decodeIdp(e.value);
        else if (e.oid === EXT.authorityKeyIdentifier) {
          const keyId = decodeAuthorityKeyIdentifier(e.value).keyId;
          if (keyId !== undefined) this.authorityKeyId = keyId;
        } else if (e.critical && !HANDLED_CRITICAL.has(e.oid)) unsupported.add(e.oid);
      }
      i++;
    }
    if (i !== fields.length) throw new DerError("TBSCertList has unexpected fields");
    const hasEntryIssuers = [...this.entries.values()].some((list) => list.some((e) => e.certificateIssuer !== undefined));
    if (hasEntryIssuers && this.issuingDistributionPoint?.indirectCRL !== true) unsupported.add(`${CRL_EXT.certificateIssuer} (in a CRL that is not indirect)`);
    this.unsupportedCriticalExtensions = [...unsupported];
  }

  verifySignature(issuerSpki: Uint8Array): boolean {
    if (!this.algorithm) return false;
    const id = hex(issuerSpki);
    let ok = this.verified.get(id);
    if (ok === undefined) {
      let key = this.keys.get(id);
      if (!this.keys.has(id)) {
        try {
          key = readPublicKey(issuerSpki).publicKey;
        } catch {
          key = undefined;
        }
        this.keys.set(id, key);
      }
      ok = key !== undefined && verifySignature(this.algorithm, this.tbs, this.signature, key) === undefined;
      this.verified.set(id, ok);
    }
    return ok;
  }

  lookup(serial: string): RevokedEntry | undefined {
    return this.entries.get(serial)?.[0];
  }

  lookupAll(serial: string): readonly RevokedEntry[] {
    return this.entries.get(serial) ?? [];
  }
}

/** Read a CRL given as DER or PEM ("X509 CRL"); INPUT_INVALID when it is not one. */
export function crlViewFromDer(input: Uint8Array): CrlView {
  const der = derFromPemOrDer(input, ["X509 CRL"]);
  if (!der) throw new TrustlineError("INPUT_INVALID", "the file holds no PEM X509 CRL block");
  try {
    return new DerCrlView(der);
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `not a usable X.509 CRL: ${(e as Error).message}`, { cause: e });
  }
}
