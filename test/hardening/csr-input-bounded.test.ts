/**
 * A CSR is read from a regular file of bounded size: a FIFO or /dev/zero no longer hangs the CLI,
 * a huge file is refused before it fills memory, and in a batch such files are refused one by one
 * while the rest of the folder is issued (a re-run is not aborted by them either).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, readInputFile } from "../../ca/index.js";
import { tempDir } from "../helpers/pki.js";
import { certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

const csrFor = (cn: string) => createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, cn);

describe("CSR input files are regular and bounded", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  const f = (name: string) => join(dir, name);
  const issueDevice = (csr: string, extra: string[] = []) => runCliAsync([...h.g, "--json", ...extra, "issue", "device", "--csr", csr], {});

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-bounded-input-"));
    h = initCliHome(dir);
    execFileSync("mkfifo", [f("csr.fifo")]);
    writeFileSync(f("huge.csr"), "");
    truncateSync(f("huge.csr"), 200 * 1024 * 1024); // sparse: 200 MB claimed, nothing written
  });
  after(() => cleanup());

  test("a FIFO is refused at once (exit 3 INPUT_INVALID), not waited on", async () => {
    const started = Date.now();
    const e = expectError(await issueDevice(f("csr.fifo")), 3, "INPUT_INVALID");
    assert.match(e.message, /not a regular file \(a FIFO\)/);
    assert.ok(Date.now() - started < 10_000);
  });

  test("/dev/zero is refused (a character device)", async () => {
    const e = expectError(await issueDevice("/dev/zero"), 3, "INPUT_INVALID");
    assert.match(e.message, /character device/);
  });

  test("a 200 MB file is refused by its size, and the limit is configurable", async () => {
    const e = expectError(await issueDevice(f("huge.csr")), 3, "INPUT_INVALID");
    assert.match(e.message, /larger than the limit of 65536 bytes/);
    writeFileSync(f("ok.csr"), csrFor("dev-bounded-01"));
    const small = expectError(await issueDevice(f("ok.csr"), ["--max-input-size", "100"]), 3, "INPUT_INVALID");
    assert.match(small.message, /limit of 100 bytes/);
    expectOk(await issueDevice(f("ok.csr"), ["--max-input-size", "1k"]));
    expectError(await issueDevice(f("ok.csr"), ["--max-input-size", "lots"]), 2, "USAGE");
  });

  test("readInputFile reads through a symlink to a regular file, and stops one byte past the limit", () => {
    writeFileSync(f("exact.bin"), Buffer.alloc(10, 1));
    symlinkSync(f("exact.bin"), f("link.bin"));
    assert.equal(readInputFile(f("link.bin"), "test file", 10).length, 10);
    assert.throws(() => readInputFile(f("exact.bin"), "test file", 9), /larger than the limit of 9 bytes/);
  });

  test("issue batch: a FIFO and an oversized file are refused one by one (a sub-folder is ignored); the rest is issued, again on a re-run", async () => {
    const inDir = f("batch-in");
    mkdirSync(inDir);
    for (let i = 0; i < 3; i++) writeFileSync(join(inDir, `dev-${i}.csr`), csrFor(`dev-batch-bounded-${i}`));
    execFileSync("mkfifo", [join(inDir, "stuck.csr")]);
    writeFileSync(join(inDir, "big.csr"), "");
    truncateSync(join(inDir, "big.csr"), 10 * 1024 * 1024);
    mkdirSync(join(inDir, "folder.csr"));
    const before = (await certList(h)).length;
    const run = () => runCliAsync([...h.g, "--json", "issue", "batch", "--csr-dir", inDir, "--out-dir", f("batch-out"), "--batch", "B-BOUNDED-1"]);
    const first = await run();
    assert.equal(first.status, 3, describeRun(first));
    const doc = json(first);
    assert.equal(doc.issued, 3);
    const reasons = Object.fromEntries(doc.rejected.map((r: { id: string; message: string }) => [r.id.split("/").pop(), r.message]));
    assert.match(reasons["stuck.csr"], /FIFO/);
    assert.match(reasons["big.csr"], /larger than the limit/);
    assert.equal((await certList(h)).length, before + 3);
    const again = json(await run());
    assert.equal(again.issued, 0);
    assert.equal(again.skipped, 3);
  });
});
