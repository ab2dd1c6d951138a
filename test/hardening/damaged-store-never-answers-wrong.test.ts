/**
 * A damaged store is reported, never read as a smaller one: a deleted revocation log does not
 * un-revoke anything, a deleted inventory segment does not make certificates vanish, a corrupt
 * revocation line is STORE_CORRUPT naming file and line (and `serve` refuses to start on it), a
 * truncated serial index is derived data that readers work around; `trustline store check` compares
 * the store with the audit trail and lists what is missing.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, cpSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, tempDir } from "../helpers/pki.js";
import { certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "../cli/cli-helpers.js";

describe("a damaged store is reported, never read as a smaller one", () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;
  let revokedSerial: string;
  let keptSerial: string;
  const inv = (...p: string[]) => join(h.home, "inventory", ...p);

  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-damaged-store-"));
    h = initCliHome(dir);
    const a = json(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-store-01", "--out-dir", join(dir, "out")]));
    const b = json(await runCliAsync([...h.g, "--json", "issue", "device", "--generate", "dev-store-02", "--out-dir", join(dir, "out")]));
    revokedSerial = a.serial;
    keptSerial = b.serial;
    expectOk(await runCliAsync([...h.g, "revoke", revokedSerial, "--reason", "keyCompromise"]));
  });
  after(() => cleanup());

  /** Run `damage` on a copy of the home, run the checks, put the home back. */
  async function withDamage(damage: () => void, check: () => Promise<void>): Promise<void> {
    const saved = join(dir, `saved-${Math.random().toString(36).slice(2)}`);
    cpSync(h.home, saved, { recursive: true });
    try {
      damage();
      await check();
    } finally {
      rmSync(h.home, { recursive: true, force: true });
      cpSync(saved, h.home, { recursive: true });
    }
  }

  test("an intact store checks out (exit 0)", async () => {
    const r = await runCliAsync([...h.gNoPass, "--json", "store", "check"]);
    expectOk(r);
    const report = json(r);
    assert.equal(report.consistent, true);
    assert.equal(report.revocationsInTrail, 1);
    assert.equal(report.certificatesInTrail, 6); // 3 CAs, the audit signer, 2 devices
  });

  test("revocations.jsonl deleted: cert list and revoke say STORE_CORRUPT (exit 4), store check exit 1 names the revocation", async () => {
    await withDamage(
      () => rmSync(inv("revocations.jsonl")),
      async () => {
        const listed = expectError(await runCliAsync([...h.gNoPass, "--json", "cert", "list", "--status", "revoked"]), 4, "STORE_CORRUPT");
        assert.match(listed.message, /revocation log .* is missing/);
        expectError(await runCliAsync([...h.g, "--json", "revoke", keptSerial, "--reason", "superseded"]), 4, "STORE_CORRUPT");
        const r = await runCliAsync([...h.gNoPass, "--json", "store", "check"]);
        assert.equal(r.status, 1, describeRun(r));
        const report = json(r);
        assert.equal(report.consistent, false);
        assert.deepEqual(report.missingRevocations, [{ serial: revokedSerial, reason: "keyCompromise" }]);
        assert.match(report.unreadable[0], /revocation log/);
      },
    );
  });

  test("revocations.jsonl cut at a line boundary (reads cleanly): store check finds the lost revocation", async () => {
    await withDamage(
      () => writeFileSync(inv("revocations.jsonl"), ""),
      async () => {
        const r = await runCliAsync([...h.gNoPass, "--json", "store", "check"]);
        assert.equal(r.status, 1, describeRun(r));
        assert.deepEqual(json(r).missingRevocations, [{ serial: revokedSerial, reason: "keyCompromise" }]);
      },
    );
  });

  test("a corrupt line in revocations.jsonl: STORE_CORRUPT naming file and line, and serve refuses to start", async () => {
    await withDamage(
      () => appendFileSync(inv("revocations.jsonl"), "{not json\n"),
      async () => {
        const e = expectError(await runCliAsync([...h.gNoPass, "--json", "cert", "show", keptSerial]), 4, "STORE_CORRUPT");
        assert.match(e.message, /revocations\.jsonl is damaged at line 2/);
        assert.equal(e.details.where, "line 2");
        const server = spawn(process.execPath, [CLI, ...h.g, "serve", "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
        let stderr = "";
        server.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const code = await new Promise<number | null>((resolve) => server.once("exit", resolve));
        assert.equal(code, 4, stderr);
        assert.match(stderr, /revocations\.jsonl is damaged at line 2: .*\[STORE_CORRUPT\]/);
      },
    );
  });

  test("an inventory segment deleted: cert list and cert show say STORE_CORRUPT; store check lists every lost certificate", async () => {
    await withDamage(
      () => {
        for (const f of readdirSync(inv("segments"))) rmSync(inv("segments", f));
      },
      async () => {
        expectError(await runCliAsync([...h.gNoPass, "--json", "cert", "list"]), 4, "STORE_CORRUPT");
        expectError(await runCliAsync([...h.gNoPass, "--json", "cert", "show", keptSerial]), 4, "STORE_CORRUPT");
        const r = await runCliAsync([...h.gNoPass, "--json", "store", "check"]);
        assert.equal(r.status, 1, describeRun(r));
        const report = json(r);
        assert.equal(report.consistent, false);
        assert.ok(report.unreadable.length > 0 || report.missingCertificates.length === 6, describeRun(r));
      },
    );
  });

  test("serials.tbl truncated: readers still find every certificate (the index is rebuilt on the next write)", async () => {
    await withDamage(
      () => truncateSync(inv("index", "serials.tbl"), 100),
      async () => {
        const shown = json(await runCliAsync([...h.gNoPass, "--json", "cert", "show", keptSerial]));
        assert.equal(shown.serial ?? shown.record?.serial, keptSerial, JSON.stringify(shown).slice(0, 300));
        assert.equal((await certList(h)).length, 6);
        expectOk(await runCliAsync([...h.gNoPass, "store", "check"]));
        expectOk(await runCliAsync([...h.g, "issue", "device", "--generate", "dev-store-03", "--out-dir", join(dir, "out3")]));
        assert.ok(readFileSync(inv("index", "serials.tbl")).length > 100, "rebuilt by the write");
        assert.equal((await certList(h)).length, 7);
      },
    );
  });

  test("cert list --json prints one valid document or the error alone, never a partial array", async () => {
    await withDamage(
      () => {
        const seg = inv("segments", readdirSync(inv("segments"))[0]!);
        const lines = readFileSync(seg, "utf8").split("\n");
        lines[2] = "{damaged";
        writeFileSync(seg, lines.join("\n"));
      },
      async () => {
        const r = await runCliAsync([...h.gNoPass, "--json", "cert", "list"]);
        assert.equal(r.status, 4, describeRun(r));
        const doc = JSON.parse(r.stdout); // one document: the error
        assert.equal(doc.error.code, "STORE_CORRUPT");
      },
    );
  });
});

test("a revocation log damaged while serving: serve keeps answering from its last good state and says so once", async () => {
  const { appendFileSync: append } = await import("node:fs");
  const { exportCa, generateDeviceCertificate, revokeCertificate, startServer } = await import("../../ca/index.js");
  const { makeHome, reopen } = await import("../helpers/pki.js");
  const { execFileSync } = await import("node:child_process");
  const t = tempDir("trustline-serve-damage-");
  try {
    const home = await makeHome(t.dir);
    const live = await reopen(home, { clock: () => new Date() });
    const device = await generateDeviceCertificate(live, "dev-serve-damage");
    await revokeCertificate(live, device.record.serial, { reason: "keyCompromise" });
    writeFileSync(join(t.dir, "dev.pem"), device.pem);
    writeFileSync(join(t.dir, "ca.pem"), await exportCa(live, "device"));
    execFileSync("openssl", ["ocsp", "-issuer", join(t.dir, "ca.pem"), "-cert", join(t.dir, "dev.pem"), "-no_nonce", "-reqout", join(t.dir, "req.der")]);
    const request = new Uint8Array(readFileSync(join(t.dir, "req.der")));
    const logged: string[] = [];
    const server = await startServer(live, { port: 0, log: (line) => logged.push(line) });
    try {
      append(join(live.dir, "inventory", "revocations.jsonl"), "{damaged\n");
      await new Promise((r) => setTimeout(r, 300));
      server.responder.poll(); // the poll that reads the damaged line
      server.responder.poll();
      const after = await server.responder.respond("device", request);
      // Still "revoked": the last good state (OpenSSL reads the answer).
      writeFileSync(join(t.dir, "resp.der"), after);
      const text = execFileSync("openssl", ["ocsp", "-respin", join(t.dir, "resp.der"), "-resp_text", "-noverify"], { encoding: "utf8" });
      assert.match(text, /Cert Status: revoked/);
      assert.equal(logged.filter((l) => /revocation log cannot be read; answering from the last good state/.test(l)).length, 1, logged.join("\n"));
    } finally {
      await server.close();
    }
  } finally {
    t.cleanup();
  }
});
