/**
 * Secrets at rest for the operators wing (TOTP seeds, token hashes): AES-256-GCM under the home's
 * data key, with the purpose and owner as associated data, so a sealed value copied into another
 * operator's record, or used for another purpose, does not open. The data key itself is sealed
 * the same way under a key-encryption key (from the CA passphrase, or a key backend).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { TrustlineError } from "../errors.js";

const FORMAT = "gcm1";

/** A new 256-bit data key. */
export function newDataKey(): Buffer {
  return randomBytes(32);
}

/** `gcm1.<iv>.<ciphertext||tag>` (base64url), bound to `context` ("totp-seed:alice"). */
export function seal(key: Uint8Array, plaintext: Uint8Array, context: string): string {
  if (key.length !== 32) throw new TypeError("AES-256-GCM takes a 32-byte key");
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(`trustline:${context}`, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `${FORMAT}.${iv.toString("base64url")}.${body.toString("base64url")}`;
}

/** The plaintext, or STORE_CORRUPT when the value was changed, moved, or sealed under another key. */
export function unseal(key: Uint8Array, sealed: string, context: string): Buffer {
  const parts = sealed.split(".");
  const iv = parts.length === 3 && parts[0] === FORMAT ? Buffer.from(parts[1]!, "base64url") : undefined;
  const body = iv ? Buffer.from(parts[2]!, "base64url") : undefined;
  if (!iv || !body || iv.length !== 12 || body.length < 16) throw new TrustlineError("STORE_CORRUPT", `a sealed ${context.split(":")[0]} in the home is not in the ${FORMAT} format`);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(`trustline:${context}`, "utf8"));
    decipher.setAuthTag(body.subarray(body.length - 16));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]);
  } catch {
    throw new TrustlineError("STORE_CORRUPT", `a sealed ${context.split(":")[0]} in the home does not open: it was changed, moved from another record, or sealed under another key`);
  }
}
