/**
 * The audit log over both storages: the chain, the signed head and every tamper check run the
 * same on files in the home and on PostgreSQL (a real server, a database of its own). A changed
 * line, a deleted entry or a head signed by another key are named exactly; on PostgreSQL two
 * writers that race for the same sequence number cannot fork the chain.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AuditEntry, AuditLog, type AuditEvent, type AuditStorage, FileAuditStorage } from "../../ca/audit/log.js";
import { keyObjectSigner } from "../../ca/keys/signer.js";
import { migrate, openDatabase, TrustlineError } from "../../ca/index.js";
import { PostgresAuditStorage } from "../../ca/store/postgres/audit-storage.js";
import { tempDir } from "../helpers/pki.js";
import { POSTGRES_MISSING, testPostgres } from "../helpers/postgres.js";

const clock = () => new Date("2026-12-01T12:00:00.000Z");
const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
const spki = key.publicKey.export({ format: "der", type: "spki" });
const signer = keyObjectSigner(key.privateKey, "ecdsa-p256-sha256", spki);
const holds = (message: Buffer, signature: Buffer) => verify("sha256", message, key.publicKey, signature);
const event = (i: number): AuditEvent => ({ action: "certificate.issue", outcome: "ok", operator: "alice", station: "line-1", serial: `0${i}`, details: { i } });

interface Subject {
  readonly storage: AuditStorage;
  /** Replace entry `seq`'s stored text. */
  edit(seq: number, change: (line: string) => string): Promise<void>;
  remove(seq: number): Promise<void>;
  close(): Promise<void>;
}

function auditContract(name: string, open: () => Promise<Subject>, skip: string | false = false): void {
  describe(`audit log over ${name}`, { skip, timeout: 60_000 }, () => {
    let s: Subject;
    let log: AuditLog;
    before(async () => {
      s = await open();
      log = new AuditLog(s.storage, clock);
      await log.create();
    });
    after(() => s?.close());

    test("appended entries chain and verify; the head is signed through the last signed write", async () => {
      await log.append([event(1), event(2)], undefined);
      await log.append([event(3), event(4), event(5)], signer);
      await log.append([event(6)], undefined);
      const { verdict } = await log.verify(holds);
      assert.equal(verdict.intact, true, JSON.stringify(verdict));
      assert.deepEqual(verdict.intact && [verdict.entries, verdict.signedThrough, verdict.unsignedTail], [6, 5, 1]);
      const read = [];
      for await (const e of log.read()) read.push([e.seq, e.serial]);
      assert.deepEqual(read, [1, 2, 3, 4, 5, 6].map((i) => [i, `0${i}`]));
      assert.equal((await log.readHead())!.seq, 5);
    });

    test("a changed entry is named; a head signed by another key is refused", async () => {
      await s.edit(3, (line) => line.replace('"i":3', '"i":33'));
      const { verdict } = await log.verify(holds);
      assert.deepEqual(!verdict.intact && [verdict.firstBad, verdict.problem], [3, "entry 3 was edited: its content does not match its hash"]);
      await s.edit(3, (line) => line.replace('"i":33', '"i":3'));
      assert.equal((await log.verify(holds)).verdict.intact, true);
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const { verdict: v2 } = await log.verify((m, sig) => verify("sha256", m, other.publicKey, sig));
      assert.deepEqual(!v2.intact && v2.problem, "the chain head's signature does not verify with the audit key");
    });

    test("a deleted entry is named", async () => {
      await s.remove(2);
      const { verdict } = await log.verify(holds);
      assert.deepEqual(!verdict.intact && [verdict.firstBad, verdict.problem], [2, "entry 2 carries sequence number 3: 1 entry was deleted before it"]);
    });
  });
}

auditContract("files (the embedded store)", async () => {
  const t = tempDir();
  const dir = join(t.dir, "audit");
  const path = join(dir, "log.jsonl");
  const lines = () => readFileSync(path, "utf8").split("\n").slice(0, -1);
  return {
    storage: new FileAuditStorage(dir),
    edit: async (seq, change) => writeFileSync(path, `${lines().map((l, i) => (i === seq - 1 ? change(l) : l)).join("\n")}\n`),
    remove: async (seq) => writeFileSync(path, `${lines().filter((_, i) => i !== seq - 1).join("\n")}\n`),
    close: async () => t.cleanup(),
  };
});

auditContract(
  "PostgreSQL",
  async () => {
    const pg = await testPostgres();
    const db = await openDatabase(await pg.createDatabase());
    await migrate(db);
    return {
      storage: new PostgresAuditStorage(db),
      edit: async (seq, change) => {
        const r = await db.pool.query<{ line: string }>("SELECT line FROM audit_entries WHERE seq = $1", [seq]);
        await db.pool.query("UPDATE audit_entries SET line = $2 WHERE seq = $1", [seq, change(r.rows[0]!.line)]);
      },
      remove: async (seq) => void (await db.pool.query("DELETE FROM audit_entries WHERE seq = $1", [seq])),
      close: () => db.close(),
    };
  },
  POSTGRES_MISSING,
);

describe("audit log on PostgreSQL: two writers racing without the home's lock", { skip: POSTGRES_MISSING, timeout: 60_000 }, () => {
  test("both read the same last entry; one appends, the other is STORE_CONFLICT with nothing written: one chain, intact", async () => {
    const pg = await testPostgres();
    const db = await openDatabase(await pg.createDatabase());
    try {
      await migrate(db);
      // Both writers read the last entry before either appends: a barrier after lastEntry makes the race certain.
      let arrived = 0;
      let release!: () => void;
      const bothRead = new Promise<void>((r) => (release = r));
      let racing = false;
      class Racing extends PostgresAuditStorage {
        override async lastEntry(): Promise<AuditEntry | undefined> {
          const last = await super.lastEntry();
          if (racing && ++arrived === 2) release();
          if (racing) await bothRead;
          return last;
        }
      }
      const a = new AuditLog(new Racing(db), clock);
      const b = new AuditLog(new Racing(db), clock);
      await a.append([event(1)], signer);
      racing = true;
      const results = await Promise.allSettled([a.append([event(2), event(3)], signer), b.append([event(20)], signer)]);
      const refused = results.filter((r) => r.status === "rejected");
      assert.equal(refused.length, 1);
      assert.equal((refused[0] as PromiseRejectedResult).reason instanceof TrustlineError && ((refused[0] as PromiseRejectedResult).reason as TrustlineError).code, "STORE_CONFLICT");
      const { verdict } = await a.verify(holds);
      assert.equal(verdict.intact, true, JSON.stringify(verdict));
      assert.ok(verdict.intact && (verdict.entries === 3 || verdict.entries === 2), "the winner's entries, and only them");
    } finally {
      await db.close();
    }
  });
});
