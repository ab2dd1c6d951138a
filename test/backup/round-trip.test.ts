/**
 * backupHome → verifyBackup → the home wiped → restoreHome: every certificate, revocation and hold
 * is back, the trail verifies, and the restored home goes on issuing. Library API, fixed clock.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  backupHome,
  generateDeviceCertificate,
  Home,
  listCertificates,
  type ListedCertificate,
  readAuditLog,
  restoreHome,
  revokeCertificate,
  type ScryptParams,
  verifyAuditLog,
  verifyBackup,
} from "../../ca/index.js";
import { FIXED_NOW, fixedClock, makeHome, operatorToken, PASSPHRASE, tempDir } from "../helpers/pki.js";

/** The cheapest cost archives accept: these tests exercise the format, not scrypt. */
const FAST: ScryptParams = { N: 1 << 14, r: 8, p: 1 };
const BACKUP_PASSPHRASE = "correct horse battery staple";

async function all(home: Home): Promise<ListedCertificate[]> {
  const out: ListedCertificate[] = [];
  for await (const c of listCertificates(home)) out.push(c);
  return out.sort((a, b) => a.serial.localeCompare(b.serial));
}

async function actions(home: Home): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readAuditLog(home)) out.push(e.action);
  return out;
}

describe("backup, verify, restore (library)", { timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;

  before(async () => {
    t = tempDir("trustline-backup-lib-");
    home = await makeHome(t.dir);
  });
  after(() => t.cleanup());

  test("every certificate, revocation and hold comes back; the trail verifies; the restored home issues", async () => {
    const devices = [];
    for (let i = 0; i < 5; i++) devices.push((await generateDeviceCertificate(home, `dev-${i}`, { batch: "B-1" })).record);
    await revokeCertificate(home, devices[0]!.serial, { reason: "keyCompromise" });
    await revokeCertificate(home, devices[1]!.serial, { reason: "certificateHold" });
    await revokeCertificate(home, devices[2]!.serial, { reason: "certificateHold" });
    await revokeCertificate(home, devices[2]!.serial, { reason: "removeFromCRL" });
    const before = await all(home);
    const revocationsBefore = await home.inventory.revocations();
    const trailBefore = await verifyAuditLog(home);
    assert.equal(trailBefore.intact, true);

    const archive = join(t.dir, "pki-2026-03-01.tlbk");
    const made = await backupHome(home, { out: archive, secret: { passphrase: BACKUP_PASSPHRASE }, scrypt: FAST });
    const expectedCounts = { certificates: 4 + 5, revocationEvents: 4, auditEntries: trailBefore.entries };
    assert.deepEqual(
      { createdAt: made.createdAt, organization: made.organization, counts: made.counts, auditHead: made.auditHead },
      { createdAt: FIXED_NOW.toISOString(), organization: "Acme Devices", counts: expectedCounts, auditHead: { seq: trailBefore.head.seq, hash: trailBefore.head.hash } },
    );
    assert.equal(made.files, 9, "state.json, four keys, one segment, the revocation log, the audit log and its head");
    assert.deepEqual(readdirSync(t.dir).sort(), ["pki", "pki-2026-03-01.tlbk"], "no temporary file is left next to the archive");

    // The backup is in the source home's trail, with the archive's SHA-256 and counts.
    const entries = [];
    for await (const e of readAuditLog(home)) entries.push(e);
    const last = entries.at(-1)!;
    assert.deepEqual(
      { action: last.action, outcome: last.outcome, operator: last.operator, details: last.details },
      { action: "store.backup", outcome: "ok", operator: "alice", details: { sha256: made.sha256, size: made.size, createdAt: made.createdAt, source: "file-home", counts: expectedCounts, auditHead: made.auditHead } },
    );

    const verified = await verifyBackup(archive, { passphrase: BACKUP_PASSPHRASE });
    assert.deepEqual(verified, made);

    // Disaster: the home is gone.
    const dir = home.dir;
    const token = await operatorToken(home, "alice");
    await home.close();
    rmSync(dir, { recursive: true });

    const restored = await restoreHome(archive, {
      to: dir,
      secret: { passphrase: BACKUP_PASSPHRASE },
      passphrase: async () => PASSPHRASE,
      clock: fixedClock,
      operator: "alice",
      station: "dr-site",
      credential: { kind: "service-token", token },
    });
    assert.deepEqual(restored, { ...made, home: dir, audit: { entries: trailBefore.entries + 1, signedThrough: trailBefore.entries + 1 }, restoredBy: "alice" });
    assert.deepEqual(readdirSync(t.dir).sort(), ["pki", "pki-2026-03-01.tlbk"], "no temporary folder is left");
    assert.deepEqual(readdirSync(join(dir, "inventory", "index")).sort(), ["batch-B-1.idx", "checkpoint.json", "serials.tbl"], "the derived index is rebuilt");

    const back = await Home.open({ home: dir, passphrase: async () => PASSPHRASE, clock: fixedClock, operator: "alice", credential: { kind: "service-token", token } });
    assert.deepEqual(await all(back), before);
    assert.deepEqual(await back.inventory.revocations(), revocationsBefore);
    assert.deepEqual((await back.inventory.batchRequests("B-1")).size, 5);
    const trail = await verifyAuditLog(back);
    assert.equal(trail.intact, true);
    assert.equal(trail.entries, trailBefore.entries + 1);
    const restoredActions = await actions(back);
    assert.deepEqual(restoredActions.slice(-2), ["certificate.revoke", "store.restore"]);
    assert.equal(restoredActions.includes("store.backup"), false, "the backup's own entry came after the snapshot");

    // Issuing goes on: the next certificate, and the trail still verifies.
    const next = await generateDeviceCertificate(back, "dev-after-restore", { batch: "B-1" });
    assert.equal((await back.inventory.getCertificate(next.record.serial))?.serial, next.record.serial);
    assert.equal((await all(back)).length, before.length + 1);
    const after = await verifyAuditLog(back);
    assert.deepEqual([after.intact, after.entries], [true, trailBefore.entries + 3], "the restore entry, then the intent and issue entries");
    home = back;
  });

  test("a raw 32-byte key opens only its archive; a passphrase is refused for it, with KEY_UNAVAILABLE", async () => {
    const key = Buffer.alloc(32, 7);
    const archive = join(t.dir, "raw-key.tlbk");
    const made = await backupHome(home, { out: archive, secret: { key } });
    assert.deepEqual(await verifyBackup(archive, { key }), made);
    await assert.rejects(verifyBackup(archive, { key: Buffer.alloc(32, 8) }), { code: "KEY_UNAVAILABLE", details: { reason: "wrong-passphrase" } });
    await assert.rejects(verifyBackup(archive, { passphrase: BACKUP_PASSPHRASE }), { code: "KEY_UNAVAILABLE" });
  });

  test("refusals: a short passphrase, an existing archive, a non-empty destination, a wrong CA passphrase, a token the restored home does not know; none leaves a folder", async () => {
    await assert.rejects(backupHome(home, { out: join(t.dir, "short.tlbk"), secret: { passphrase: "short" } }), { code: "INPUT_INVALID" });
    assert.equal(existsSync(join(t.dir, "short.tlbk")), false);
    const archive = join(t.dir, "again.tlbk");
    writeFileSync(archive, "taken");
    await assert.rejects(backupHome(home, { out: archive, secret: { passphrase: BACKUP_PASSPHRASE }, scrypt: FAST }), { code: "ALREADY_EXISTS" });
    rmSync(archive);
    await backupHome(home, { out: archive, secret: { passphrase: BACKUP_PASSPHRASE }, scrypt: FAST });

    const occupied = join(t.dir, "occupied");
    mkdirSync(occupied);
    writeFileSync(join(occupied, "notes.txt"), "keep me");
    const token = await operatorToken(home, "alice");
    const options = { secret: { passphrase: BACKUP_PASSPHRASE }, passphrase: async () => PASSPHRASE, clock: fixedClock, credential: { kind: "service-token" as const, token } };
    await assert.rejects(restoreHome(archive, { ...options, to: occupied }), { code: "ALREADY_EXISTS" });
    assert.deepEqual(readdirSync(occupied), ["notes.txt"]);

    // A wrong CA passphrase: the restored home's keys do not open; nothing is left.
    const elsewhere = join(t.dir, "elsewhere", "pki");
    await assert.rejects(restoreHome(archive, { ...options, to: elsewhere, passphrase: async () => "not the CA passphrase" }), { code: "KEY_UNAVAILABLE" });
    assert.deepEqual(readdirSync(join(t.dir, "elsewhere")), []);
    // A token the restored home does not know.
    await assert.rejects(restoreHome(archive, { ...options, to: elsewhere, credential: { kind: "service-token", token: "x".repeat(43) } }), { code: "AUTH_FAILED" });
    assert.deepEqual(readdirSync(join(t.dir, "elsewhere")), []);
    const ok = await restoreHome(archive, { ...options, to: elsewhere });
    assert.equal(ok.home, elsewhere);
  });
});
