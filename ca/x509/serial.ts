/** Certificate serial numbers: 20 random bytes, positive (RFC 5280 §4.1.2.2 allows at most 20 octets). */
import { randomFillSync } from "node:crypto";
import { TrustlineError } from "../errors.js";

// Drawn from the CSPRNG 512 serials at a time: one call per serial cost more than the rest of
// the serial's handling. Every serial is copied out once and never handed out again.
const POOL_BYTES = 20 * 512;
let pool = new Uint8Array(0);
let taken = 0;

export function randomSerial(): Uint8Array {
  if (taken + 20 > pool.length) {
    pool = randomFillSync(new Uint8Array(POOL_BYTES));
    taken = 0;
  }
  const bytes = pool.slice(taken, taken + 20);
  taken += 20;
  // Positive (high bit clear) and exactly 20 octets in DER (a zero first byte would be dropped).
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes;
}

export function serialHex(bytes: Uint8Array): string {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return Buffer.from(bytes.subarray(start)).toString("hex");
}

/** Accept a serial as people and tools print it: any case, with or without colons or spaces. */
export function normalizeSerial(input: string): string {
  const hex = input.trim().replace(/^0x/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (hex.length === 0 || !/^[0-9a-f]+$/.test(hex)) {
    throw new TrustlineError("INPUT_INVALID", `"${input.slice(0, 80)}" is not a serial number: give it in hex, with or without colons`);
  }
  const even = hex.length % 2 ? `0${hex}` : hex;
  return even.replace(/^(00)+(?=..)/, "");
}
