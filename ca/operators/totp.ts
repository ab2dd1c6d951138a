/**
 * TOTP (RFC 6238) over HOTP (RFC 4226): what authenticator apps speak. HMAC-SHA-1 with 6 digits
 * and 30-second steps is what the apps expect (SHA-1 here is the standard's, not a choice); the
 * verifier accepts one step of clock skew each way, tells the caller which step matched so a code
 * is never accepted twice, and compares in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export type TotpHash = "sha1" | "sha256" | "sha512";

export interface TotpParameters {
  readonly hash: TotpHash;
  readonly digits: 6 | 7 | 8;
  readonly periodSeconds: number;
}

/** What authenticator apps expect (RFC 6238 §4 defaults). */
export const AUTHENTICATOR_APP: TotpParameters = { hash: "sha1", digits: 6, periodSeconds: 30 };

/** RFC 4226 §5.3: HMAC over the 8-byte counter, dynamic truncation, modulo 10^digits. */
export function hotp(secret: Uint8Array, counter: bigint, hash: TotpHash, digits: number): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac(hash, secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, "0");
}

/** The RFC 6238 time step of `time`. */
export function timeStep(time: Date, periodSeconds: number): bigint {
  return BigInt(Math.floor(time.getTime() / 1000 / periodSeconds));
}

export function totp(secret: Uint8Array, time: Date, p: TotpParameters = AUTHENTICATOR_APP): string {
  return hotp(secret, timeStep(time, p.periodSeconds), p.hash, p.digits);
}

/**
 * The time step `code` belongs to, within one step of `time` either way, and later than
 * `lastUsedStep` (a step is usable once); undefined when it matches none.
 */
export function verifyTotp(secret: Uint8Array, code: string, time: Date, options: { lastUsedStep?: bigint; parameters?: TotpParameters } = {}): bigint | undefined {
  const p = options.parameters ?? AUTHENTICATOR_APP;
  if (!new RegExp(`^[0-9]{${p.digits}}$`).test(code)) return undefined;
  const now = timeStep(time, p.periodSeconds);
  let matched: bigint | undefined;
  // Every candidate is computed and compared, so the time taken says nothing about which matched.
  for (const step of [now - 1n, now, now + 1n]) {
    const expected = Buffer.from(hotp(secret, step, p.hash, p.digits));
    if (timingSafeEqual(expected, Buffer.from(code)) && (options.lastUsedStep === undefined || step > options.lastUsedStep)) matched ??= step;
  }
  return matched;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding, as otpauth URIs carry secrets. */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The secret an otpauth:// URI carries (what an authenticator app reads from the QR code). */
export function secretOfOtpauthUri(uri: string): Uint8Array {
  const text = (new URL(uri).searchParams.get("secret") ?? "").toUpperCase().replace(/=+$/, "");
  const out: number[] = [];
  let bits = 0;
  let value = 0;
  for (const c of text) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new TypeError("the otpauth URI's secret is not base32");
    value = ((value << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

/** A new secret: 160 bits, the size RFC 4226 §4 recommends for HMAC-SHA-1. */
export function newTotpSecret(): Uint8Array {
  return new Uint8Array(randomBytes(20));
}

/** The enrolment URI an authenticator app reads (Key Uri Format): shown once, never stored. */
export function otpauthUri(secret: Uint8Array, issuer: string, account: string, p: TotpParameters = AUTHENTICATOR_APP): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({ secret: base32(secret), issuer, algorithm: p.hash.toUpperCase(), digits: String(p.digits), period: String(p.periodSeconds) });
  return `otpauth://totp/${label}?${query.toString()}`;
}
