/** Batch issuance through the library: bad CSRs do not stop a batch; duplicates and re-runs issue nothing twice. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { countCsrFiles, type Home, issueBatch, issueBatchFromFolder, listCertificates, listCsrFiles, readAuditLog, verifyAuditLog } from "../../ca/index.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { makeHome, openssl, tempDir } from "../helpers/pki.js";

let t: { dir: string; cleanup: () => void };
let home: Home;
before(async () => {
  t = tempDir();
  home = await makeHome(t.dir);
});
after(() => t.cleanup());

async function batchRecords(batch: string) {
  const out = [];
  for await (const r of listCertificates(home, { batch })) out.push(r);
  return out;
}

test("a folder with broken CSRs: the good ones are issued, each bad one listed with its reason", async () => {
  const csrDir = join(t.dir, "mixed");
  const names = writeCsrFolder(csrDir, 120);
  writeFileSync(join(csrDir, "garbage.csr"), "this is not a CSR\n");
  const good = readFileSync(join(csrDir, names[7]!), "utf8");
  // A tampered CSR: one character of the base64 body changed, so the signature no longer verifies.
  const lines = good.split("\n");
  lines[3] = lines[3]!.slice(0, 10) + (lines[3]![10] === "A" ? "B" : "A") + lines[3]!.slice(11);
  writeFileSync(join(csrDir, "tampered.csr"), lines.join("\n"));
  writeFileSync(join(csrDir, "empty.csr"), "");
  const summary = await issueBatchFromFolder(home, { csrDir, outDir: join(t.dir, "mixed-out"), batch: "MIXED-1", workers: 2, groupSize: 50 });
  assert.equal(summary.total, 123);
  assert.equal(summary.issued, 120);
  assert.equal(summary.skipped, 0);
  assert.deepEqual(summary.rejected.map((r) => [r.id, r.code]).sort(), [["empty.csr", "CSR_INVALID"], ["garbage.csr", "CSR_INVALID"], ["tampered.csr", "CSR_INVALID"]]);
  const records = await batchRecords("MIXED-1");
  assert.equal(records.length, 120);
  assert.equal(new Set(records.map((r) => r.commonName)).size, 120);
  for (const r of records) {
    assert.equal(r.batch, "MIXED-1");
    assert.equal(r.operator, "alice");
    assert.equal(r.station, "line-1");
    assert.equal(r.profile, "device");
    assert.match(r.serial, /^[0-7][0-9a-f]{39}$/);
  }
  const pem = readFileSync(join(t.dir, "mixed-out", "dev-000042.pem"), "utf8");
  assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
  const verdict = await verifyAuditLog(home);
  assert.ok(verdict.intact);
  // The trail: per commit group one intent naming every serial about to be signed, then one issue
  // entry per certificate, and one reject entry per refused CSR.
  const entries = [];
  for await (const e of readAuditLog(home)) if (e.batch === "MIXED-1") entries.push(e);
  const intents = entries.filter((e) => e.action === "certificate.intent");
  const issues = entries.filter((e) => e.action === "certificate.issue");
  assert.deepEqual(intents.map((e) => (e.details as { count: number }).count).reduce((a, b) => a + b, 0), 120);
  assert.ok(intents.length >= 2, `groups of at least 50 from chunks of 64: ${intents.length} intents`);
  assert.deepEqual(intents.flatMap((e) => (e.details as { serials: string[] }).serials).sort(), records.map((r) => r.serial).sort());
  assert.deepEqual(issues.map((e) => e.serial).sort(), records.map((r) => r.serial).sort());
  assert.equal(entries.filter((e) => e.action === "certificate.reject").length, 3);
});

test("fast-path certificates pass openssl verify and carry the CSR's CN", async () => {
  const root = join(t.dir, "root.pem");
  const ca = join(t.dir, "device-ca.pem");
  writeFileSync(root, home.state.cas.root!.certificate);
  writeFileSync(ca, home.state.cas.device!.certificate);
  for (const name of ["dev-000000", "dev-000049", "dev-000119"]) {
    const file = join(t.dir, "mixed-out", `${name}.pem`);
    const v = openssl(["verify", "-attime", String(Date.parse("2026-03-02T00:00:00Z") / 1000), "-CAfile", root, "-untrusted", ca, "-purpose", "sslclient", file]);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout.trim(), `${file}: OK`);
    assert.equal(openssl(["x509", "-in", file, "-noout", "-subject"]).stdout.trim(), `subject=CN = ${name}`);
  }
});

test("re-running a batch issues nothing twice and restores missing outputs", async () => {
  writeFileSync(join(t.dir, "mixed-out", "dev-000003.pem"), "-----BEGIN CERT"); // cut short by a crash
  const again = await issueBatchFromFolder(home, { csrDir: join(t.dir, "mixed"), outDir: join(t.dir, "mixed-out"), batch: "MIXED-1", workers: 1 });
  assert.equal(again.issued, 0);
  assert.equal(again.skipped, 120);
  assert.equal(again.rejected.length, 3);
  assert.equal(again.restoredOutputs, 1);
  assert.match(readFileSync(join(t.dir, "mixed-out", "dev-000003.pem"), "utf8"), /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  assert.equal((await batchRecords("MIXED-1")).length, 120);
});

test("the same CSR twice in one run is issued once; the library takes any iterable", async () => {
  const dir = join(t.dir, "dups");
  const names = writeCsrFolder(dir, 5, { prefix: "dup" });
  const items = [...names, names[0]!, names[1]!].map((n) => ({ id: n, csr: new Uint8Array(readFileSync(join(dir, n))) }));
  const issued: string[] = [];
  const summary = await issueBatch(home, items, { batch: "DUPS", onIssued: (list) => void issued.push(...list.map((c) => c.id)) });
  assert.equal(summary.issued, 5);
  assert.equal(summary.skipped, 2);
  assert.deepEqual(issued.sort(), [...names].sort());
});

test("a batch id and CA are validated before any work", async () => {
  await assert.rejects(issueBatch(home, [], { batch: "bad batch id" }), { code: "USAGE" });
  await assert.rejects(issueBatch(home, [], { batch: "B", ca: "firmware" }), { code: "POLICY_DENIED" });
  await assert.rejects(issueBatch(home, [], { batch: "B", ca: "nope" }), { code: "NOT_FOUND" });
});

test("a missing CSR folder is refused before anything is created", async () => {
  const outDir = join(t.dir, "never-created");
  await assert.rejects(issueBatchFromFolder(home, { csrDir: join(t.dir, "no-such-delivery"), outDir, batch: "MISSING" }), { code: "NOT_FOUND" });
  assert.equal(existsSync(outDir), false);
});

test("the folder's request files are counted and listed without sub-folders or hidden files", () => {
  const dir = join(t.dir, "listing");
  writeCsrFolder(dir, 3);
  writeFileSync(join(dir, ".hidden.csr"), "x");
  mkdirSync(join(dir, "sub"));
  assert.equal(countCsrFiles(dir), 3);
  assert.deepEqual(listCsrFiles(dir), [...listCsrFiles(dir)].sort());
  assert.equal(listCsrFiles(dir).length, 3);
});
