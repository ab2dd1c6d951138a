/**
 * The audit trail holds without trusting the home: the audit key is certified by the root, the
 * auditor pins the root from outside (`audit verify --root`), checkpoints kept elsewhere catch a
 * rollback or a fork, and a head that cannot be signed stops the write before anything is issued.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, sign } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { policy } from "../../ca/index.js";
import { entryHash, GENESIS } from "../../ca/audit/log.js";
import { issue, newKey, selfSigned } from "../helpers/cert-factory.js";
import { tempDir } from "../helpers/pki.js";
import { certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

const AUDIT_EKU = policy.EKU_OIDS.auditLogSigning;

describe("audit verify trusts the pinned root, not the home", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  const f = (name: string) => join(dir, name);
  const auditDir = () => join(h.home, "audit");
  const state = () => JSON.parse(readFileSync(join(h.home, "state.json"), "utf8"));
  const verify = (...extra: string[]) => runCliAsync([...h.gNoPass, "--json", "audit", "verify", ...extra]);
  const generate = (id: string, extra: string[] = []) => runCliAsync([...h.g, "--json", ...extra, "issue", "device", "--generate", id, "--out-dir", f(`out-${id}`)]);

  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-audit-trust-"));
    h = initCliHome(dir);
    expectOk(await runCliAsync([...h.gNoPass, "ca", "export", "root", "--out", f("root.pem")]));
    expectOk(await generate("dev-audit-01"));
  });
  after(() => cleanup());

  test("init certifies the audit key by the root (profile audit-signer): OpenSSL verifies it against the root", () => {
    const pem: string = state().auditKey.certificate;
    assert.match(pem, /BEGIN CERTIFICATE/);
    writeFileSync(f("audit-signer.pem"), pem);
    const out = execFileSync("openssl", ["verify", "-CAfile", f("root.pem"), f("audit-signer.pem")], { encoding: "utf8" });
    assert.match(out, /audit-signer\.pem: OK/);
    const text = execFileSync("openssl", ["x509", "-in", f("audit-signer.pem"), "-noout", "-text"], { encoding: "utf8" });
    assert.match(text, new RegExp(AUDIT_EKU.replace(/\./g, "\\.")));
    assert.match(text, /Digital Signature/);
    assert.match(text, /CA:FALSE/);
  });

  test("--root as a file or as a SHA-256 fingerprint: exit 0, rootSource pinned, audit key certified", async () => {
    const byFile = json(expectOkAnd(await verify("--root", f("root.pem"))));
    assert.equal(byFile.intact, true);
    assert.equal(byFile.rootSource, "pinned");
    assert.equal(byFile.auditKey.certified, true);
    const der = Buffer.from(readFileSync(f("root.pem"), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64");
    const fingerprint = createHash("sha256").update(der).digest("hex").toUpperCase().match(/../g)!.join(":");
    const byPrint = json(expectOkAnd(await verify("--root", fingerprint)));
    assert.equal(byPrint.rootSource, "pinned");
    assert.equal(byPrint.rootSha256, byFile.rootSha256);
  });

  test("without --root the output says the root was taken from the home", async () => {
    const r = await runCliAsync([...h.gNoPass, "audit", "verify"]);
    expectOk(r);
    assert.match(r.stdout, /Root taken from the home/);
    assert.equal(json(expectOkAnd(await verify())).rootSource, "home");
  });

  test("a full rewrite with an attacker's audit key and root verifies from the home, and fails against the pinned root (exit 1)", async () => {
    const saved = snapshotHome();
    try {
      // The attacker drops the last issuance from the log, re-chains it, signs a new head with a
      // key of their own certified by a root of their own, and rewrites state.json to match.
      const attackerRoot = selfSigned({ subject: "/O=Acme Devices/CN=Acme Devices root CA" });
      const attackerKey = newKey("p256");
      const attackerAudit = issue(attackerRoot, { subject: "/O=Acme Devices/CN=audit log signer", key: attackerKey, eku: [AUDIT_EKU], keyUsage: ["digitalSignature"] });
      const lines = readFileSync(join(auditDir(), "log.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l));
      const kept = lines.slice(0, -2);
      let prev = GENESIS;
      const rewritten = kept.map((e, i) => {
        const { hash: _old, ...body } = { ...e, seq: i + 1, prev };
        const hash = entryHash(body);
        prev = hash;
        return { ...body, hash };
      });
      writeFileSync(join(auditDir(), "log.jsonl"), rewritten.map((e) => `${JSON.stringify(e)}\n`).join(""));
      const seq = rewritten.length;
      const signature = sign("sha256", Buffer.from(`trustline-audit-head/1 ${seq} ${prev}`), attackerKey.privateKey).toString("base64");
      writeFileSync(join(auditDir(), "head.json"), `${JSON.stringify({ seq, hash: prev, time: rewritten.at(-1).time, signature })}\n`);
      const s = state();
      s.auditKey = { ...s.auditKey, publicKey: Buffer.from(attackerKey.spki).toString("base64"), certificate: attackerAudit.pem };
      s.cas.root = { ...s.cas.root, certificate: attackerRoot.pem };
      writeFileSync(join(h.home, "state.json"), JSON.stringify(s));

      expectOk(await verify()); // the home vouches for itself: this is what --root is for
      const e = expectError(await verify("--root", f("root.pem")), 1, "AUDIT_TAMPERED");
      assert.match(e.message, /not valid under the root/);
      // Pinning the genuine root by its fingerprint: the home's root is now the attacker's.
      const genuine = createHash("sha256").update(Buffer.from(readFileSync(f("root.pem"), "utf8").replace(/-----[^-]+-----|\s/g, ""), "base64")).digest("hex");
      const byPrint = expectError(await verify("--root", genuine), 1, "AUDIT_TAMPERED");
      assert.match(byPrint.message, /is not the pinned root/);
    } finally {
      restoreHome(saved);
    }
  });

  test("an audit key without a certificate (a home from before, or a stripped one) fails with --root until `audit certify`", async () => {
    const saved = snapshotHome();
    try {
      const s = state();
      delete s.auditKey.certificate;
      writeFileSync(join(h.home, "state.json"), JSON.stringify(s));
      const plain = await runCliAsync([...h.gNoPass, "audit", "verify"]);
      expectOk(plain);
      assert.match(plain.stdout, /WARNING: the audit key is not certified/);
      const e = expectError(await verify("--root", f("root.pem")), 1, "AUDIT_TAMPERED");
      assert.match(e.message, /no certificate from the root/);
      expectOk(await runCliAsync([...h.g, "audit", "certify"]));
      assert.equal(json(expectOkAnd(await verify("--root", f("root.pem")))).auditKey.certified, true);
      expectError(await runCliAsync([...h.g, "--json", "audit", "certify"]), 4, "ALREADY_EXISTS");
    } finally {
      restoreHome(saved);
    }
  });

  test("an audit key file deleted: issue device exits 4 KEY_UNAVAILABLE before anything is issued", async () => {
    const saved = snapshotHome();
    try {
      const before = (await certList(h)).length;
      rmSync(join(h.home, "keys", "audit.key.pem"));
      const e = expectError(await generate("dev-audit-nokey"), 4, "KEY_UNAVAILABLE");
      assert.match(e.message, /audit key cannot be opened/);
      assert.equal((await certList(h)).length, before);
      assert.deepEqual(readdirSync(f("out-dev-audit-nokey"), { withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith(".pem") && !d.name.includes("chain")).length, 0);
      // Revocation is refused as well, before the revocation log is written.
      const serial = (await certList(h))[0]!.serial;
      expectError(await runCliAsync([...h.g, "--json", "revoke", serial, "--reason", "superseded"]), 4, "KEY_UNAVAILABLE");
      assert.equal((await certList(h, ["--status", "revoked"])).length, 0);
    } finally {
      restoreHome(saved);
    }
  });

  test("checkpoints: a rollback to an older log and head, and a fork from it, are caught (exit 1); a good checkpoint passes", async () => {
    const saved = snapshotHome();
    try {
      const old = f("audit-old");
      cpSync(auditDir(), old, { recursive: true });
      expectOk(await generate("dev-audit-02"));
      expectOk(await runCliAsync([...h.gNoPass, "audit", "checkpoint", "--out", f("cp.json")]));
      const cp = JSON.parse(readFileSync(f("cp.json"), "utf8"));
      assert.equal(cp.format, "trustline-audit-checkpoint/1");
      assert.match(cp.auditCertificate, /BEGIN CERTIFICATE/);
      expectOk(await verify("--root", f("root.pem"), "--checkpoint", f("cp.json")));

      // Rollback: the older copy is put back. Its head is validly signed, so only a checkpoint tells.
      rmSync(auditDir(), { recursive: true });
      cpSync(old, auditDir(), { recursive: true });
      expectOk(await verify("--root", f("root.pem")));
      const rollback = expectError(await verify("--root", f("root.pem"), "--checkpoint", f("cp.json")), 1, "AUDIT_TAMPERED");
      assert.match(rollback.message, /rollback: the log ends at entry \d+/);

      // Fork: history goes on from the older copy, signed by the real audit key.
      expectOk(await generate("dev-audit-03"));
      expectOk(await verify("--root", f("root.pem")));
      const fork = expectError(await verify("--root", f("root.pem"), "--checkpoint", f("cp.json")), 1, "AUDIT_TAMPERED");
      assert.match(fork.message, new RegExp(`fork: entry ${cp.seq} differs`));
    } finally {
      restoreHome(saved);
    }
  });

  test("a checkpoint from another home, or not a checkpoint at all, is refused", async () => {
    mkdirSync(f("other"));
    const other = initCliHome(f("other"));
    expectOk(await runCliAsync([...other.gNoPass, "audit", "checkpoint", "--out", f("other-cp.json")]));
    const e = expectError(await verify("--checkpoint", f("other-cp.json")), 1, "AUDIT_TAMPERED");
    assert.match(e.message, /not signed by an audit key of this root/);
    writeFileSync(f("junk.json"), "{\"seq\":1}");
    expectError(await verify("--checkpoint", f("junk.json")), 3, "INPUT_INVALID");
    writeFileSync(f("junk.pem"), "not a certificate");
    expectError(await verify("--root", f("junk.pem")), 3, "INPUT_INVALID");
  });

  function snapshotHome(): string {
    const copy = f(`snapshot-${Date.now()}-${Math.random().toString(36).slice(2)}`);
    cpSync(h.home, copy, { recursive: true });
    return copy;
  }
  function restoreHome(copy: string): void {
    rmSync(h.home, { recursive: true, force: true });
    cpSync(copy, h.home, { recursive: true });
  }
});

function expectOkAnd<T extends { status: number; stdout: string; stderr: string }>(r: T): T {
  assert.equal(r.status, 0, describeRun(r));
  return r;
}
