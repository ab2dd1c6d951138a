/**
 * A production batch killed with SIGKILL mid-way and run again issues exactly what is missing:
 * no CSR gets a second certificate, no record from before the kill is lost, every output exists,
 * and the audit trail still verifies. Two batches into one home at once lose nothing either.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { initCliHome } from "./cli-helpers.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { CLI, runCli, tempDir } from "../helpers/pki.js";

let t: { dir: string; cleanup: () => void };
let home: string;
let passFile: string;
before(() => {
  t = tempDir();
  ({ home, passFile } = initCliHome(t.dir));
});
after(() => t.cleanup());

const cli = (...args: string[]) => runCli(["--home", home, "--passphrase-file", passFile, ...args]);

function listBatch(batch: string): { serial: string; requestSha256: string; commonName: string }[] {
  const r = cli("--json", "cert", "list", "--batch", batch);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { serial: string; requestSha256: string; commonName: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("kill -9 mid-batch, then re-run: only the missing certificates are issued, nothing twice, nothing lost", async () => {
  const csrDir = join(t.dir, "delivery");
  const outDir = join(t.dir, "certs");
  const total = 2500;
  writeCsrFolder(csrDir, total);
  const child = spawn(process.execPath, [CLI, "--home", home, "--passphrase-file", passFile, "issue", "batch", "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "KILLED-1", "--workers", "1"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 60_000;
  // Wait until some certificates are out, then kill without warning.
  while (Date.now() < deadline && (!existsSync(outDir) || readdirSync(outDir).length < 300)) await sleep(20);
  child.kill("SIGKILL");
  await exited;
  const before = listBatch("KILLED-1");
  assert.ok(before.length >= 300, `expected at least 300 issued before the kill, got ${before.length}`);
  assert.ok(before.length < total, "the batch was killed before it finished");

  const rerun = cli("--json", "issue", "batch", "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "KILLED-1");
  assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
  const summary = JSON.parse(rerun.stdout) as { issued: number; skipped: number; rejected: unknown[] };
  const afterRecords = listBatch("KILLED-1");
  assert.equal(afterRecords.length, total, "every CSR has its certificate");
  assert.equal(new Set(afterRecords.map((r) => r.requestSha256)).size, total, "no CSR has two certificates");
  assert.equal(new Set(afterRecords.map((r) => r.commonName)).size, total);
  assert.equal(summary.issued + summary.skipped, total);
  assert.equal(summary.issued, total - before.length, "the re-run issued exactly what was missing");
  const serials = new Set(afterRecords.map((r) => r.serial));
  for (const r of before) assert.ok(serials.has(r.serial), `record ${r.serial} from before the kill is still there`);
  assert.equal(readdirSync(outDir).length, total);
  for (const r of afterRecords.slice(0, 50)) {
    assert.match(readFileSync(join(outDir, `${r.commonName}.pem`), "utf8"), /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\n$/);
  }
  const audit = cli("audit", "verify");
  assert.equal(audit.status, 0, audit.stdout + audit.stderr);
  // A third run finds nothing to do.
  const third = JSON.parse(cli("--json", "issue", "batch", "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "KILLED-1").stdout) as { issued: number; skipped: number };
  assert.deepEqual([third.issued, third.skipped], [0, total]);
});

test("two batches into one home at the same time lose no record", async () => {
  const dirs = ["line-a", "line-b"].map((name) => {
    const dir = join(t.dir, name);
    writeCsrFolder(dir, 400, { prefix: name });
    return dir;
  });
  const runs = dirs.map(
    (dir, i) =>
      new Promise<number>((resolve) => {
        const c = spawn(process.execPath, [CLI, "--home", home, "--passphrase-file", passFile, "--station", `station-${i}`, "issue", "batch", "--csr-dir", dir, "--out-dir", `${dir}-out`, "--batch", `CONC-${i}`, "--workers", "1"], { stdio: "ignore" });
        c.once("exit", (code) => resolve(code ?? -1));
      }),
  );
  assert.deepEqual(await Promise.all(runs), [0, 0]);
  for (const i of [0, 1]) {
    const records = listBatch(`CONC-${i}`);
    assert.equal(records.length, 400);
    assert.equal(new Set(records.map((r) => r.commonName)).size, 400);
  }
  const all = JSON.parse(cli("--json", "cert", "list").stdout) as { serial: string }[];
  assert.equal(new Set(all.map((r) => r.serial)).size, all.length, "serials unique across the inventory");
  assert.equal(cli("audit", "verify").status, 0);
});

test("a batch with a corrupt CSR exits 3, lists it, and still issues the rest", () => {
  const dir = join(t.dir, "with-bad");
  writeCsrFolder(dir, 30, { prefix: "wb", der: true });
  writeFileSync(join(dir, "wb-broken.der"), Buffer.from([0x30, 0x82, 0x01, 0x00, 0x01]));
  const r = cli("--json", "issue", "batch", "--csr-dir", dir, "--out-dir", `${dir}-out`, "--batch", "WB");
  assert.equal(r.status, 3);
  const summary = JSON.parse(r.stdout) as { issued: number; rejected: { id: string; code: string; message: string }[] };
  assert.equal(summary.issued, 30);
  assert.deepEqual(summary.rejected.map((x) => [x.id, x.code]), [["wb-broken.der", "CSR_INVALID"]]);
  assert.match(summary.rejected[0]!.message, /not a well-formed PKCS#10 request/);
});
