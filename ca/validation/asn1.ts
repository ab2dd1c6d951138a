/**
 * Typed readers over the schema-less DER walker in ca/x509/der.ts: the handful of universal types
 * that certificates and CRLs are made of. Each reader checks the tag it expects, so a decoder that
 * walks the wrong element fails loudly instead of reading garbage.
 */
import { children, content, DerError, oidText, readTlv, type Tlv } from "../x509/der.js";

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  TELETEX_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Context-specific tags: [n] IMPLICIT primitive and [n] constructed (EXPLICIT or IMPLICIT SEQUENCE). */
export const ctx = (n: number): number => 0x80 | n;
export const ctxCons = (n: number): number => 0xa0 | n;

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (!t) throw new DerError(`${what} is missing`);
  if (t.tag !== tag) throw new DerError(`${what}: expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  return t;
}

/** The single element held in `bytes` (an extension's OCTET STRING content, for instance). */
export function rootOf(bytes: Uint8Array, tag: number, what: string): Tlv {
  const t = readTlv(bytes, 0);
  if (t.end !== bytes.length) throw new DerError(`${what}: ${bytes.length - t.end} trailing bytes`);
  return expectTag(t, tag, what);
}

/** Dotted OIDs by their DER content: certificates repeat a few dozen OIDs, and decoding arcs is not free. */
const OID_TEXT = new Map<string, string>();

export function readOid(buf: Uint8Array, t: Tlv | undefined, what: string): string {
  const body = content(buf, expectTag(t, TAG.OID, what));
  if (body.length === 0 || (body[body.length - 1]! & 0x80) !== 0) throw new DerError(`${what}: malformed OBJECT IDENTIFIER`);
  const key = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1");
  let text = OID_TEXT.get(key);
  if (text === undefined) {
    text = oidText(body);
    if (OID_TEXT.size < 10_000) OID_TEXT.set(key, text); // bounded: hostile input cannot grow it without limit
  }
  return text;
}

export function readBoolean(buf: Uint8Array, t: Tlv, what: string): boolean {
  const body = content(buf, expectTag(t, TAG.BOOLEAN, what));
  if (body.length !== 1) throw new DerError(`${what}: BOOLEAN must be one byte`);
  return body[0] !== 0;
}

/** A small non-negative INTEGER (path lengths, skip certs, CRL reasons); rejects negatives and huge values. */
export function readSmallInteger(buf: Uint8Array, t: Tlv, what: string, tag: number = TAG.INTEGER): number {
  const body = content(buf, expectTag(t, tag, what));
  if (body.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if ((body[0]! & 0x80) !== 0) throw new DerError(`${what}: negative INTEGER`);
  if (body.length > 5) throw new DerError(`${what}: INTEGER too large`);
  let v = 0;
  for (const b of body) v = v * 256 + b;
  return v;
}

/** An arbitrary INTEGER as a bigint (CRL numbers). */
export function readBigInteger(buf: Uint8Array, t: Tlv, what: string): bigint {
  const body = content(buf, expectTag(t, TAG.INTEGER, what));
  if (body.length === 0) throw new DerError(`${what}: empty INTEGER`);
  let v = 0n;
  for (const b of body) v = (v << 8n) | BigInt(b);
  if ((body[0]! & 0x80) !== 0) v -= 1n << BigInt(body.length * 8);
  return v;
}

/** BIT STRING content: the bytes and the number of unused bits in the last byte. */
export function readBitString(buf: Uint8Array, t: Tlv | undefined, what: string, tag: number = TAG.BIT_STRING): { bytes: Uint8Array; unusedBits: number } {
  const body = content(buf, expectTag(t, tag, what));
  if (body.length === 0) throw new DerError(`${what}: empty BIT STRING`);
  const unusedBits = body[0]!;
  if (unusedBits > 7 || (body.length === 1 && unusedBits !== 0)) throw new DerError(`${what}: bad unused-bits count`);
  return { bytes: body.subarray(1), unusedBits };
}

/** A named-bit BIT STRING (keyUsage, reasons) as a number: bit 0 is the most significant bit of the first byte. */
export function readNamedBits(buf: Uint8Array, t: Tlv | undefined, what: string, tag: number = TAG.BIT_STRING): number {
  const { bytes } = readBitString(buf, t, what, tag);
  let bits = 0;
  for (let i = 0; i < Math.min(bytes.length, 2); i++) {
    for (let b = 0; b < 8; b++) if ((bytes[i]! & (0x80 >> b)) !== 0) bits |= 1 << (i * 8 + b);
  }
  return bits;
}

/** Two ASCII digits at `i` as a number, or NaN. */
function digits2(b: Uint8Array, i: number): number {
  const hi = b[i]! - 0x30;
  const lo = b[i + 1]! - 0x30;
  return hi >= 0 && hi <= 9 && lo >= 0 && lo <= 9 ? hi * 10 + lo : NaN;
}

/** UTCTime or GeneralizedTime as RFC 5280 §4.1.2.5 profiles them (Zulu, with seconds, no fractions). */
export function readTime(buf: Uint8Array, t: Tlv | undefined, what: string): Date {
  if (!t || (t.tag !== TAG.UTC_TIME && t.tag !== TAG.GENERALIZED_TIME)) throw new DerError(`${what}: expected UTCTime or GeneralizedTime`);
  const b = content(buf, t);
  const utc = t.tag === TAG.UTC_TIME;
  const bad = () => new DerError(`${what}: malformed time "${Buffer.from(b.subarray(0, 20)).toString("latin1")}"`);
  if (b.length !== (utc ? 13 : 15) || b[b.length - 1] !== 0x5a /* Z */) throw bad();
  let year: number;
  let i: number;
  if (utc) {
    // RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
    year = digits2(b, 0);
    year += year >= 50 ? 1900 : 2000;
    i = 2;
  } else {
    year = digits2(b, 0) * 100 + digits2(b, 2);
    i = 4;
  }
  const [month, day, hour, minute, second] = [digits2(b, i), digits2(b, i + 2), digits2(b, i + 4), digits2(b, i + 6), digits2(b, i + 8)] as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (Number.isNaN(date.getTime()) || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) throw bad();
  if (year < 100) date.setUTCFullYear(year); // Date.UTC maps 0-99 to 1900-1999
  return date;
}

/** The elements of a SEQUENCE (or SET) `t`, after checking its tag. */
export function items(buf: Uint8Array, t: Tlv | undefined, what: string, tag: number = TAG.SEQUENCE): Tlv[] {
  return children(buf, expectTag(t, tag, what));
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

export { children, content, DerError, readTlv, type Tlv };
