/** The certificate inventory: durable appends, lookups by serial, crash recovery, flat write cost. */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import type { CertificateRecord } from "../../ca/index.js";
import { FileInventory } from "../../ca/store/file-inventory.js";
import { SerialTable } from "../../ca/store/serial-table.js";
import { tempDir } from "../helpers/pki.js";

const t = tempDir();
after(() => t.cleanup());
const NOW = new Date("2026-03-01T12:00:00Z");

function record(serial: string, extra: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial,
    ca: "device",
    profile: "device",
    policyOids: ["1.2.3"],
    subject: `CN=${serial}`,
    commonName: serial,
    notBefore: "2026-01-01T00:00:00.000Z",
    notAfter: "2027-01-01T00:00:00.000Z",
    der: "AAAA",
    requestSha256: "00".repeat(32),
    keySource: "csr",
    operator: "alice",
    station: "line-1",
    batch: null,
    issuedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

function tableEntry(name: string, serial: string) {
  const table = SerialTable.open(join(t.dir, name, "index", "serials.tbl"), "r");
  assert.ok(table, "the serial table exists");
  try {
    return table.get(serial);
  } finally {
    table.close();
  }
}

function fresh(name: string): FileInventory {
  const inv = new FileInventory(join(t.dir, name));
  inv.create();
  return inv;
}

async function all(inv: FileInventory, filter = {}): Promise<CertificateRecord[]> {
  const out: CertificateRecord[] = [];
  for await (const r of inv.query(filter, NOW)) out.push(r);
  return out;
}

test("put, get by serial, and a duplicate serial is refused with STORE_CONFLICT", async () => {
  const inv = fresh("basic");
  await inv.putCertificate(record("aa01"));
  await inv.putCertificates([record("bb02"), record("aa03", { batch: "B1" })]);
  assert.equal((await inv.getCertificate("aa03"))?.batch, "B1");
  assert.equal(await inv.getCertificate("cc04"), undefined);
  await assert.rejects(inv.putCertificate(record("bb02")), { code: "STORE_CONFLICT" });
  await assert.rejects(inv.putCertificates([record("dd05"), record("dd05")]), { code: "STORE_CONFLICT" });
  assert.equal(await inv.getCertificate("dd05"), undefined, "a refused group writes nothing");
  assert.deepEqual((await all(inv)).map((r) => r.serial), ["aa01", "bb02", "aa03"]);
  assert.deepEqual((await all(inv, { batch: "B1" })).map((r) => r.serial), ["aa03"]);
});

test("a torn last record (crash mid-append) is invisible to readers and cut by the next writer", async () => {
  const inv = fresh("torn");
  await inv.putCertificate(record("aa01"));
  const seg = join(t.dir, "torn", "segments", "00000001.jsonl");
  appendFileSync(seg, '{"serial":"ff99","ca":"dev');
  assert.deepEqual((await all(inv)).map((r) => r.serial), ["aa01"]);
  await inv.putCertificate(record("bb02"));
  assert.deepEqual((await all(inv)).map((r) => r.serial), ["aa01", "bb02"]);
  assert.ok(readFileSync(seg, "utf8").endsWith("\n"));
  assert.equal((await inv.getCertificate("bb02"))?.serial, "bb02");
});

test("records past the index checkpoint (crash between the two appends) are still found, then re-indexed", async () => {
  const inv = fresh("lag");
  await inv.putCertificate(record("aa01"));
  const seg = join(t.dir, "lag", "segments", "00000001.jsonl");
  appendFileSync(seg, `${JSON.stringify(record("ab02"))}\n`); // written and synced, index never updated
  assert.equal((await inv.getCertificate("ab02"))?.serial, "ab02");
  await assert.rejects(inv.putCertificate(record("ab02")), { code: "STORE_CONFLICT" }, "duplicate detection sees unindexed records");
  await inv.putCertificate(record("ac03"));
  await inv.settle(); // the index update finishes before the home's lock is released: here, outside a lock, wait for it
  const checkpoint = JSON.parse(readFileSync(join(t.dir, "lag", "index", "checkpoint.json"), "utf8")) as { segment: number; offset: number };
  assert.deepEqual([checkpoint.segment, checkpoint.offset], [1, statSync(seg).size], "the index now reaches the end");
  assert.equal(tableEntry("lag", "ab02")?.segment, 1, "ab02 is in the serial table");
});

test("a lost index is rebuilt from the segments", async () => {
  const inv = fresh("rebuild");
  await inv.putCertificates([record("aa01"), record("bb02")]);
  rmSync(join(t.dir, "rebuild", "index"), { recursive: true });
  const again = fresh("rebuild");
  await again.putCertificate(record("cc03"));
  assert.equal((await again.getCertificate("aa01"))?.serial, "aa01");
  assert.equal(tableEntry("rebuild", "bb02")?.segment, 1);
});

test("a lost serial table alone is noticed (the checkpoint no longer counts) and rebuilt", async () => {
  const inv = fresh("table-lost");
  await inv.putCertificates([record("aa01"), record("bb02")]);
  rmSync(join(t.dir, "table-lost", "index", "serials.tbl"));
  assert.equal((await inv.getCertificate("bb02"))?.serial, "bb02", "readers scan what is not indexed");
  await assert.rejects(inv.putCertificate(record("aa01")), { code: "STORE_CONFLICT" }, "duplicates are still caught");
  await inv.putCertificate(record("cc03"));
  assert.equal(tableEntry("table-lost", "aa01")?.segment, 1);
  assert.equal(tableEntry("table-lost", "cc03")?.segment, 1);
});

test("a damaged record in the middle is reported as STORE_CORRUPT, not skipped", async () => {
  const inv = fresh("corrupt");
  await inv.putCertificates([record("aa01"), record("bb02")]);
  const seg = join(t.dir, "corrupt", "segments", "00000001.jsonl");
  const text = readFileSync(seg, "utf8");
  writeFileSync(seg, text.replace('"serial":"aa01"', '"serial":"aa01",,'));
  await assert.rejects(all(inv), { code: "STORE_CORRUPT" });
});

test("write cost does not grow with the inventory: an append adds one line, and lookups stay exact", async () => {
  const inv = fresh("flat");
  const serial = (i: number) => i.toString(16).padStart(40, "0").replace(/^0/, "1");
  const batch = Array.from({ length: 5000 }, (_, i) => record(serial(i)));
  await inv.putCertificates(batch);
  const seg = join(t.dir, "flat", "segments", "00000001.jsonl");
  const before = statSync(seg).size;
  await inv.putCertificate(record("ffffffff"));
  const added = statSync(seg).size - before;
  assert.equal(added, JSON.stringify(record("ffffffff")).length + 1, "one append of one line, no rewrite");
  assert.equal((await inv.getCertificate(serial(4321)))?.serial, serial(4321));
});

test("an index of an earlier layout (256 text shards) is replaced by the serial table on the next write", async () => {
  const inv = fresh("layout");
  await inv.putCertificates([record("aa01"), record("bb02", { batch: "OLD" })]);
  const index = join(t.dir, "layout", "index");
  // What layout 2 left behind: shard files and a checkpoint of that layout.
  rmSync(join(index, "serials.tbl"));
  writeFileSync(join(index, "02.idx"), "bb02 1 0 10\n");
  writeFileSync(join(index, "checkpoint.json"), JSON.stringify({ segment: 1, offset: 999, layout: 2 }));
  assert.equal((await inv.getCertificate("bb02"))?.serial, "bb02", "readers scan until the index is rebuilt");
  await inv.putCertificate(record("cc03"));
  assert.equal(existsSync(join(index, "02.idx")), false, "the old shards are gone");
  for (const serial of ["aa01", "bb02", "cc03"]) assert.equal(tableEntry("layout", serial)?.segment, 1, serial);
  assert.deepEqual([...(await inv.batchRequests("OLD")).values()], ["bb02"], "the batch index is rebuilt too");
});

test("a write's index update finishes in the background: lookups see the records at once, settle() makes the checkpoint reach them", async () => {
  const inv = fresh("settle");
  await inv.putCertificates([record("aa01"), record("bb02")]);
  assert.equal(tableEntry("settle", "bb02")?.segment, 1, "the slots are written before putCertificates returns");
  assert.equal((await inv.getCertificate("aa01"))?.serial, "aa01");
  await inv.settle();
  const seg = join(t.dir, "settle", "segments", "00000001.jsonl");
  const checkpoint = JSON.parse(readFileSync(join(t.dir, "settle", "index", "checkpoint.json"), "utf8")) as { segment: number; offset: number };
  assert.deepEqual([checkpoint.segment, checkpoint.offset], [1, statSync(seg).size]);
  // The next write waits for the last one's index update before its own recovery reads the checkpoint.
  await inv.putCertificate(record("cc03"));
  await inv.settle();
  const after = JSON.parse(readFileSync(join(t.dir, "settle", "index", "checkpoint.json"), "utf8")) as { segment: number; offset: number };
  assert.equal(after.offset, statSync(seg).size);
});
