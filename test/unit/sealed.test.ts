/** Sealed secrets (AES-256-GCM with purpose and owner as associated data): they open only where they were sealed. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTrustlineError } from "../../ca/errors.js";
import { newDataKey, seal, unseal } from "../../ca/operators/sealed.js";

const corrupt = (e: unknown) => isTrustlineError(e, "STORE_CORRUPT");

test("round trip; a fresh IV each time; no plaintext in the sealed form", () => {
  const key = newDataKey();
  const seed = Buffer.from("12345678901234567890");
  const a = seal(key, seed, "totp-seed:alice");
  const b = seal(key, seed, "totp-seed:alice");
  assert.notEqual(a, b);
  assert.deepEqual(unseal(key, a, "totp-seed:alice"), seed);
  assert.equal(a.includes(seed.toString("base64url")), false);
  assert.match(a, /^gcm1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
});

test("refused: another owner, another purpose, another key, a flipped bit, a cut, another format", () => {
  const key = newDataKey();
  const sealed = seal(key, Buffer.from("seed"), "totp-seed:alice");
  assert.throws(() => unseal(key, sealed, "totp-seed:mallory"), corrupt);
  assert.throws(() => unseal(key, sealed, "session-token:alice"), corrupt);
  assert.throws(() => unseal(newDataKey(), sealed, "totp-seed:alice"), corrupt);
  const [f, iv, body] = sealed.split(".") as [string, string, string];
  const flipped = Buffer.from(body, "base64url");
  flipped[0]! ^= 1;
  assert.throws(() => unseal(key, `${f}.${iv}.${flipped.toString("base64url")}`, "totp-seed:alice"), corrupt);
  assert.throws(() => unseal(key, `${f}.${iv}.${body.slice(0, 10)}`, "totp-seed:alice"), corrupt);
  assert.throws(() => unseal(key, `gcm2.${iv}.${body}`, "totp-seed:alice"), corrupt);
  assert.throws(() => unseal(key, "not sealed at all", "totp-seed:alice"), corrupt);
});
