/**
 * The signed head is written beside the lines it covers, and replaces the old head only once they
 * are durable: a head never gets ahead of the log, whichever of the two fails.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { AuditLog, FileAuditStorage, type AuditHead } from "../../ca/audit/log.js";
import type { Signer } from "../../ca/keys/signer.js";
import { fixedClock, tempDir } from "../helpers/pki.js";

const t = tempDir();
after(() => t.cleanup());

const head = (seq: number): AuditHead => ({ seq, hash: "ab".repeat(32), time: "2026-03-01T12:00:00.000Z", signature: "c2ln" });
const leftovers = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"));

async function storage(name: string): Promise<{ dir: string; store: FileAuditStorage }> {
  const dir = join(t.dir, name);
  const store = new FileAuditStorage(dir);
  await store.create();
  await store.writeHead(head(1));
  return { dir, store };
}

test("the new head replaces the old one only after the lines are durable", async () => {
  const { dir, store } = await storage("waits");
  let linesDone!: () => void;
  const lines = new Promise<void>((r) => (linesDone = r));
  const writing = store.writeHead(head(2), lines);
  await new Promise((r) => setTimeout(r, 50)); // the head's own file is written and synced by now
  assert.equal((await store.readHead())?.seq, 1, "still the old head while the lines are not durable");
  linesDone();
  await writing;
  assert.equal((await store.readHead())?.seq, 2);
  assert.deepEqual(leftovers(dir), []);
});

test("lines that fail to become durable leave the old head, and no temporary file", async () => {
  const { dir, store } = await storage("fails");
  const lines = Promise.reject(Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" }));
  await assert.rejects(store.writeHead(head(2), lines), { code: "EIO" });
  assert.equal((await store.readHead())?.seq, 1);
  assert.deepEqual(leftovers(dir), []);
});

test("AuditLog.append: a failed append is thrown after both settle, and the head is not moved", async () => {
  const { store } = await storage("append");
  class FailingAppend extends FileAuditStorage {
    override async appendLines(): Promise<void> {
      await new Promise((r) => setTimeout(r, 20));
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }
  }
  const failing = new FailingAppend(join(t.dir, "append"));
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const signer: Signer = { algorithm: "ecdsa-p256-sha256", publicKey: publicKey.export({ format: "der", type: "spki" }), sign: async (data) => nodeSign("sha256", data, privateKey) };
  await assert.rejects(new AuditLog(failing, fixedClock).append([{ action: "certificate.intent", outcome: "ok", operator: "alice", station: "line-1" }], signer), { code: "ENOSPC" });
  assert.equal((await store.readHead())?.seq, 1, "the head still names the lines that are there");
});
