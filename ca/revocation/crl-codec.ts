/**
 * X.509 v2 CRLs (RFC 5280 §5), encoded and decoded in one linear pass. @peculiar/x509's generator
 * is quadratic (10k entries 7 s, 100k ~8 min) and its parser refuses CRLs over ~1,200 entries;
 * a CRL of every device of a large fleet must cost seconds, not hours. The decoder here is the
 * linear one for CRLs of any size (round trips, tooling, the benchmark); verifiers read CRLs with
 * the path validator's strict view (validation/crl-der.ts), which also understands distribution
 * points, delta and indirect CRLs. This module imports no issuing code.
 */
import { TrustlineError } from "../errors.js";
import { createPublicKey } from "node:crypto";
import { identifySignatureAlgorithm, verifySignature } from "../validation/signature.js";
import { children, content, DerError, encodeLength, oid, oidText, readRoot, readTlv, sequence, slice, tlv, type Tlv } from "../x509/der.js";
import { encodeTime } from "../x509/tbs-encoder.js";

export interface CrlEntryInput {
  /** Serial, lowercase hex magnitude. */
  readonly serial: string;
  readonly revokedAt: Date;
  /** RFC 5280 §5.3.1 CRLReason code; 0 (unspecified) is written as no extension (§5.3.1 SHOULD). */
  readonly reasonCode: number;
  readonly invalidityDate?: Date;
}

export interface TbsCertListInput {
  /** AlgorithmIdentifier DER of the CA's signature. */
  readonly algorithmIdentifier: Uint8Array;
  /** The CA's subject Name, DER. */
  readonly issuerName: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly crlNumber: bigint;
  /** The CA's subject key identifier (for the authorityKeyIdentifier extension). */
  readonly authorityKeyId: Uint8Array;
  readonly entries: readonly CrlEntryInput[];
}

const OID_REASON = oid("2.5.29.21");
const OID_INVALIDITY = oid("2.5.29.24");
const OID_AKI = oid("2.5.29.35");
const OID_CRL_NUMBER = oid("2.5.29.20");

function positiveInteger(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const bytes = Buffer.from(hex, "hex");
  return tlv(0x02, bytes[0]! & 0x80 ? Uint8Array.from([0, ...bytes]) : bytes);
}

function generalizedTime(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-03-01T12:00:00.000Z
  return tlv(0x18, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, "latin1"));
}

/** The extensions of one entry (reason code, invalidity date), or undefined. Few distinct values: cached. */
function entryExtensions(e: CrlEntryInput, cache: Map<string, Uint8Array | undefined>): Uint8Array | undefined {
  const key = `${e.reasonCode}|${e.invalidityDate?.getTime() ?? ""}`;
  if (cache.has(key)) return cache.get(key);
  const exts: Uint8Array[] = [];
  if (e.reasonCode !== 0) exts.push(sequence(OID_REASON, tlv(0x04, tlv(0x0a, Uint8Array.of(e.reasonCode)))));
  if (e.invalidityDate) exts.push(sequence(OID_INVALIDITY, tlv(0x04, generalizedTime(e.invalidityDate))));
  const encoded = exts.length ? sequence(...exts) : undefined;
  cache.set(key, encoded);
  return encoded;
}

function headerLength(length: number): number {
  return 1 + encodeLength(length).length;
}

function writeHeader(out: Buffer, pos: number, tag: number, length: number): number {
  out[pos++] = tag;
  const len = encodeLength(length);
  out.set(len, pos);
  return pos + len.length;
}

/**
 * revokedCertificates, written straight into one buffer in two passes: lengths first, then bytes.
 * Serials go from hex into the output directly, so a million entries allocate nothing per entry.
 */
function encodeRevokedCertificates(entries: readonly CrlEntryInput[]): Uint8Array {
  const n = entries.length;
  const times: Uint8Array[] = new Array(n);
  const exts: (Uint8Array | undefined)[] = new Array(n);
  const bodyLengths = new Int32Array(n);
  const extCache = new Map<string, Uint8Array | undefined>();
  let lastTimeMs = NaN;
  let lastTime: Uint8Array = new Uint8Array(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    if (!/^[0-9a-f]+$/.test(e.serial)) throw new DerError(`serial "${e.serial.slice(0, 50)}" is not lowercase hex`);
    const ms = e.revokedAt.getTime();
    if (ms !== lastTimeMs) {
      lastTimeMs = ms;
      lastTime = encodeTime(e.revokedAt);
    }
    times[i] = lastTime;
    exts[i] = entryExtensions(e, extCache);
    const body = 2 + serialLength(e.serial) + lastTime.length + (exts[i]?.length ?? 0);
    bodyLengths[i] = body;
    total += headerLength(body) + body;
  }
  const out = Buffer.allocUnsafe(headerLength(total) + total);
  let pos = writeHeader(out, 0, 0x30, total);
  for (let i = 0; i < n; i++) {
    const hex = entries[i]!.serial;
    const length = serialLength(hex);
    pos = writeHeader(out, pos, 0x30, bodyLengths[i]!);
    out[pos++] = 0x02;
    out[pos++] = length;
    // A positive INTEGER: a leading 00 when the top bit is set, and an odd hex length padded.
    const padded = hex.length % 2 ? `0${hex}` : hex;
    if (length > padded.length / 2) out[pos++] = 0;
    pos += out.write(padded, pos, "hex");
    out.set(times[i]!, pos);
    pos += times[i]!.length;
    const ext = exts[i];
    if (ext) {
      out.set(ext, pos);
      pos += ext.length;
    }
  }
  return out;
}

/** Content length of the INTEGER for a hex magnitude. */
function serialLength(hex: string): number {
  const bytes = (hex.length + 1) >> 1;
  const first = parseInt(hex.length % 2 ? hex[0]! : hex.slice(0, 2), 16);
  return first & 0x80 ? bytes + 1 : bytes;
}

/** TBSCertList, DER. */
export function encodeTbsCertList(input: TbsCertListInput): Uint8Array {
  const extensions = tlv(
    0xa0,
    sequence(sequence(OID_AKI, tlv(0x04, sequence(tlv(0x80, input.authorityKeyId)))), sequence(OID_CRL_NUMBER, tlv(0x04, positiveInteger(input.crlNumber)))),
  );
  const parts: Uint8Array[] = [
    Uint8Array.of(0x02, 0x01, 0x01), // version v2
    input.algorithmIdentifier,
    input.issuerName,
    encodeTime(input.thisUpdate),
    encodeTime(input.nextUpdate),
  ];
  // RFC 5280 §5.1.2.6: when there are no revoked certificates, the list MUST be absent.
  if (input.entries.length > 0) parts.push(encodeRevokedCertificates(input.entries));
  parts.push(extensions);
  return sequence(...parts);
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface CrlEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reasonCode?: number;
  readonly invalidityDate?: Date;
}

export interface ParsedCrl {
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: string;
  /** The AlgorithmIdentifier, DER (PSS parameters included). */
  readonly signatureAlgorithmDer: Uint8Array;
  readonly signature: Uint8Array;
  readonly issuer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  readonly authorityKeyId?: Uint8Array;
  readonly entries: readonly CrlEntry[];
  /** Extensions of the CRL that this decoder does not know, with their criticality. */
  readonly unknownExtensions: readonly { readonly oid: string; readonly critical: boolean }[];
}

const d2 = (b: Uint8Array, i: number) => (b[i]! - 48) * 10 + (b[i + 1]! - 48);

/** UTCTime or GeneralizedTime, "Z" form only (RFC 5280 §4.1.2.5). */
export function decodeTime(buf: Uint8Array, t: Tlv): Date {
  const s = t.contentStart;
  const len = t.end - s;
  let year: number;
  let p: number;
  if (t.tag === 0x17 && len === 13) {
    const yy = d2(buf, s);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    p = s + 2;
  } else if (t.tag === 0x18 && len === 15) {
    year = d2(buf, s) * 100 + d2(buf, s + 2);
    p = s + 4;
  } else {
    throw new DerError(`unsupported time encoding at byte ${t.start}`);
  }
  if (buf[t.end - 1] !== 0x5a) throw new DerError(`time at byte ${t.start} is not in UTC (Z)`);
  const ms = Date.UTC(year, d2(buf, p) - 1, d2(buf, p + 2), d2(buf, p + 4), d2(buf, p + 6), d2(buf, p + 8));
  if (Number.isNaN(ms)) throw new DerError(`invalid time at byte ${t.start}`);
  return new Date(ms);
}

function integerValue(buf: Uint8Array, t: Tlv): bigint {
  const bytes = content(buf, t);
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** Whether the OBJECT IDENTIFIER at `t` is 2.5.29.<last> (id-ce), compared as bytes: no text per entry. */
function isIdCe(buf: Uint8Array, t: Tlv, last: number): boolean {
  return t.tag === 0x06 && t.end - t.contentStart === 3 && buf[t.contentStart] === 0x55 && buf[t.contentStart + 1] === 0x1d && buf[t.contentStart + 2] === last;
}

/** The entries, in one pass: byte comparisons instead of OID text, one hex view instead of a Buffer per serial. */
function decodeEntries(buf: Uint8Array, list: Tlv): CrlEntry[] {
  const hexView = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: CrlEntry[] = [];
  for (let pos = list.contentStart; pos < list.end; ) {
    const entry = readTlv(buf, pos, list.end);
    pos = entry.end;
    const serial = readTlv(buf, entry.contentStart, entry.end);
    const time = readTlv(buf, serial.end, entry.end);
    if (serial.tag !== 0x02) throw new DerError(`CRL entry at byte ${entry.start} has no serial number`);
    let start = serial.contentStart;
    while (start < serial.end - 1 && buf[start] === 0) start++;
    let reasonCode: number | undefined;
    let invalidityDate: Date | undefined;
    if (time.end < entry.end) {
      const exts = readTlv(buf, time.end, entry.end);
      for (let p = exts.contentStart; p < exts.end; ) {
        const ext = readTlv(buf, p, exts.end);
        p = ext.end;
        const id = readTlv(buf, ext.contentStart, ext.end);
        let valuePos = id.end;
        let critical = false;
        const next = readTlv(buf, valuePos, ext.end);
        if (next.tag === 0x01) {
          critical = buf[next.contentStart] === 0xff;
          valuePos = next.end;
        }
        const value = valuePos === next.start ? next : readTlv(buf, valuePos, ext.end);
        if (value.tag !== 0x04) throw new DerError(`malformed CRL entry extension at byte ${ext.start}`);
        if (isIdCe(buf, id, 0x15)) {
          const e = readTlv(buf, value.contentStart, value.end);
          if (e.tag !== 0x0a) throw new DerError("reasonCode is not ENUMERATED");
          reasonCode = buf[e.contentStart];
        } else if (isIdCe(buf, id, 0x18)) {
          invalidityDate = decodeTime(buf, readTlv(buf, value.contentStart, value.end));
        } else if (critical) {
          throw new DerError(`unknown critical CRL entry extension ${oidText(content(buf, id))}`);
        }
      }
    }
    const item: { serial: string; revokedAt: Date; reasonCode?: number; invalidityDate?: Date } = { serial: hexView.toString("hex", start, serial.end), revokedAt: decodeTime(buf, time) };
    if (reasonCode !== undefined) item.reasonCode = reasonCode;
    if (invalidityDate !== undefined) item.invalidityDate = invalidityDate;
    out.push(item);
  }
  return out;
}

/**
 * Parse a DER CRL (structure only; verify the signature with `verifyCrlSignature`). A CRL is
 * outside input: anything malformed is INPUT_INVALID, whatever the decoder tripped on.
 */
export function parseCrl(der: Uint8Array): ParsedCrl {
  try {
    return parseCrlStructure(der);
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    throw new TrustlineError("INPUT_INVALID", `not a well-formed DER CRL: ${(e as Error).message}`, { cause: e });
  }
}

function parseCrlStructure(der: Uint8Array): ParsedCrl {
  const root = readRoot(der);
  const [tbsTlv, algTlv, sigTlv] = children(der, root);
  if (!tbsTlv || !algTlv || !sigTlv || sigTlv.tag !== 0x03) throw new DerError("not a CertificateList");
  const parts = children(der, tbsTlv);
  let i = 0;
  if (parts[i]?.tag === 0x02) i++; // version (v2)
  const signatureInTbs = parts[i++];
  const issuer = parts[i++];
  const thisUpdate = parts[i++];
  if (!signatureInTbs || !issuer || !thisUpdate) throw new DerError("incomplete TBSCertList");
  let nextUpdate: Date | undefined;
  if (parts[i] && (parts[i]!.tag === 0x17 || parts[i]!.tag === 0x18)) nextUpdate = decodeTime(der, parts[i++]!);
  let entries: CrlEntry[] = [];
  if (parts[i]?.tag === 0x30) entries = decodeEntries(der, parts[i++]!);
  let crlNumber: bigint | undefined;
  let authorityKeyId: Uint8Array | undefined;
  const unknownExtensions: { oid: string; critical: boolean }[] = [];
  if (parts[i]?.tag === 0xa0) {
    const list = children(der, parts[i]!)[0];
    for (const ext of list ? children(der, list) : []) {
      const [id, ...rest] = children(der, ext);
      const value = rest.at(-1);
      if (!id || !value) throw new DerError("malformed CRL extension");
      const name = oidText(content(der, id));
      const inner = content(der, value);
      if (name === "2.5.29.20") crlNumber = integerValue(inner, readRoot(inner, 0x02));
      else if (name === "2.5.29.35") {
        const aki = readRoot(inner);
        const keyId = children(inner, aki).find((c) => c.tag === 0x80);
        if (keyId) authorityKeyId = content(inner, keyId).slice();
      } else unknownExtensions.push({ oid: name, critical: rest.length === 2 && content(der, rest[0]!)[0] === 0xff });
    }
  }
  const algOid = children(der, algTlv)[0];
  if (!algOid) throw new DerError("CRL signature algorithm missing");
  if (Buffer.compare(slice(der, signatureInTbs), slice(der, algTlv)) !== 0) throw new DerError("the CRL's two signature algorithm fields differ (RFC 5280 §5.1.1.2)");
  return {
    der,
    tbs: slice(der, tbsTlv),
    signatureAlgorithm: oidText(content(der, algOid)),
    signatureAlgorithmDer: slice(der, algTlv),
    signature: content(der, sigTlv).subarray(1),
    issuer: slice(der, issuer),
    thisUpdate: decodeTime(der, thisUpdate),
    ...(nextUpdate ? { nextUpdate } : {}),
    ...(crlNumber !== undefined ? { crlNumber } : {}),
    ...(authorityKeyId ? { authorityKeyId } : {}),
    entries,
    unknownExtensions,
  };
}

/** Whether the CRL's signature verifies with the issuer's SubjectPublicKeyInfo (SHA-1 refused). */
export function verifyCrlSignature(crl: ParsedCrl, issuerSpki: Uint8Array): boolean {
  try {
    const algorithm = identifySignatureAlgorithm(crl.signatureAlgorithmDer, readRoot(crl.signatureAlgorithmDer));
    if (algorithm.hash === "sha1") return false;
    return verifySignature(algorithm, crl.tbs, crl.signature, createPublicKey({ key: Buffer.from(issuerSpki), format: "der", type: "spki" })) === undefined;
  } catch {
    return false;
  }
}
