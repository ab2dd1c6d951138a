/**
 * Backup and restore of a home on PostgreSQL, as an operator runs them: the archive of a home with
 * revocations, a hold and its release restores into a second, empty database (with a station
 * folder) and into an embedded folder, each identical (`cert list`), verifying (`audit verify`) and
 * issuing on; a backup taken while a batch issues in another process holds every certificate handed
 * out before it began; a damaged archive, an occupied database and a copy that fails midway leave
 * the database as it was. The built CLI throughout, a real PostgreSQL.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { normalizeSerial } from "../../ca/index.js";
import { certList, expectError, expectOk, initCliHome, json, runCliAsync, sha256Hex, type TestHome } from "../cli/cli-helpers.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { runCli, tempDir, writeTemp } from "../helpers/pki.js";
import { createDatabaseSync, POSTGRES_MISSING } from "../helpers/postgres.js";

/** Long enough that the backup's snapshot falls inside the batch (about 3 s of issuing after the first 200). */
const BATCH = 8000;
const SUMMARY_KEYS = ["archive", "auditHead", "contentBytes", "counts", "createdAt", "files", "organization", "sha256", "size", "source"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sql<R extends object>(url: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Rows in each table of a Trustline database (a table not there yet counts as none). */
async function rowsIn(url: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of ["home_state", "certificates", "revocation_events", "audit_entries", "audit_head"]) {
    const [present] = await sql<{ present: boolean }>(url, `SELECT to_regclass('${table}') IS NOT NULL AS present`);
    counts[table] = present!.present ? Number((await sql<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]!.n) : 0;
  }
  return counts;
}

const EMPTY = { home_state: 0, certificates: 0, revocation_events: 0, audit_entries: 0, audit_head: 0 };

describe("backup and restore of a home on PostgreSQL", { skip: POSTGRES_MISSING, timeout: 600_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let h: TestHome;
  let backupPass: string;
  let archive: string;
  let listing: unknown;
  let auditEntries: number;

  const station = (home: string): TestHome => ({ ...h, home, g: ["--home", home, "--passphrase-file", h.passFile, "--session-file", h.sessionFile], gNoPass: ["--home", home] });
  const restoreArgs = (from: string, to: string, more: readonly string[] = []) => [...h.g, "--session-file", h.sessionFile, "--json", "restore", "--from", from, "--to", to, "--backup-passphrase-file", backupPass, ...more];
  const list = (home: string) => json(runCli(["--home", home, "--json", "cert", "list"]));
  const urlOf = (home: string) => (JSON.parse(readFileSync(join(home, "store.json"), "utf8")) as { url: string }).url;

  before(() => {
    process.env.TRUSTLINE_TEST_STORE = "postgres";
    t = tempDir("trustline-backup-pg-");
    h = initCliHome(t.dir);
    backupPass = writeTemp(t.dir, "backup-pass.txt", "a long backup passphrase, kept apart\n");
    const serials: string[] = [];
    for (let i = 0; i < 4; i++) serials.push(json(runCli([...h.g, "--json", "issue", "device", "--generate", `pg-${i}`, "--out-dir", join(t.dir, "o")])).serial);
    expectOk(runCli([...h.g, "revoke", serials[0]!, "--reason", "keyCompromise"]));
    expectOk(runCli([...h.g, "revoke", serials[1]!, "--reason", "certificateHold"]));
    expectOk(runCli([...h.g, "revoke", serials[2]!, "--reason", "certificateHold"]));
    expectOk(runCli([...h.g, "revoke", serials[2]!, "--reason", "removeFromCRL"]));
    listing = list(h.home);
    const v = runCli(["--home", h.home, "--json", "audit", "verify"]);
    expectOk(v);
    auditEntries = json(v).entries;
  });
  after(() => t?.cleanup());

  test("backup -> verify -> restore into a new database with a station folder: the same certificates and statuses, audit verify intact, issuing goes on", async () => {
    assert.deepEqual(readdirSync(h.home).sort(), ["keys", "store.json"]);
    const keyFiles = readdirSync(join(h.home, "keys"));
    archive = join(t.dir, "pki-pg.tlbk");
    const backup = runCli([...h.g, "--json", "backup", "--out", archive, "--backup-passphrase-file", backupPass]);
    expectOk(backup);
    const made = json(backup);
    assert.deepEqual(Object.keys(made).sort(), SUMMARY_KEYS);
    assert.equal(made.source, "postgres");
    assert.equal(made.sha256, sha256Hex(readFileSync(archive)));
    assert.equal(made.size, readFileSync(archive).length);
    // state.json, the key files, one segment, the revocation log, the audit log and its head
    assert.equal(made.files, 5 + keyFiles.length);
    assert.deepEqual(made.counts, { certificates: (listing as unknown[]).length, revocationEvents: 4, auditEntries });
    assert.equal(made.auditHead.seq, auditEntries);
    // The backup is itself recorded in the home's trail, after its snapshot.
    const trail = json(runCli(["--home", h.home, "--json", "audit", "verify"]));
    assert.equal(trail.entries, auditEntries + 1);

    const verify = runCli(["--json", "backup", "verify", archive, "--backup-passphrase-file", backupPass]);
    expectOk(verify);
    assert.deepEqual(json(verify), made);
    assert.match(runCli(["backup", "verify", archive, "--backup-passphrase-file", backupPass]).stdout, /taken .* from a home in PostgreSQL: /);

    const url2 = createDatabaseSync();
    const dr = join(t.dir, "dr-station");
    const restore = runCli(restoreArgs(archive, url2, ["--out-home", dr]));
    expectOk(restore);
    const r = json(restore);
    assert.deepEqual(Object.keys(r).sort(), [...SUMMARY_KEYS, "audit", "database", "home", "keysCopied", "restoredBy"].sort());
    assert.deepEqual([r.home, r.keysCopied, r.restoredBy, r.sha256], [dr, true, "alice", made.sha256]);
    assert.deepEqual(r.audit, { entries: auditEntries + 1, signedThrough: auditEntries + 1 });
    assert.deepEqual(readdirSync(dr).sort(), ["keys", "store.json"]);
    assert.deepEqual(readdirSync(join(dr, "keys")).sort(), keyFiles.sort());
    assert.equal(urlOf(dr), url2);
    assert.deepEqual(await rowsIn(url2), { home_state: 1, certificates: made.counts.certificates, revocation_events: 4, audit_entries: auditEntries + 1, audit_head: 1 });
    assert.equal(readdirSync(t.dir).filter((n) => n.startsWith(".trustline-restore-")).length, 0, "the temporary home is gone");

    assert.deepEqual(list(dr), listing);
    const restoredTrail = runCli(["--home", dr, "--json", "audit", "verify"]);
    expectOk(restoredTrail);
    assert.equal(json(restoredTrail).entries, auditEntries + 1);
    const s = station(dr);
    expectOk(runCli([...s.g, "--json", "issue", "device", "--generate", "after-pg-restore", "--out-dir", join(t.dir, "o2")]));
    assert.equal((await certList(s)).length, made.counts.certificates + 1);
    expectOk(runCli(["--home", dr, "audit", "verify"]));
    // The source database is untouched by the restore.
    assert.deepEqual(list(h.home), listing);
  });

  test("the same archive restores into an embedded folder: the records and audit lines are the database's text, byte for byte", async () => {
    const folder = join(t.dir, "embedded");
    const restore = runCli(restoreArgs(archive, folder));
    expectOk(restore);
    assert.equal(json(restore).home, folder);
    assert.equal(json(restore).source, "postgres");
    assert.equal(existsSync(join(folder, "store.json")), false);
    assert.deepEqual(list(folder), listing);
    const url = urlOf(h.home);
    const records = await sql<{ line: string }>(url, "SELECT record::text AS line FROM certificates ORDER BY seq");
    assert.equal(readFileSync(join(folder, "inventory", "segments", "00000001.jsonl"), "utf8"), records.map((x) => `${x.line}\n`).join(""));
    const events = await sql<{ line: string }>(url, "SELECT event::text AS line FROM revocation_events ORDER BY id");
    assert.equal(readFileSync(join(folder, "inventory", "revocations.jsonl"), "utf8"), events.map((x) => `${x.line}\n`).join(""));
    // The archived trail is the database's up to the snapshot; the restore adds store.restore.
    const lines = await sql<{ line: string }>(url, `SELECT line FROM audit_entries WHERE seq <= ${auditEntries} ORDER BY seq`);
    const restoredLines = readFileSync(join(folder, "audit", "log.jsonl"), "utf8").split("\n").filter(Boolean);
    assert.deepEqual(restoredLines.slice(0, auditEntries), lines.map((x) => x.line));
    assert.equal(JSON.parse(restoredLines[auditEntries]!).action, "store.restore");
    expectOk(runCli(["--home", folder, "audit", "verify"]));
    expectOk(runCli(["--home", folder, "store", "check"]));
    expectOk(runCli([...station(folder).g, "--json", "issue", "device", "--generate", "after-folder-restore", "--out-dir", join(t.dir, "o3")]));
  });

  test("a backup during `issue batch` in another process holds every certificate written out before it began; restored into a database, the trail verifies", async () => {
    const csrDir = join(t.dir, "delivery");
    const outDir = join(t.dir, "certs");
    writeCsrFolder(csrDir, BATCH);
    const before = (listing as unknown[]).length;
    const batch = runCliAsync([...h.g, "--json", "issue", "batch", "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "PG-LIVE-1"], { env: {} });
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && (!existsSync(outDir) || readdirSync(outDir).length < 200)) await sleep(10);

    // Acknowledged: the certificate file exists (and is whole) before the backup starts.
    const acknowledged = new Set<string>();
    for (const name of readdirSync(outDir)) {
      try {
        acknowledged.add(normalizeSerial(new X509Certificate(readFileSync(join(outDir, name))).serialNumber));
      } catch {
        /* being written right now: not yet handed out */
      }
    }
    assert.ok(acknowledged.size >= 150, `${acknowledged.size} certificates out before the backup`);
    const live = join(t.dir, "pki-pg-live.tlbk");
    const started = Date.now();
    const backup = await runCliAsync([...h.g, "--json", "backup", "--out", live, "--backup-passphrase-file", backupPass], { env: {} });
    const took = Date.now() - started;
    expectOk(backup);
    const made = json(backup);
    const finished = await batch;
    expectOk(finished);
    assert.equal(json(finished).issued, BATCH);
    // The snapshot fell inside the batch (between two of its commit groups), not after it.
    assert.ok(made.counts.certificates >= before + acknowledged.size && made.counts.certificates < before + BATCH, `${made.counts.certificates} certificates in the archive`);
    process.stderr.write(`note: backup of ${made.counts.certificates} certificates during the batch took ${took} ms\n`);

    const verify = runCli(["--json", "backup", "verify", live, "--backup-passphrase-file", backupPass]);
    expectOk(verify);
    assert.deepEqual(json(verify), made);

    const url3 = createDatabaseSync();
    const dr = join(t.dir, "dr-live");
    const restore = runCli(restoreArgs(live, url3, ["--out-home", dr]));
    expectOk(restore);
    assert.deepEqual(json(restore).audit, { entries: made.counts.auditEntries + 1, signedThrough: made.counts.auditEntries + 1 });
    const serials = new Set((await certList(station(dr))).map((c) => c.serial));
    assert.equal(serials.size, made.counts.certificates);
    for (const serial of acknowledged) assert.ok(serials.has(serial), `certificate ${serial}, written out before the backup, is in the restored home`);
    const v = runCli(["--home", dr, "--json", "audit", "verify"]);
    expectOk(v);
    assert.equal(json(v).entries, made.counts.auditEntries + 1);
    expectOk(runCli(["--home", dr, "store", "check"]));
  });

  test("one flipped byte: backup verify and restore --to <url> refuse it (INPUT_INVALID, exit 3), and the database stays empty", async () => {
    const original = readFileSync(archive);
    const flipped = join(t.dir, "flipped.tlbk");
    const bytes = Buffer.from(original);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(flipped, bytes);
    expectError(runCli(["--json", "backup", "verify", flipped, "--backup-passphrase-file", backupPass]), 3, "INPUT_INVALID");
    const url = createDatabaseSync();
    const dr = join(t.dir, "dr-flipped");
    expectError(runCli(restoreArgs(flipped, url, ["--out-home", dr])), 3, "INPUT_INVALID");
    assert.deepEqual(await rowsIn(url), EMPTY);
    assert.equal((await sql<{ t: string | null }>(url, "SELECT to_regclass('home_state') AS t"))[0]!.t, null, "not even migrated: nothing was written");
    assert.equal(existsSync(dr), false);
    assert.equal(readdirSync(t.dir).filter((n) => n.startsWith(".trustline-restore-")).length, 0);
    // The intact archive still restores into that same database.
    expectOk(runCli(restoreArgs(archive, url, ["--out-home", dr])));
    assert.deepEqual(list(dr), listing);
  });

  test("a copy that fails midway (the database refuses the audit lines) leaves the database empty and no station folder", async () => {
    const url = createDatabaseSync();
    expectOk(runCli(["--json", "db", "migrate", "--store", url]));
    await sql(url, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full (test)'; END $$");
    await sql(url, "CREATE TRIGGER refuse BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse()");
    const dr = join(t.dir, "dr-midway");
    expectError(runCli(restoreArgs(archive, url, ["--out-home", dr])), 4, "STORE_UNAVAILABLE");
    assert.deepEqual(await rowsIn(url), EMPTY);
    assert.equal(existsSync(dr), false);
    assert.equal(readdirSync(t.dir).filter((n) => n.startsWith(".trustline-restore-")).length, 0);
  });

  test("refused: a database that holds a home (ALREADY_EXISTS, exit 4, before the archive is read), a station folder that is not empty, key files without --out-home, --out-home with a folder destination", async () => {
    const occupied = urlOf(h.home);
    const before = await rowsIn(occupied);
    const dr = join(t.dir, "dr-occupied");
    const e = expectError(runCli(restoreArgs(archive, occupied, ["--out-home", dr])), 4, "ALREADY_EXISTS");
    assert.match(e.message, /already holds a CA home/);
    assert.deepEqual(await rowsIn(occupied), before);
    assert.equal(existsSync(dr), false);

    const url = createDatabaseSync();
    expectError(runCli(restoreArgs(archive, url, ["--out-home", h.home])), 4, "ALREADY_EXISTS");
    const usage = expectError(runCli(restoreArgs(archive, url)), 2, "USAGE");
    assert.match(usage.message, /--out-home/);
    assert.deepEqual(await rowsIn(url), EMPTY);
    expectError(runCli(restoreArgs(archive, join(t.dir, "folder-2"), ["--out-home", join(t.dir, "x")])), 2, "USAGE");
    assert.equal(existsSync(join(t.dir, "folder-2")), false);
  });
});
