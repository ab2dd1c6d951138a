/**
 * A minimal DER reader and writer: enough to walk a certificate or CSR to the bytes that were
 * signed, and to assemble `SEQUENCE { tbs, algorithm, BIT STRING signature }` around a signature
 * that a Signer produced. Full ASN.1 work goes through @peculiar/x509 and asn1js; this exists
 * because splitting and splicing DER needs no schema and must be fast.
 */

export interface Tlv {
  readonly tag: number;
  /** Offset of the tag byte. */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly contentStart: number;
  /** Offset just past the content. */
  readonly end: number;
}

export class DerError extends Error {
  override readonly name = "DerError";
}

/** Read one TLV at `offset`. Only DER's definite lengths; low tag numbers (all X.509 needs). */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError(`truncated DER at byte ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not supported (byte ${offset})`);
  let pos = offset + 1;
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new DerError(`unsupported length encoding at byte ${offset}`);
    if (pos + n > limit) throw new DerError(`truncated DER length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
    if (length < 0x80 || (n > 1 && buf[pos - n] === 0)) throw new DerError(`non-minimal DER length at byte ${offset}`);
  }
  const end = pos + length;
  if (end > limit) throw new DerError(`DER element at byte ${offset} runs past the end of its container`);
  return { tag, start: offset, contentStart: pos, end };
}

/** The TLVs directly inside a constructed element. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.contentStart; pos < parent.end; ) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** The single top-level element, which must span the whole buffer. */
export function readRoot(buf: Uint8Array, expectedTag = 0x30): Tlv {
  const root = readTlv(buf, 0);
  if (root.tag !== expectedTag) throw new DerError(`expected tag 0x${expectedTag.toString(16)}, found 0x${root.tag.toString(16)}`);
  if (root.end !== buf.length) throw new DerError(`${buf.length - root.end} trailing bytes after the DER element`);
  return root;
}

export function slice(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.start, t.end);
}

export function content(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.contentStart, t.end);
}

export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Uint8Array.from([0x80 | bytes.length, ...bytes]);
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** How many bytes the tag and length of an element with `length` content bytes take. */
export function headerLength(length: number): number {
  return length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6;
}

/** Write a tag and a DER length at `at`; returns where the content starts. */
export function writeHeader(out: Uint8Array, at: number, tag: number, length: number): number {
  const size = headerLength(length);
  out[at] = tag;
  if (size === 2) out[at + 1] = length;
  else {
    out[at + 1] = 0x80 | (size - 2);
    for (let i = size - 1, v = length; i >= 2; i--, v = Math.floor(v / 256)) out[at + i] = v & 0xff;
  }
  return at + size;
}

/** One allocation per element: tag, length and contents written straight into the result. */
export function tlv(tag: number, ...contents: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const c of contents) length += c.length;
  const header = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : length < 0x1000000 ? 5 : 6;
  const out = new Uint8Array(header + length);
  out[0] = tag;
  if (header === 2) out[1] = length;
  else {
    out[1] = 0x80 | (header - 2);
    for (let i = header - 1, v = length; i >= 2; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  }
  let pos = header;
  for (const c of contents) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

export const sequence = (...items: readonly Uint8Array[]): Uint8Array => tlv(0x30, ...items);

/** BIT STRING with no unused bits (signatures, keys). */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(0x03, Uint8Array.of(0), bytes);

/** OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs.length < 2) throw new DerError(`bad OID ${dotted}`);
  const first = arcs[0]! * 40n + arcs[1]!;
  const body: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    body.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(body));
}

/** Dotted text of an OBJECT IDENTIFIER's content bytes. */
export function oidText(bytes: Uint8Array): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of bytes) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs.shift() ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join(".");
}
