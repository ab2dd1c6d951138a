/**
 * Keys a CA must never certify and a verifier must never trust (SP 800-89 §5.3.3, SEC 1 §2.3.3,
 * RFC 5280 §4.1.2.7). The headline attack: an RSA key with e = 1 turns "signing" into copying, so a
 * CSR's proof of possession and a firmware signature can be made without any private key.
 */
import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, isTrustlineError, parseCsr, signFirmware, verifyFirmware } from "../../ca/index.js";
import { keyObjectSigner } from "../../ca/keys/signer.js";
import { PublicKeyRejected } from "../../ca/x509/public-key-checks.js";
import { readPublicKey } from "../../ca/x509/spki.js";
import { EKU, issue, POLICY, selfSigned, type KeyPair } from "../helpers/cert-factory.js";
import { FIXED_NOW, tempDir } from "../helpers/pki.js";
import { auditLog, certList, describeRun, expectError, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

const b64 = (v: bigint) => {
  let h = v.toString(16);
  if (h.length % 2) h = `0${h}`;
  return Buffer.from(h, "hex").toString("base64url");
};
const big = (s: string) => BigInt(`0x${Buffer.from(s, "base64url").toString("hex")}`);
const spkiOf = (k: KeyObject) => new Uint8Array(k.export({ format: "der", type: "spki" }));

/** A real RSA-2048 key's primes with e = d = 1: node signs with it, and each "signature" is the padded digest itself. */
function exponentOneKey(): { privateKey: KeyObject; publicKey: KeyObject; spki: Uint8Array } {
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });
  const privateKey = createPrivateKey({ key: { ...jwk, e: b64(1n), d: b64(1n), dp: b64(1n), dq: b64(1n) }, format: "jwk" });
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, spki: spkiOf(publicKey) };
}

/** An RSA SPKI with the given modulus and exponent, encoded by node (canonical DER). */
function rsaSpki(n: bigint, e: bigint): Uint8Array {
  return spkiOf(createPublicKey({ key: { kty: "RSA", n: b64(n), e: b64(e) }, format: "jwk" }));
}

function assertRefused(spki: Uint8Array, reason: RegExp): void {
  assert.throws(() => readPublicKey(spki), (e: unknown) => e instanceof PublicKeyRejected && reason.test(e.message));
}

describe("SP 800-89 §5.3.3: RSA public keys a CA refuses", () => {
  const jwk = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "jwk" });
  const n = big(jwk.n!);

  test("e = 65537 is accepted (control)", () => {
    assert.deepEqual(readPublicKey(rsaSpki(n, 65537n)).key, { type: "rsa", bits: 2048 });
  });
  test("e = 1 is refused", () => assertRefused(rsaSpki(n, 1n), /exponent 1 is too small/));
  test("e = 3 is refused", () => assertRefused(rsaSpki(n, 3n), /exponent 3 is too small/));
  test("an even exponent is refused", () => assertRefused(rsaSpki(n, 65538n), /even/));
  test("e >= 2^256 is refused", () => assertRefused(rsaSpki(n, (1n << 256n) + 1n), /2\^256/));
  test("a modulus with a prime factor below 752 is refused", () => {
    // 751 times an odd 2037-bit number: still 2048 bits, odd, and divisible by a small prime.
    const m = 751n * ((n >> 10n) | 1n);
    assertRefused(rsaSpki(m, 65537n), /prime factor below 752/);
  });
  test("an even modulus is refused", () => assertRefused(rsaSpki(n - 1n, 65537n), /modulus is even/));
});

describe("SEC 1 §2.3.3: EC points a CA refuses", () => {
  const good = spkiOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
  const prefix = good.subarray(0, good.length - 66); // SEQUENCE{alg}, BIT STRING header up to the point

  test("an uncompressed point is accepted (control)", () => assert.deepEqual(readPublicKey(good).key, { type: "ec", curve: "P-256" }));
  test("a compressed point is refused", () => {
    const x = good.subarray(good.length - 64, good.length - 32);
    const y = good[good.length - 1]!;
    const point = Uint8Array.from([2 + (y & 1), ...x]);
    const spki = rebuildEc(prefix, point);
    assertRefused(spki, /compressed/);
  });
  test("a hybrid point is refused", () => {
    const point = Uint8Array.from(good.subarray(good.length - 65));
    point[0] = 0x06 | (point[64]! & 1);
    assertRefused(rebuildEc(prefix, point), /hybrid/);
  });
  test("the point at infinity is refused", () => assertRefused(rebuildEc(prefix, Uint8Array.of(0)), /infinity/));
  test("a point off the curve is refused by the import", () => {
    const bad = Uint8Array.from(good);
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => readPublicKey(bad));
  });
});

/** An EC SPKI with another point: the algorithm identifier of `prefix`'s key, a new BIT STRING. */
function rebuildEc(goodPrefix: Uint8Array, point: Uint8Array): Uint8Array {
  const alg = goodPrefix.subarray(2, 2 + 2 + goodPrefix[3]!); // the AlgorithmIdentifier TLV
  const bits = Uint8Array.from([0x03, point.length + 1, 0, ...point]);
  return Uint8Array.from([0x30, alg.length + bits.length, ...alg, ...bits]);
}

describe("RFC 5280 §4.1.2.7: an SPKI that is not canonical DER is refused, never copied into a certificate", () => {
  const good = spkiOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
  const rsa = spkiOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);

  test("a trailing element after the key", () => {
    const extra = Uint8Array.from([0x30, good[1]! + 2, ...good.subarray(2), 0x05, 0x00]);
    assert.throws(() => readPublicKey(extra), /nothing else|malformed/);
  });
  test("unknown parameters on an RSA key (an INTEGER instead of NULL)", () => {
    const i = rsa.indexOf(0x05, 4); // the NULL after rsaEncryption
    const odd = Uint8Array.from(rsa);
    odd[i] = 0x02;
    odd[i + 1] = 0x00; // INTEGER with no content, same length as NULL
    assertRefused(odd, /parameters must be NULL/);
  });
  test("a third element in the EC AlgorithmIdentifier", () => {
    const alg = good.subarray(2, 2 + 2 + good[3]!);
    const bigger = Uint8Array.from([0x30, alg.length, ...alg.subarray(2), 0x05, 0x00]);
    bigger[1] = bigger.length - 2;
    const rest = good.subarray(2 + alg.length);
    const spki = Uint8Array.from([0x30, bigger.length + rest.length, ...bigger, ...rest]);
    assert.throws(() => readPublicKey(spki), /malformed key algorithm/);
  });
});

describe("the CLI and the verifiers refuse an RSA key with e = 1", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  const forged = exponentOneKey();
  const f = (name: string) => join(dir, name);

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-weak-keys-"));
    h = initCliHome(dir);
    writeFileSync(f("e1.csr"), createCsr(forged.privateKey, "ci-forger"));
  });
  after(() => cleanup());

  test("parseCsr refuses it with CSR_INVALID although its 'proof of possession' verifies", () => {
    assert.throws(
      () => parseCsr(createCsr(forged.privateKey, "ci-forger")),
      (e: unknown) => isTrustlineError(e, "CSR_INVALID") && /public key is refused: the RSA public exponent 1 is too small/.test(e.message),
    );
  });

  test("issue signer exits 3 CSR_INVALID, audits the refusal and issues nothing", async () => {
    const before = await certList(h);
    const r = await runCliAsync([...h.g, "--json", "issue", "signer", "--csr", f("e1.csr"), "--name", "ci-forger"]);
    const error = expectError(r, 3, "CSR_INVALID");
    assert.match(error.message, /exponent 1/);
    assert.equal((await certList(h)).length, before.length);
    const last = (await auditLog(h)).at(-1)!;
    assert.equal(last.action, "certificate.reject");
    assert.equal(last.profile, "firmware-signer");
    assert.match(last.reason ?? "", /exponent 1/);
  });

  test("issue batch lists it as refused and issues the rest", async () => {
    const batchIn = f("batch-in");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(batchIn);
    writeFileSync(join(batchIn, "forged.csr"), createCsr(forged.privateKey, "dev-forged-01"));
    writeFileSync(join(batchIn, "good.csr"), createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, "dev-good-01"));
    const r = await runCliAsync([...h.g, "--json", "issue", "batch", "--csr-dir", batchIn, "--out-dir", f("batch-out"), "--batch", "B-weak-1"]);
    assert.equal(r.status, 3, describeRun(r));
    const doc = json(r);
    assert.equal(doc.issued, 1, describeRun(r));
    assert.match(JSON.stringify(doc), /forged\.csr[\s\S]*exponent 1/);
  });

  // A certificate for such a key, made outside Trustline by a CA the verifier trusts.
  const root = selfSigned({ subject: "/O=Acme/CN=Root", policies: [POLICY(1)] });
  const leafKey: KeyPair = { alg: "rsa2048", privateKey: forged.privateKey, publicKey: forged.publicKey, spki: forged.spki };
  const leaf = issue(root, { subject: "/CN=forger", eku: [EKU.codeSigning], keyUsage: ["digitalSignature"], policies: [POLICY(1)], key: leafKey });

  test("cert verify exits 1 and names the key (check subject-public-key, RFC 5280 §4.1.2.7)", async () => {
    writeFileSync(f("root.pem"), root.pem);
    writeFileSync(f("forger.pem"), leaf.pem);
    const r = await runCliAsync(["--json", "cert", "verify", f("forger.pem"), "--trust", f("root.pem"), "--at", FIXED_NOW.toISOString()]);
    const e = expectError(r, 1, "PATH_INVALID");
    assert.equal(e.details.check, "subject-public-key", describeRun(r));
    assert.equal(e.details.failing.index, 0);
    assert.match(e.message, /exponent 1 is too small/);
  });

  test("firmware verify refuses a signature made without any private key", async () => {
    const image = f("image.bin");
    writeFileSync(image, "firmware image, 1.0\n".repeat(100));
    const signature = await signFirmware({
      image,
      certificate: new TextEncoder().encode(leaf.pem),
      signer: keyObjectSigner(forged.privateKey, "rsa-pkcs1-sha256", forged.spki),
      clock: () => FIXED_NOW,
    });
    const verdict = await verifyFirmware({ image, signature: signature.der, trust: [root.der], revocation: "off", requiredPolicy: POLICY(1), now: FIXED_NOW });
    assert.equal(verdict.valid, false);
    assert.ok(!verdict.valid && verdict.check === "signature", JSON.stringify(verdict));
    assert.match(!verdict.valid ? verdict.reason : "", /cannot be trusted: .*the RSA public exponent 1 is too small/);
  });
});
