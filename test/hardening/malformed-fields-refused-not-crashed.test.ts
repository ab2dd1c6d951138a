/**
 * Malformed fields deep inside a request or a signature are refusals with a reason, never exit 70:
 * a CSR whose signature-algorithm field is broken (it crashed while building the error message)
 * and a firmware signature whose signed attributes hold malformed DER (decoded after parsing).
 */
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, isTrustlineError, verifyFirmware } from "../../ca/index.js";
import { runCli } from "../helpers/pki.js";
import { auditLog, certList, describeRun, expectError, expectOk, initCliHome, runCliAsync, type TestHome } from "../cli/cli-helpers.js";
import { tempDir } from "../helpers/pki.js";

const ECDSA_SHA256 = Buffer.from("06082a8648ce3d040302", "hex");
const CONTENT_TYPE_ATTRIBUTE = Buffer.from("06092a864886f70d010903", "hex");
const MESSAGE_DIGEST_ATTRIBUTE = Buffer.from("06092a864886f70d010904", "hex");

describe("malformed fields are refused with a reason, not a crash", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  const f = (name: string) => join(dir, name);

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-malformed-"));
    h = initCliHome(dir);
    // A CI signer and a signed image, made by the CLI as a pipeline would.
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(f("signer.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    writeFileSync(f("signer.csr"), createCsr(privateKey, "ci"));
    expectOk(runCli([...h.g, "--json", "issue", "signer", "--csr", f("signer.csr"), "--name", "ci", "--out", f("signer.pem"), "--chain"]));
    writeFileSync(f("image.bin"), Buffer.alloc(4096, 7));
    expectOk(runCli([...h.g, "--json", "firmware", "sign", f("image.bin"), "--cert", f("signer.pem"), "--key", f("signer.key"), "--out", f("image.p7s")]));
    expectOk(runCli([...h.g, "ca", "export", "root", "--out", f("root.pem")]));
  });
  after(() => cleanup());

  test("RFC 2986: a CSR whose signatureAlgorithm holds a broken OID length → exit 3 CSR_INVALID, audited", async () => {
    const csr = Buffer.from(createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, "dev-malformed-01"));
    const at = csr.lastIndexOf(ECDSA_SHA256);
    assert.ok(at > 0);
    csr[at + 1] = 0x09; // the OID now claims a byte past the end of its AlgorithmIdentifier
    writeFileSync(f("bad-alg.csr"), csr);
    const before = (await certList(h)).length;
    const r = await runCliAsync([...h.g, "--json", "issue", "device", "--csr", f("bad-alg.csr"), "--out", f("bad-alg.pem")]);
    const error = expectError(r, 3, "CSR_INVALID");
    assert.match(error.message, /signature algorithm \? is not supported or malformed/);
    assert.equal((await certList(h)).length, before);
    const last = (await auditLog(h)).at(-1)!;
    assert.equal(last.action, "certificate.reject");
    assert.equal(last.requestSha256, createHash("sha256").update(csr).digest("hex"));
  });

  const corrupt = (marker: Buffer, offsetInMarker: number, value: number): string => {
    const sig = Buffer.from(readFileSync(f("image.p7s")));
    const at = sig.lastIndexOf(marker);
    assert.ok(at > 0, "marker found in the signed attributes");
    sig[at + offsetInMarker] = value;
    const path = f(`corrupt-${marker.toString("hex").slice(-2)}-${offsetInMarker}-${value}.p7s`);
    writeFileSync(path, sig);
    return path;
  };

  for (const [what, marker, offset, value] of [
    ["the contentType attribute's type is not an OID", CONTENT_TYPE_ATTRIBUTE, 0, 0x07],
    ["the contentType value is not an OID", CONTENT_TYPE_ATTRIBUTE, 12, 0x05],
    ["the messageDigest value is not an OCTET STRING", MESSAGE_DIGEST_ATTRIBUTE, 13, 0x05],
  ] as const) {
    test(`RFC 5652 §5.3: ${what} → firmware verify exits 1 naming the signed attributes`, async () => {
      const r = await runCliAsync([...h.gNoPass, "firmware", "verify", f("image.bin"), "--signature", corrupt(marker, offset, value), "--trust", f("root.pem"), "--no-revocation"]);
      assert.equal(r.status, 1, describeRun(r));
      assert.doesNotMatch(r.stderr, /internal error/);
      assert.match(r.stdout + r.stderr, /check failed: (format|signed-attributes): /);
    });
  }

  test("every single-byte change to the signature is a verdict or a TrustlineError (2,000+ variants)", async () => {
    const sig = readFileSync(f("image.p7s"));
    const root = readFileSync(f("root.pem"));
    let refused = 0;
    for (let i = 0; i < sig.length; i++) {
      for (const delta of [1, 0x80]) {
        const b = Buffer.from(sig);
        b[i] = (b[i]! + delta) & 0xff;
        try {
          const verdict = await verifyFirmware({ image: f("image.bin"), signature: b, trust: [root], revocation: "off" });
          if (!verdict.valid) refused++;
        } catch (e) {
          assert.ok(isTrustlineError(e), `byte ${i} +${delta}: ${(e as Error).stack}`);
          refused++;
        }
      }
    }
    assert.ok(refused > sig.length, `${refused} variants refused`);
  });
});

test("RFC 3161 §2.4.1: a time-stamp request's nonce is a minimal DER INTEGER whatever its random bytes (a leading zero byte was refused by OpenSSL's TSA)", async () => {
  const { encodeTimeStampRequest } = await import("../../ca/firmware/timestamp.js");
  const { execFileSync } = await import("node:child_process");
  const { mkdtempSync, writeFileSync: write } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(join(tmpdir(), "trustline-tsq-"));
  for (const nonce of [[0, 1, 2, 3, 4, 5, 6, 7], [0, 0x80, 2, 3, 4, 5, 6, 7], [0, 0, 0, 0, 0, 0, 0, 0], [0xff, 1, 2, 3, 4, 5, 6, 7]]) {
    const tsq = encodeTimeStampRequest(new Uint8Array(32).fill(7), Uint8Array.from(nonce));
    write(join(dir, "q.tsq"), tsq);
    // OpenSSL's strict DER decoder reads it back, nonce included.
    const text = execFileSync("openssl", ["ts", "-query", "-in", join(dir, "q.tsq"), "-text"], { encoding: "utf8" });
    assert.match(text, /Nonce: 0x/);
  }
});
