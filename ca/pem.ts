/** PEM (RFC 7468) encoding and decoding. */

export function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order. */
export function pemBlocks(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64")) });
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
  const head = Buffer.from(input.subarray(0, Math.min(input.length, 4096))).toString("latin1");
  if (!head.includes("-----BEGIN ")) return input;
  const blocks = pemBlocks(Buffer.from(input).toString("latin1"));
  return blocks.find((b) => labels.includes(b.label))?.der;
}

/** A record without its `der` (DER bytes are for files and PEM, not for listings and JSON output). */
export function withoutDer<T extends { der: unknown }>(value: T): Omit<T, "der"> {
  const { der: _der, ...rest } = value;
  void _der;
  return rest;
}
