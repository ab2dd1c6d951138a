/**
 * A full disk and a failed delivery, on real (small) tmpfs mounts: the home says STORE_UNAVAILABLE
 * (exit 4) with the path and leaves no lock behind; a certificate issued but not written out is
 * DELIVERY_FAILED (exit 4) with its serial, `cert show --out` delivers it again, and no temporary
 * file is left; what can be checked before signing (an empty PKCS#12 passphrase) is refused first.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr } from "../../ca/index.js";
import { tempDir } from "../helpers/pki.js";
import { fill, mountTmpfs, probeMount, unfill } from "../helpers/tmpfs.js";
import { certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

const canMount = probeMount();

describe("a full disk and a failed delivery", { skip: canMount ? false : "needs to mount a small tmpfs (root, and mount allowed)" }, () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  const mounts: string[] = [];
  const f = (...p: string[]) => join(dir, ...p);

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-disk-full-"));
    for (const [name, size] of [["home-fs", "8m"], ["out-fs", "1m"]] as const) {
      assert.ok(mountTmpfs(f(name), size), `mount a tmpfs at ${f(name)}`);
      mounts.push(f(name));
    }
    h = initCliHome(f("home-fs"));
  });
  after(() => {
    for (const m of mounts) execFileSync("umount", ["-l", m]);
    cleanup();
  });

  test("the home's disk full: issue device exits 4 STORE_UNAVAILABLE, no lock left, nothing half-recorded; fine again once there is space", async () => {
    const before = (await certList(h)).length;
    fill(f("home-fs"));
    const e = expectError(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-full-01", "--out-dir", f("out-gen")]), 4, "STORE_UNAVAILABLE");
    assert.match(e.message, /ENOSPC/);
    assert.equal(existsSync(join(h.home, ".lock")), false, "no lock left behind");
    unfill(f("home-fs"));
    expectOk(await runCliAsync([...h.gNoPass, "audit", "verify"]));
    const check = json(await runCliAsync([...h.gNoPass, "--json", "store", "check"]));
    assert.equal(check.consistent, true, JSON.stringify(check));
    assert.equal((await certList(h)).length, before, "nothing recorded by the refused run");
    expectOk(await runCliAsync([...h.g, "issue", "device", "--generate", "dev-full-02", "--out-dir", f("out-gen")]));
  });

  test("an output that cannot be written after issuing: exit 4 DELIVERY_FAILED with the serial; cert show --out delivers it again", async () => {
    writeFileSync(f("dev.csr"), createCsr(generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey, "dev-undelivered-01"));
    fill(f("out-fs"));
    const r = await runCliAsync([...h.g, "--json", "issue", "device", "--csr", f("dev.csr"), "--out", f("out-fs", "dev.pem")]);
    const e = expectError(r, 4, "DELIVERY_FAILED");
    const serial: string = e.details.serial;
    assert.match(e.message, new RegExp(`certificate ${serial} was issued and recorded`));
    assert.deepEqual(readdirSync(f("out-fs")).filter((n) => !n.startsWith("filler-")), [], "no temporary file left");
    const recorded = await certList(h);
    assert.ok(recorded.some((c) => c.serial === serial), "the record is durable");
    expectOk(await runCliAsync([...h.gNoPass, "cert", "show", serial, "--out", f("redelivered.pem")]));
    const pem = readFileSync(f("redelivered.pem"), "utf8");
    assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
    const shown = execFileSync("openssl", ["x509", "-in", f("redelivered.pem"), "-noout", "-serial"], { encoding: "utf8" });
    assert.equal(shown.trim().split("=")[1]!.toLowerCase(), serial);
    unfill(f("out-fs"));
  });

  test("an empty PKCS#12 passphrase is refused before anything is issued (exit 3)", async () => {
    writeFileSync(f("empty-pass"), "");
    const before = (await certList(h)).length;
    const e = expectError(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-p12-empty", "--out-dir", f("out-p12"), "--pkcs12", "--pkcs12-passphrase-file", f("empty-pass")]), 3, "INPUT_INVALID");
    assert.match(e.message, /empty; nothing was issued/);
    assert.equal((await certList(h)).length, before);
  });

  test("a lock file that never got its owner line (a crash between create and write) is taken over once old", async () => {
    const lock = join(h.home, ".lock");
    writeFileSync(lock, "");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    const r = await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-after-lock", "--out-dir", f("out-lock")]);
    assert.equal(r.status, 0, describeRun(r));
    assert.equal(existsSync(lock), false);
  });
});
