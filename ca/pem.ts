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

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. */
export function pemBlocks(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    // Node's base64 decoder skips the line breaks and other white space itself.
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!, "base64")) });
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
