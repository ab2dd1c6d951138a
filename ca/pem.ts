/** PEM (RFC 7468) encoding and decoding. */

export function toPem(der: Uint8Array, label: string): string {
  return pemFromBase64(Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64"), label);
}

/** PEM from base64 already at hand (an inventory record's `der`): lines of 64 characters. */
export function pemFromBase64(b64: string, label: string): string {
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** One marker line's start, tried at a "-----" (the label's length is bounded: constant work a try). */
const MARKER = /-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----/y;

/**
 * Every PEM block in `text`, in order. One pass from left to right over the "-----" markers: a
 * BEGIN opens a block (replacing one left open), the END with the same label closes it, so the
 * work is linear in the input whatever it holds (a regular expression that looks ahead for each
 * BEGIN's END was quadratic on inputs full of unclosed blocks).
 */
export function pemBlocks(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  let open: { label: string; bodyStart: number } | undefined;
  for (let at = text.indexOf("-----"); at !== -1; ) {
    MARKER.lastIndex = at;
    const m = MARKER.exec(text);
    if (!m) {
      at = text.indexOf("-----", at + 5);
      continue;
    }
    const end = at + m[0].length;
    if (m[1] === "BEGIN") open = { label: m[2]!, bodyStart: end };
    else if (open && open.label === m[2]) {
      // Node's base64 decoder skips the line breaks and other white space itself.
      out.push({ label: open.label, der: new Uint8Array(Buffer.from(text.slice(open.bodyStart, at), "base64")) });
      open = undefined;
    }
    at = text.indexOf("-----", end);
  }
  return out;
}

/** PEM or DER input: the DER of every block labelled `label`, or the bytes themselves when not PEM. */
export function dersOf(input: Uint8Array, label: string): Uint8Array[] {
  if (!Buffer.from(input.buffer, input.byteOffset, input.byteLength).includes("-----BEGIN ")) return [input];
  return pemBlocks(Buffer.from(input).toString("latin1"))
    .filter((b) => b.label === label)
    .map((b) => b.der);
}

/** PEM or DER input: the DER of the first block with one of `labels`, or the bytes themselves when not PEM. */
export function derFromPemOrDer(input: Uint8Array, labels: readonly string[]): Uint8Array | undefined {
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const begin = bytes.indexOf("-----BEGIN ");
  if (begin === -1 || begin > 4096) return input;
  // The first block with one of the labels, found by its markers (no pass over other blocks).
  let found: { start: number; label: string } | undefined;
  for (const label of labels) {
    const start = bytes.indexOf(`-----BEGIN ${label}-----`, begin);
    if (start !== -1 && (found === undefined || start < found.start)) found = { start, label };
  }
  if (!found) return undefined;
  const bodyStart = found.start + `-----BEGIN ${found.label}-----`.length;
  const end = bytes.indexOf(`-----END ${found.label}-----`, bodyStart);
  if (end === -1) return undefined;
  return new Uint8Array(Buffer.from(bytes.toString("latin1", bodyStart, end), "base64"));
}

/** A record without its `der` (DER bytes are for files and PEM, not for listings and JSON output). */
export function withoutDer<T extends { der: unknown }>(value: T): Omit<T, "der"> {
  const { der: _der, ...rest } = value;
  void _der;
  return rest;
}
