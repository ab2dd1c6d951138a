/**
 * `trustline issue device --csr` refuses bad requests: exit 3, the error code in --json output, a
 * message a person can act on; nothing is issued, the --out file is not written, and the refusal
 * is in the (still intact) audit log as a `certificate.reject` entry.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { opensslCsr, runCli, tempDir, writeTemp } from "../helpers/pki.js";
import {
  assertAuditIntact,
  derToPem,
  describeRun,
  expectError,
  expectOk,
  handmadeCsr,
  pemToDer,
  sha256Hex,
  snapshot,
  type TestHome,
  initCliHome,
  json,
} from "./cli-helpers.js";
import { kids, tlvAt } from "../helpers/independent-der.js";

describe("issue device: bad input is rejected (exit 3) and leaves no trace but an audit entry", { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-cli-bad-"));
    h = initCliHome(dir);
    // One good certificate, so that "inventory unchanged" compares real content.
    const good = opensslCsr(dir, "good", "/CN=dev-good-0001");
    expectOk(runCli([...h.g, "--json", "issue", "device", "--csr", good.csrPath, "--out", join(dir, "good.pem")]));
  });
  after(() => cleanup());

  let n = 0;
  /** The state left by the previous passing case: saves re-reading it (each CLI run costs ~0.3 s). */
  let last: Awaited<ReturnType<typeof snapshot>> | undefined;
  /**
   * Submit `csrPath`; assert exit 3 with `code`, the message, no --out file, an unchanged
   * inventory, an intact audit log that gained exactly one certificate.reject (and no issuance).
   */
  async function assertRejected(
    csrPath: string,
    code: string,
    options: { message?: RegExp; rejectEntry?: boolean; requestDer?: Uint8Array } = {},
  ): Promise<{ message: string; details?: any }> {
    const before = last ?? (await snapshot(h));
    last = undefined;
    const out = join(dir, `refused-${++n}.pem`);
    const r = runCli([...h.g, "--json", "--station", "line-bad", "issue", "device", "--csr", csrPath, "--out", out, "--batch", "B-BAD-1"]);
    const error = expectError(r, 3, code);
    if (options.message) assert.match(error.message, options.message);
    assert.equal(existsSync(out), false, `${out} must not be written`);
    assert.equal(r.stdout.includes("BEGIN CERTIFICATE"), false, "no certificate on stdout");

    const [afterSnap] = await Promise.all([snapshot(h), assertAuditIntact(h)]);
    assert.equal(afterSnap.certs.length, before.certs.length, "inventory size changed");
    assert.deepEqual(afterSnap.certs, before.certs, "inventory content changed");

    // The old entries are untouched; only new ones were appended.
    assert.deepEqual(afterSnap.audit.slice(0, before.audit.length), before.audit, "earlier audit entries changed");
    const added = afterSnap.audit.slice(before.audit.length);
    assert.equal(
      added.filter((e) => e.action === "certificate.intent" || e.action === "certificate.issue").length,
      0,
      `a refused request must not reach issuance: ${JSON.stringify(added)}`,
    );
    if (options.rejectEntry !== false) {
      const rejects = added.filter((e) => e.action === "certificate.reject");
      assert.equal(rejects.length, 1, `expected one certificate.reject entry, got: ${JSON.stringify(added)}`);
      const e = rejects[0]!;
      assert.equal(e.outcome, "rejected");
      assert.equal(e.details?.code, code);
      assert.equal(e.station, "line-bad");
      assert.equal(e.profile, "device");
      assert.ok(typeof e.reason === "string" && e.reason.length > 0, "the reject entry names the reason");
      if (options.requestDer) assert.equal(e.requestSha256, sha256Hex(options.requestDer), "the reject entry carries the request's SHA-256 (of its DER)");
    }
    last = afterSnap;
    return error;
  }

  test("a. CSR whose signature BIT STRING was altered → CSR_INVALID", async () => {
    const { csr } = opensslCsr(dir, "sig", "/CN=dev-sig-0001");
    const der = pemToDer(csr);
    const top = kids(der, tlvAt(der, 0));
    assert.equal(top.length, 3);
    const sig = top[2]!;
    assert.equal(sig.tag, 0x03, "third part is the signature BIT STRING");
    const doctored = new Uint8Array(der);
    doctored[sig.end - 1] = doctored[sig.end - 1]! ^ 0x01; // last byte of the ECDSA "s" value
    const path = writeTemp(dir, "sig-flipped.csr", derToPem(doctored, "CERTIFICATE REQUEST"));
    await assertRejected(path, "CSR_INVALID", { message: /signature/i });
  });

  test("a. CSR whose subject was altered after signing → CSR_INVALID (not a policy verdict on the new name)", async () => {
    const { csr } = opensslCsr(dir, "subj", "/CN=dev-flip-0001");
    const der = pemToDer(csr);
    const at = Buffer.from(der).indexOf(Buffer.from("dev-flip-0001"));
    assert.ok(at > 0, "CN found in the DER");
    const doctored = new Uint8Array(der);
    doctored[at + 4] = "g".charCodeAt(0); // dev-flip → dev-glip: still a valid registration ID
    const path = writeTemp(dir, "subject-flipped.csr", derToPem(doctored, "CERTIFICATE REQUEST"));
    await assertRejected(path, "CSR_INVALID", { message: /signature/i });
  });

  test('b. CN "bad id!" is not a DPS registration ID → POLICY_DENIED', async () => {
    const { csrPath, csr } = opensslCsr(dir, "badid", "/CN=bad id!");
    await assertRejected(csrPath, "POLICY_DENIED", { message: /registration ID/, requestDer: pemToDer(csr) });
  });

  test("b. CN of 65 characters → POLICY_DENIED", async () => {
    const cn = `dev-${"a".repeat(61)}`;
    assert.equal(cn.length, 65);
    const der = handmadeCsr(cn); // OpenSSL itself refuses a CN over 64 characters
    const path = writeTemp(dir, "cn65.csr", derToPem(der, "CERTIFICATE REQUEST"));
    const error = await assertRejected(path, "POLICY_DENIED", { message: /registration ID/, requestDer: der });
    assert.match(error.message, /65/);
  });

  test('b. CN starting with "-" → POLICY_DENIED', async () => {
    const { csrPath, csr } = opensslCsr(dir, "dash", "/CN=-dev-0001");
    await assertRejected(csrPath, "POLICY_DENIED", { message: /registration ID/, requestDer: pemToDer(csr) });
  });

  test("c. RSA-1024 key → POLICY_DENIED", async () => {
    const { csrPath, csr } = opensslCsr(dir, "rsa1024", "/CN=dev-rsa-0001", ["-newkey", "rsa:1024"]);
    const error = await assertRejected(csrPath, "POLICY_DENIED", { message: /1024/, requestDer: pemToDer(csr) });
    assert.equal(error.details?.violations?.[0]?.code, "KEY_NOT_ALLOWED");
  });

  test("d. a file of random bytes → CSR_INVALID", async () => {
    const bytes = new Uint8Array(randomBytes(512));
    bytes[0] = 0x42; // not a SEQUENCE tag, whatever the random draw
    const path = writeTemp(dir, "garbage.bin", bytes);
    await assertRejected(path, "CSR_INVALID", { message: /certificate request/i });
  });

  test("d. a text file → CSR_INVALID", async () => {
    const path = writeTemp(dir, "notes.txt", "Device dev-0042, line 7.\nThis is not a certificate request.\n");
    await assertRejected(path, "CSR_INVALID", { message: /certificate request/i });
  });

  test("d. a PEM file holding a private key, not a request → CSR_INVALID", async () => {
    const { keyPath } = opensslCsr(dir, "keyonly", "/CN=dev-key-0001");
    await assertRejected(keyPath, "CSR_INVALID", { message: /CERTIFICATE REQUEST/ });
  });

  test("e. CSR without a CN → POLICY_DENIED", async () => {
    const { csrPath, csr } = opensslCsr(dir, "nocn", "/O=Acme Devices/OU=line 7");
    await assertRejected(csrPath, "POLICY_DENIED", { message: /common name|CN/, requestDer: pemToDer(csr) });
  });

  test("f. a CSR file that does not exist → exit 3 NOT_FOUND", async () => {
    // Nothing was requested, so no certificate.reject is required; the rest must hold.
    const missing = join(dir, "no-such-dir", "dev-0404.csr");
    const error = await assertRejected(missing, "NOT_FOUND", { rejectEntry: false });
    assert.ok(error.message.includes(missing), "the message names the missing file");
  });

  test("--out in a folder that does not exist → exit 3 and no certificate issued (no orphan record)", async () => {
    const { csrPath } = opensslCsr(dir, "orphan", "/CN=dev-orphan-0001");
    const before = last ?? (await snapshot(h));
    last = undefined;
    const out = join(dir, "no-such-folder", "dev-orphan-0001.pem");
    const r = runCli([...h.g, "--json", "issue", "device", "--csr", csrPath, "--out", out]);
    assert.equal(r.status, 3, describeRun(r));
    assert.ok(json(r).error, "a JSON error");
    assert.equal(existsSync(out), false);
    const [afterSnap] = await Promise.all([snapshot(h), assertAuditIntact(h)]);
    const orphans = afterSnap.certs.filter((c) => c.commonName === "dev-orphan-0001");
    assert.deepEqual(
      orphans.map((c) => c.serial),
      [],
      "the certificate was issued and recorded although its output could not be written: an orphan no one received",
    );
    assert.equal(afterSnap.certs.length, before.certs.length);
  });

  test("without --json the refusal goes to stderr with its code, and stdout stays empty", async () => {
    const path = join(dir, "sig-flipped.csr");
    assert.ok(existsSync(path));
    const before = readFileSync(join(h.home, "audit", "log.jsonl"), "utf8").length;
    const r = runCli([...h.g, "issue", "device", "--csr", path]);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /signature/);
    assert.match(r.stderr, /\[CSR_INVALID\]/);
    assert.ok(readFileSync(join(h.home, "audit", "log.jsonl"), "utf8").length > before, "the refusal is audited");
    await assertAuditIntact(h);
  });
});
