/** TOTP codes for tests: from an otpauth URI's base32 secret, at a given time (default now). */
import { totp } from "../../ca/index.js";

export function secretOf(otpauthUri: string): Uint8Array {
  const text = new URL(otpauthUri).searchParams.get("secret") ?? "";
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

export function totpNow(otpauthUri: string, at: Date = new Date()): string {
  return totp(secretOf(otpauthUri), at);
}
