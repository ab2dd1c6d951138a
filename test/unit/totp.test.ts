/** TOTP against RFC 6238's test vectors (Appendix B, with the erratum's 32- and 64-byte seeds) and the verifier's rules. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { base32, hotp, otpauthUri, totp, verifyTotp } from "../../ca/operators/totp.js";

const SEED = {
  sha1: Buffer.from("12345678901234567890"),
  sha256: Buffer.from("12345678901234567890123456789012"),
  sha512: Buffer.from("1234567890123456789012345678901234567890123456789012345678901234"),
};
const VECTORS: [number, string, string, string][] = [
  [59, "94287082", "46119246", "90693936"],
  [1111111109, "07081804", "68084774", "25091201"],
  [1111111111, "14050471", "67062674", "99943326"],
  [1234567890, "89005924", "91819424", "93441116"],
  [2000000000, "69279037", "90698825", "38618901"],
  [20000000000, "65353130", "77737706", "47863826"],
];

test("RFC 6238 Appendix B: every vector, SHA-1, SHA-256 and SHA-512, 8 digits", () => {
  for (const [seconds, sha1, sha256, sha512] of VECTORS) {
    const at = new Date(seconds * 1000);
    assert.deepEqual(
      (["sha1", "sha256", "sha512"] as const).map((hash) => totp(SEED[hash], at, { hash, digits: 8, periodSeconds: 30 })),
      [sha1, sha256, sha512],
      `T = ${seconds}`,
    );
  }
});

test("RFC 4226 Appendix D: HOTP counters 0..9", () => {
  const expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"];
  assert.deepEqual(expected.map((_, i) => hotp(SEED.sha1, BigInt(i), "sha1", 6)), expected);
});

test("the verifier: one step of skew either way, not two; a used step is refused; malformed codes are refused", () => {
  const at = new Date(1_700_000_000_000);
  const step = BigInt(Math.floor(1_700_000_000 / 30));
  const code = (offsetSteps: number) => totp(SEED.sha1, new Date(at.getTime() + offsetSteps * 30_000));
  assert.equal(verifyTotp(SEED.sha1, code(0), at), step);
  assert.equal(verifyTotp(SEED.sha1, code(-1), at), step - 1n);
  assert.equal(verifyTotp(SEED.sha1, code(1), at), step + 1n);
  assert.equal(verifyTotp(SEED.sha1, code(-2), at), undefined);
  assert.equal(verifyTotp(SEED.sha1, code(2), at), undefined);
  assert.equal(verifyTotp(SEED.sha1, code(0), at, { lastUsedStep: step }), undefined, "replay of the same step");
  assert.equal(verifyTotp(SEED.sha1, code(-1), at, { lastUsedStep: step }), undefined, "an older step after a newer one");
  for (const bad of ["", "12345", "1234567", "12345a", " 123456", "１２３４５６"]) assert.equal(verifyTotp(SEED.sha1, bad, at), undefined, bad);
});

test("base32 (RFC 4648 §10 vectors, unpadded) and the otpauth enrolment URI", () => {
  assert.deepEqual(["", "f", "fo", "foo", "foob", "fooba", "foobar"].map((s) => base32(Buffer.from(s))), ["", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"]);
  assert.equal(
    otpauthUri(SEED.sha1, "Acme Devices", "alice"),
    "otpauth://totp/Acme%20Devices:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme+Devices&algorithm=SHA1&digits=6&period=30",
  );
});
