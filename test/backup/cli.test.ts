/**
 * `trustline backup`, `backup verify` and `restore` as an operator runs them: a backup taken while a
 * batch issues in another process holds every certificate handed out before it started; a flipped
 * byte anywhere, a cut or extended archive and a wrong passphrase are refused with their documented
 * codes by both commands, and a refused restore leaves no folder behind; roles are asked.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { normalizeSerial } from "../../ca/index.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { runCli, tempDir, writeTemp } from "../helpers/pki.js";
import { asOperator, certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, sha256Hex, type TestHome } from "../cli/cli-helpers.js";

const BATCH = 4000;
const SUMMARY_KEYS = ["archive", "auditHead", "contentBytes", "counts", "createdAt", "files", "organization", "sha256", "size", "source"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("trustline backup, backup verify, restore", { timeout: 600_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let h: TestHome;
  let backupPass: string;
  /** The archive taken during the batch (several 1 MiB chunks). */
  let archive: string;
  let dr: string;

  const restoreArgs = (from: string, to: string, pass = backupPass) => [...h.g, "--session-file", h.sessionFile, "--json", "restore", "--from", from, "--to", to, "--backup-passphrase-file", pass];

  before(() => {
    t = tempDir("trustline-backup-cli-");
    h = initCliHome(t.dir);
    backupPass = writeTemp(t.dir, "backup-pass.txt", "a long backup passphrase, kept apart\n");
    dr = join(t.dir, "dr");
    mkdirSync(dr);
  });
  after(() => t.cleanup());

  test("a backup during `issue batch` in another process holds every certificate written out before it began; restored, the trail verifies and issuing goes on", async () => {
    const csrDir = join(t.dir, "delivery");
    const outDir = join(t.dir, "certs");
    writeCsrFolder(csrDir, BATCH);
    const batch = runCliAsync([...h.g, "--json", "issue", "batch", "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "LIVE-1"], { env: {} });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && (!existsSync(outDir) || readdirSync(outDir).length < 400)) await sleep(10);

    // Acknowledged: the certificate file exists (and is whole) before the backup starts.
    const acknowledged = new Set<string>();
    for (const name of readdirSync(outDir)) {
      try {
        acknowledged.add(normalizeSerial(new X509Certificate(readFileSync(join(outDir, name))).serialNumber));
      } catch {
        /* being written right now: not yet handed out */
      }
    }
    assert.ok(acknowledged.size >= 300, `${acknowledged.size} certificates out before the backup`);
    archive = join(t.dir, "pki-live.tlbk");
    const backup = await runCliAsync([...h.g, "--json", "backup", "--out", archive, "--backup-passphrase-file", backupPass]);
    expectOk(backup);
    const made = json(backup);
    const finished = await batch;
    expectOk(finished);
    assert.equal(json(finished).issued, BATCH);

    assert.deepEqual(Object.keys(made).sort(), SUMMARY_KEYS);
    assert.equal(made.sha256, sha256Hex(readFileSync(archive)));
    assert.equal(made.size, readFileSync(archive).length);
    assert.ok(made.size > 3 * (1 << 20), `the archive spans several chunks (${made.size} bytes)`);
    assert.ok(made.counts.certificates >= 4 + acknowledged.size && made.counts.certificates <= 4 + BATCH, `${made.counts.certificates} certificates in the archive`);
    if (made.counts.certificates === 4 + BATCH) process.stderr.write("note: the batch had finished before the snapshot\n");

    const verify = runCli(["--json", "backup", "verify", archive, "--backup-passphrase-file", backupPass]);
    expectOk(verify);
    assert.deepEqual(json(verify), made);

    const restoredHome = join(dr, "restored");
    const restore = runCli(restoreArgs(archive, restoredHome));
    expectOk(restore);
    const restored = json(restore);
    assert.deepEqual(Object.keys(restored).sort(), [...SUMMARY_KEYS, "audit", "home", "restoredBy"].sort());
    assert.deepEqual(restored.audit, { entries: made.counts.auditEntries + 1, signedThrough: made.counts.auditEntries + 1 });
    assert.equal(restored.restoredBy, "alice");
    assert.equal(restored.home, restoredHome);

    const r = { ...h, home: restoredHome, g: ["--home", restoredHome, "--passphrase-file", h.passFile, "--session-file", h.sessionFile], gNoPass: ["--home", restoredHome] };
    const serials = new Set((await certList(r)).map((c) => c.serial));
    assert.equal(serials.size, made.counts.certificates);
    for (const serial of acknowledged) assert.ok(serials.has(serial), `certificate ${serial}, written out before the backup, is in the restored home`);
    expectOk(runCli([...r.g, "audit", "verify"]));
    expectOk(runCli([...r.g, "store", "check"]));

    const next = runCli([...r.g, "--json", "issue", "device", "--generate", "dev-after-restore", "--out-dir", join(t.dir, "after")]);
    expectOk(next);
    assert.equal((await certList(r)).length, made.counts.certificates + 1);
    expectOk(runCli([...r.g, "audit", "verify"]));
    const human = runCli(["backup", "verify", archive, "--backup-passphrase-file", backupPass]);
    expectOk(human);
    assert.match(human.stdout, new RegExp(`^Backup intact: ${archive}\n  archive SHA-256 ${made.sha256}, `));
  });

  /** Both commands refuse `file` with `status`/`code`, and the refused restore leaves nothing in dr/. */
  function refusedByBoth(file: string, status: number, code: string, pass = backupPass): void {
    expectError(runCli(["--json", "backup", "verify", file, "--backup-passphrase-file", pass]), status, code);
    expectError(runCli(restoreArgs(file, join(dr, "from-damaged"), pass)), status, code);
    assert.deepEqual(readdirSync(dr).filter((n) => n !== "restored"), [], "no destination and no temporary folder is left");
  }

  function variant(name: string, change: (bytes: Buffer) => Buffer): string {
    const path = join(t.dir, name);
    writeFileSync(path, change(Buffer.from(readFileSync(archive))));
    return path;
  }

  test("one flipped byte in the header, the first, a middle and the last chunk: INPUT_INVALID (exit 3) from verify and restore", () => {
    const original = readFileSync(archive);
    const headerEnd = 12 + original.readUInt32BE(8) + 32;
    const positions = { header: 20, "header checksum": headerEnd - 1, "first chunk": headerEnd + 10, middle: Math.floor(original.length / 2), "last chunk": original.length - 5, "last tag": original.length - 1 };
    for (const [where, at] of Object.entries(positions)) {
      const file = variant(`flip-${where.replace(/ /g, "-")}.tlbk`, (b) => {
        b[at]! ^= 0x01;
        return b;
      });
      refusedByBoth(file, 3, "INPUT_INVALID");
    }
  });

  test("cut short (inside a chunk, and exactly at a chunk boundary), one byte appended: INPUT_INVALID; a wrong passphrase: KEY_UNAVAILABLE (exit 4)", () => {
    const original = readFileSync(archive);
    const headerEnd = 12 + original.readUInt32BE(8) + 32;
    refusedByBoth(variant("cut.tlbk", (b) => b.subarray(0, b.length - 100)), 3, "INPUT_INVALID");
    refusedByBoth(variant("cut-at-boundary.tlbk", (b) => b.subarray(0, headerEnd + 2 * ((1 << 20) + 16))), 3, "INPUT_INVALID");
    refusedByBoth(variant("appended.tlbk", (b) => Buffer.concat([b, Buffer.from([0])])), 3, "INPUT_INVALID");
    refusedByBoth(variant("not-an-archive.tlbk", () => Buffer.from("hello")), 3, "INPUT_INVALID");
    const wrong = writeTemp(t.dir, "wrong-pass.txt", "not the backup passphrase\n");
    refusedByBoth(archive, 4, "KEY_UNAVAILABLE", wrong);
    const e = expectError(runCli(["--json", "backup", "verify", archive, "--backup-passphrase-file", wrong]), 4, "KEY_UNAVAILABLE");
    assert.equal(e.details.reason, "wrong-passphrase");
    expectError(runCli(["--json", "backup", "verify", join(t.dir, "missing.tlbk"), "--backup-passphrase-file", backupPass]), 3, "NOT_FOUND");
    expectError(runCli(["--json", "backup", "verify", archive]), 4, "PASSPHRASE_REQUIRED");
  });

  test("refused: restoring into a non-empty folder or over a home, an archive that exists; --help shows examples", () => {
    expectError(runCli(restoreArgs(archive, h.home)), 4, "ALREADY_EXISTS");
    expectError(runCli(restoreArgs(archive, join(dr, "restored"))), 4, "ALREADY_EXISTS");
    expectError(runCli([...h.g, "--json", "backup", "--out", archive, "--backup-passphrase-file", backupPass]), 4, "ALREADY_EXISTS");
    expectError(runCli([...h.g, "--json", "backup", "--backup-passphrase-file", backupPass]), 2, "USAGE");
    for (const [args, example] of [
      [["backup", "--help"], "$ trustline backup --out /backups/pki-$(date +%F).tlbk"],
      [["backup", "verify", "--help"], "$ trustline backup verify /backups/pki-2026-12-05.tlbk"],
      [["restore", "--help"], "$ trustline restore --from pki-2026-12-05.tlbk --to /srv/pki"],
    ] as const) {
      const r = runCli(args);
      assert.equal(r.status, 0, describeRun(r));
      assert.ok(r.stdout.includes("Examples:") && r.stdout.includes(example), r.stdout);
    }
  });

  test("roles: an issuer may not back up (FORBIDDEN, exit 5) nor restore (the restored home asks its roles); nothing is written", () => {
    const issuer = asOperator(h, "line-issuer", "issuer");
    const out = join(t.dir, "by-issuer.tlbk");
    const e = expectError(runCli([...h.g, ...issuer, "--json", "backup", "--out", out, "--backup-passphrase-file", backupPass]), 5, "FORBIDDEN");
    assert.deepEqual([e.details.action, e.details.needs], ["store.backup", ["admin"]]);
    assert.equal(existsSync(out), false);

    const withIssuer = join(t.dir, "with-issuer.tlbk");
    expectOk(runCli([...h.g, "--json", "backup", "--out", withIssuer, "--backup-passphrase-file", backupPass]));
    const r = runCli(["--passphrase-file", h.passFile, ...issuer, "--json", "restore", "--from", withIssuer, "--to", join(dr, "by-issuer"), "--backup-passphrase-file", backupPass]);
    const refused = expectError(r, 5, "FORBIDDEN");
    assert.equal(refused.details.action, "store.restore");
    assert.deepEqual(readdirSync(dr).filter((n) => n !== "restored"), []);
  });
});
