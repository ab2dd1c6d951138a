/**
 * A tiny DER reader written apart from the library's (ca/x509/der.ts is under test): tests read
 * what the code produced without trusting the code that produced it.
 */
export interface Node {
  readonly tag: number;
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

export function tlvAt(b: Uint8Array, at: number): Node {
  const tag = b[at]!;
  let len = b[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++]!;
  }
  return { tag, start: at, contentStart: p, end: p + len };
}

export function kids(b: Uint8Array, t: Node): Node[] {
  const out: Node[] = [];
  for (let p = t.contentStart; p < t.end; ) {
    const c = tlvAt(b, p);
    out.push(c);
    p = c.end;
  }
  return out;
}
