/**
 * The PostgreSQL store beyond the shared contract, on a real PostgreSQL 15: schema migrations from
 * an empty database (and a second run that finds nothing to do), 3 -> 4 keeping a home's rows, the version check that refuses a
 * database too old or too new, a password never taken from the URL, an unreachable server, the
 * per-batch uniqueness of a request, and four processes writing at once losing and duplicating
 * nothing. `trustline db migrate|status` through the built CLI.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { checkSchemaVersion, type Database, migrate, MIGRATIONS, openDatabase, PostgresInventory, SCHEMA_VERSION, schemaVersion, TrustlineError } from "../../ca/index.js";
import { PostgresCrlStore } from "../../ca/store/postgres/crls.js";
import { openPostgresStorage } from "../../ca/store/postgres/storage.js";
import { REPO_ROOT, runCli, tempDir } from "../helpers/pki.js";
import { databaseUrl, POSTGRES_MISSING, type TestPostgres, testPostgres } from "../helpers/postgres.js";
import { expectError, expectOk, json } from "../cli/cli-helpers.js";
import { record } from "./store-contract.js";

const code = (c: string, match?: RegExp) => (e: unknown) => e instanceof TrustlineError && e.code === c && (match === undefined || match.test(e.message));

describe("PostgreSQL store", { skip: POSTGRES_MISSING, timeout: 180_000 }, () => {
  let pg: TestPostgres;
  const t = tempDir();
  const opened: Database[] = [];
  const open = async (url: string) => {
    const db = await openDatabase(url);
    opened.push(db);
    return db;
  };
  before(async () => {
    pg = await testPostgres();
  });
  after(async () => {
    await Promise.all(opened.map((d) => d.close()));
    t.cleanup();
  });

  test("migrations: an empty database is version 0 and refused; migrate applies every migration once; a second run applies none", async () => {
    const db = await open(await pg.createDatabase());
    assert.equal(await schemaVersion(db.pool), 0);
    await assert.rejects(checkSchemaVersion(db.pool, db.where), code("STORE_OUTDATED", /run `trustline db migrate`/));
    const first = await migrate(db);
    assert.deepEqual(first, { from: 0, to: SCHEMA_VERSION, applied: MIGRATIONS.map((m) => ({ version: m.version, title: m.title })) });
    await checkSchemaVersion(db.pool, db.where);
    assert.deepEqual(await migrate(db), { from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [] });
    const tables = await db.pool.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1");
    assert.deepEqual(tables.rows.map((r) => r.name), ["audit_entries", "audit_head", "certificates", "crls", "home_state", "revocation_events", "trustline_schema"]);
  });

  test("from the previous schema version: a version-1 database with records migrates to the current one and keeps them", async () => {
    const db = await open(await pg.createDatabase());
    assert.deepEqual((await migrate(db, 1)).applied.map((m) => m.version), [1]);
    await assert.rejects(checkSchemaVersion(db.pool, db.where), code("STORE_OUTDATED", /version 1, this trustline needs/));
    const kept = record();
    await new PostgresInventory(db).putCertificate(kept);
    const result = await migrate(db);
    assert.deepEqual([result.from, result.to, result.applied.map((m) => m.version)], [1, SCHEMA_VERSION, MIGRATIONS.slice(1).map((m) => m.version)]);
    assert.deepEqual(await new PostgresInventory(db).getCertificate(kept.serial), kept);
  });

  test("3 -> 4 (CRLs kept in the store): a version-3 home keeps its state, records, revocations and audit lines; the crls table starts empty and keeps a CRL", async () => {
    const db = await open(await pg.createDatabase());
    assert.deepEqual((await migrate(db, 3)).applied.map((m) => m.version), [1, 2, 3]);
    const inventory = new PostgresInventory(db);
    const kept = record();
    await inventory.putCertificate(kept);
    const event = { serial: kept.serial, ca: kept.ca, reason: "keyCompromise" as const, revokedAt: kept.issuedAt, notAfter: kept.notAfter, operator: "alice", station: "line-1" };
    await inventory.revoke([event]);
    await db.pool.query("INSERT INTO audit_entries (seq, line) VALUES (1, $1)", ['{"seq":1,"action":"crl.issue"}']);
    await db.pool.query("INSERT INTO home_state (id, state) VALUES (1, $1)", ['{"format":"trustline-home/1","crlNumbers":{"device":7}}']);
    const dump = async () =>
      Promise.all(["SELECT record::text AS r FROM certificates", "SELECT id, event::text AS e FROM revocation_events", "SELECT * FROM audit_entries", "SELECT state::text AS s FROM home_state"].map(async (q) => (await db.pool.query(q)).rows));
    const before = await dump();
    const result = await migrate(db);
    assert.deepEqual([result.from, result.to, result.applied.map((m) => m.version)], [3, 4, [4]]);
    assert.equal(SCHEMA_VERSION, 4);
    assert.deepEqual(await dump(), before, "every row of schema 3 as it was");
    assert.equal((await db.pool.query("SELECT * FROM crls")).rowCount, 0);
    assert.equal(await inventory.revocationPosition(), 1);
    const crls = new PostgresCrlStore(db);
    assert.equal(await crls.latest("device"), undefined);
    const crl = { ca: "device", der: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x08]), crlNumber: 8, thisUpdate: "2026-03-01T12:00:00.000Z", nextUpdate: "2026-03-08T12:00:00.000Z", entries: 1, dropped: 0, coversRevocations: 1 };
    await crls.put(crl);
    assert.deepEqual(await new PostgresCrlStore(db).latest("device"), crl, "read back by another process");
    await crls.put({ ...crl, coversRevocations: 5 });
    assert.deepEqual(await crls.latest("device"), { ...crl, coversRevocations: 5 }, "the same number with its coverage moved on: the DER it held, the new coverage");
  });

  test("LISTEN/NOTIFY: a revocation recorded through one connection wakes a watcher on another at once; none after it stops", async () => {
    const url = await pg.createDatabase();
    await migrate(await open(url));
    const watcher = await openPostgresStorage(url);
    const writer = await open(url);
    const inventory = new PostgresInventory(writer);
    let woken = 0;
    let wake = () => undefined as void;
    const stop = await watcher.watchRevocations!(
      () => {
        woken += 1;
        wake();
      },
      (e) => assert.fail(e),
    );
    try {
      const r = record();
      await inventory.putCertificate(r);
      const started = performance.now();
      const arrived = new Promise<void>((resolve) => (wake = resolve));
      await inventory.revoke([{ serial: r.serial, ca: r.ca, reason: "keyCompromise", revokedAt: r.issuedAt, notAfter: r.notAfter, operator: "alice", station: "line-1" }]);
      await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error("no notification within 2 s")), 2_000))]);
      assert.equal(woken, 1);
      assert.ok(performance.now() - started < 1_000, "pushed, not polled");
    } finally {
      await stop();
    }
    const r2 = record();
    await inventory.putCertificate(r2);
    await inventory.revoke([{ serial: r2.serial, ca: r2.ca, reason: "superseded", revokedAt: r2.issuedAt, notAfter: r2.notAfter, operator: "alice", station: "line-1" }]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(woken, 1, "no call after stop");
    await watcher.close(); // ends: the LISTEN connection went back destroyed
  });

  test("two migrations at once (two stations): both succeed, each migration is applied once", async () => {
    const url = await pg.createDatabase();
    const [a, b] = [await open(url), await open(url)];
    const results = await Promise.all([migrate(a), migrate(b)]);
    assert.deepEqual(results.map((r) => r.applied.length).sort(), [0, MIGRATIONS.length]);
    assert.equal((await a.pool.query("SELECT * FROM trustline_schema")).rowCount, MIGRATIONS.length);
  });

  test("a database newer than this trustline is refused by the check and by migrate: upgrade trustline", async () => {
    const db = await open(await pg.createDatabase());
    await migrate(db);
    await db.pool.query("INSERT INTO trustline_schema (version, title) VALUES ($1, 'from the future')", [SCHEMA_VERSION + 1]);
    await assert.rejects(checkSchemaVersion(db.pool, db.where), code("STORE_OUTDATED", /upgrade trustline/));
    await assert.rejects(migrate(db), code("STORE_OUTDATED", /upgrade trustline/));
  });

  test("a password in the URL is refused (it would end up in argv and logs); the password comes from a file", async () => {
    await assert.rejects(openDatabase(`postgres://postgres:hunter2@localhost/x`), (e: unknown) => code("USAGE", /never in the URL/)(e) && !(e as Error).message.includes("hunter2"));
    const url = await pg.createDatabase();
    const file = join(t.dir, "db-password");
    writeFileSync(file, "unused-with-trust-auth\n", { mode: 0o600 });
    const db = await openDatabase(url, { passwordFile: file });
    opened.push(db);
    await assert.rejects(openDatabase(url, { passwordFile: join(t.dir, "missing") }), code("INPUT_INVALID", /password file/));
  });

  test("an unreachable server or a missing database is STORE_UNAVAILABLE with what to do", async () => {
    await assert.rejects(openDatabase(databaseUrl(join(t.dir, "no-server-here"), "x")), code("STORE_UNAVAILABLE", /cannot reach the database/));
    await assert.rejects(openDatabase(databaseUrl(pg.host, "no_such_db")), code("STORE_UNAVAILABLE", /does not exist.*db migrate/));
    await assert.rejects(openDatabase("mysql://x@y/z"), code("USAGE"));
  });

  test("a request is issued once per batch: a second record for it, from any station, is STORE_CONFLICT", async () => {
    const db = await open(await pg.createDatabase());
    await migrate(db);
    const store = new PostgresInventory(db);
    const first = record({ batch: "B-7", station: "line-7" });
    await store.putCertificate(first);
    await assert.rejects(store.putCertificate(record({ batch: "B-7", station: "line-8", requestSha256: first.requestSha256 })), code("STORE_CONFLICT", /already issued in its batch/));
    await store.putCertificate(record({ batch: "B-8", requestSha256: first.requestSha256 })); // another batch may
    await store.putCertificate(record({ batch: null, requestSha256: first.requestSha256 })); // and so may single issuance
    const unknown = record();
    await assert.rejects(store.revoke([{ serial: unknown.serial, ca: "device", reason: "superseded", revokedAt: unknown.issuedAt, notAfter: unknown.notAfter, operator: "bob", station: "x" }]), code("NOT_FOUND"));
  });

  test("four processes writing 10,000 records each at once, in groups of 500: 40,000 stored, none lost, none twice", async () => {
    const url = await pg.createDatabase();
    const db = await open(url);
    await migrate(db);
    const writer = join(REPO_ROOT, "dist", "test", "store", "postgres-writer.js");
    const runs = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<{ status: number | null; out: string }>((resolve) => {
            const child = spawn(process.execPath, [writer, url, `line-${i}`, "10000", "500"], { stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.stderr.on("data", (d: Buffer) => (out += d.toString()));
            child.on("close", (status) => resolve({ status, out }));
          }),
      ),
    );
    for (const r of runs) assert.equal(r.status, 0, r.out);
    const counts = await db.pool.query<{ station: string; n: string; distinct_serials: string }>("SELECT station, count(*) AS n, count(DISTINCT serial) AS distinct_serials FROM certificates GROUP BY station ORDER BY station");
    assert.deepEqual(
      counts.rows.map((r) => [r.station, Number(r.n), Number(r.distinct_serials)]),
      [0, 1, 2, 3].map((i) => [`line-${i}`, 10_000, 10_000]),
    );
    const acknowledged = runs.flatMap((r) => r.out.trim().split("\n").filter((l) => /^[0-9a-f]+$/.test(l)));
    assert.equal(acknowledged.length, 40_000, "every writer printed the serials it was told were stored");
    const stored = new Set((await db.pool.query<{ serial: string }>("SELECT serial FROM certificates")).rows.map((r) => r.serial));
    assert.equal(acknowledged.filter((s) => !stored.has(s)).length, 0, "no acknowledged record is missing");
  });

  test("trustline db migrate and db status (exit 4 while the schema is old; the URL's password never accepted)", async () => {
    const url = await pg.createDatabase();
    expectError(runCli(["--json", "db", "status", "--store", url]), 4, "STORE_OUTDATED");
    const m = runCli(["--json", "db", "migrate", "--store", url]);
    expectOk(m);
    assert.deepEqual([json(m).from, json(m).to, json(m).applied.length], [0, SCHEMA_VERSION, MIGRATIONS.length]);
    const s = runCli(["--json", "db", "status"], { env: { TRUSTLINE_DATABASE_URL: url } });
    expectOk(s);
    assert.equal(json(s).version, SCHEMA_VERSION);
    expectError(runCli(["--json", "db", "migrate"]), 2, "USAGE");
    const leak = runCli(["--json", "db", "migrate", "--store", "postgres://u:s3cret@localhost/x"]);
    expectError(leak, 2, "USAGE");
    assert.doesNotMatch(leak.stdout + leak.stderr, /s3cret/);
  });
});
