/**
 * `trustline revoke`, `trustline crl` and `trustline serve` as an operator (or an incident script)
 * runs them: exit statuses, --json documents, mass revocation that revokes nothing without --yes and
 * exactly the selection with it, CRLs OpenSSL reads, and a server that stops cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLI, openssl, runCli, STATE_HOME, tempDir, writeTemp } from "../helpers/pki.js";
import {
  asOperator,
  assertAuditIntact,
  auditLog,
  certList,
  describeRun,
  expectError,
  expectOk,
  json,
  type ListedRecord,
  runCliAsync,
  type TestHome,
  initCliHome,
} from "./cli-helpers.js";

const sorted = (xs: readonly string[]) => [...xs].sort();
const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("trustline revoke, crl, serve", { timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let h: TestHome;
  let n = 0;

  /** `trustline [--operator o] [--station s] issue device --generate <id>`: the issued record. */
  async function issue(id: string, options: { operator?: string; station?: string; batch?: string } = {}): Promise<ListedRecord> {
    const r = await runCliAsync([
      ...h.g,
      ...(options.operator ? asOperator(h, options.operator) : []),
      ...(options.station ? ["--station", options.station] : []),
      "--json",
      "issue",
      "device",
      "--generate",
      id,
      "--out-dir",
      join(t.dir, "out"),
      ...(options.batch ? ["--batch", options.batch] : []),
    ]);
    expectOk(r);
    return json<ListedRecord>(r);
  }

  const revokedSerials = async () => sorted((await certList(h, ["--status", "revoked"])).map((c) => c.serial));

  before(() => {
    t = tempDir("trustline-cli-revoke-");
    h = initCliHome(t.dir);
  });
  after(() => t.cleanup());

  test("revoke <serial> --reason keyCompromise --json → exit 0 with the revocation; again → alreadyRevoked, exit 0", async () => {
    const dev = await issue(`dev-single-${n++}`);
    const printed = dev.serial.toUpperCase().match(/../g)!.join(":");
    const before = Date.now();
    const r = runCli([...h.g, ...asOperator(h, "sec-officer"), "--station", "soc", "--json", "revoke", printed, "--reason", "keyCompromise", "--invalidity-date", dev.notBefore]);
    const afterMs = Date.now();
    expectOk(r);
    const doc = json(r);
    assert.deepEqual(Object.keys(doc).sort(), ["alreadyRevoked", "ca", "invalidityDate", "reason", "revokedAt", "serial", "subject"]);
    assert.deepEqual(
      { serial: doc.serial, ca: doc.ca, subject: doc.subject, reason: doc.reason, invalidityDate: doc.invalidityDate, alreadyRevoked: doc.alreadyRevoked },
      { serial: dev.serial, ca: "device", subject: `CN=${dev.commonName}`, reason: "keyCompromise", invalidityDate: dev.notBefore, alreadyRevoked: false },
    );
    assert.match(doc.revokedAt, ISO_SECONDS);
    const at = Date.parse(doc.revokedAt);
    assert.ok(at >= Math.floor(before / 1000) * 1000 && at <= afterMs, `revokedAt ${doc.revokedAt} is the time of the command`);

    const shown = runCli([...h.gNoPass, "--json", "cert", "show", dev.serial]);
    expectOk(shown);
    const trace = json(shown);
    assert.equal(trace.status, "revoked");
    assert.deepEqual([trace.revocation.reason, trace.revocation.operator, trace.revocation.station], ["keyCompromise", "sec-officer", "soc"]);

    const auditBefore = await auditLog(h);
    const again = runCli([...h.g, "revoke", dev.serial, "--reason", "superseded"]);
    assert.equal(again.status, 0, describeRun(again));
    assert.equal(again.stdout, `${dev.serial} (CN=${dev.commonName}) was already revoked (keyCompromise, ${doc.revokedAt}); nothing changed\n`);
    const againJson = runCli([...h.g, "--json", "revoke", dev.serial, "--reason", "keyCompromise"]);
    expectOk(againJson);
    assert.deepEqual(json(againJson), { ...doc, alreadyRevoked: true });
    const auditAfter = await auditLog(h);
    assert.equal(auditAfter.length, auditBefore.length, "an idempotent revoke records nothing");
    const entries = auditAfter.filter((e) => e.action === "certificate.revoke" && e.serial === dev.serial);
    assert.deepEqual(entries.map((e) => [e.reason, e.operator, e.station]), [["keyCompromise", "sec-officer", "soc"]]);
  });

  test("revoke <unknown serial> → exit 3 NOT_FOUND, nothing recorded", async () => {
    const auditBefore = await auditLog(h);
    const revokedBefore = await revokedSerials();
    const r = runCli([...h.g, "--json", "revoke", "7f:00:11:22:33:44:55:66:77:88", "--reason", "keyCompromise"]);
    const error = expectError(r, 3, "NOT_FOUND");
    assert.equal(error.message, "no certificate with serial 7f001122334455667788 was issued by this home; nothing was revoked");
    assert.deepEqual(error.details, { serial: "7f001122334455667788" });
    // Human mode: the message and the code on stderr.
    const human = runCli([...h.g, "revoke", "7F001122334455667788", "--reason", "keyCompromise"]);
    assert.deepEqual([human.status, human.stdout], [3, ""]);
    assert.equal(human.stderr, "trustline: no certificate with serial 7f001122334455667788 was issued by this home; nothing was revoked [NOT_FOUND]\n");
    assert.deepEqual(await auditLog(h), auditBefore);
    assert.deepEqual(await revokedSerials(), revokedBefore);
  });

  test("revoke --reason bogus → exit 2 (USAGE), the allowed reasons named; other misuse → exit 2", async () => {
    const dev = await issue(`dev-bogus-${n++}`, { batch: "BOGUS" });
    const r = runCli([...h.g, "--json", "revoke", dev.serial, "--reason", "bogus"]);
    const error = expectError(r, 2, "USAGE");
    assert.match(error.message, /argument 'bogus' is invalid/);
    for (const reason of ["unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "removeFromCRL", "privilegeWithdrawn", "aACompromise"]) {
      assert.ok(error.message.includes(reason), `the message lists ${reason}: ${error.message}`);
    }
    const human = runCli([...h.g, "revoke", dev.serial, "--reason", "bogus"]);
    assert.equal(human.status, 2);
    assert.match(human.stderr, /^error: option '--reason <reason>' argument 'bogus' is invalid\. Allowed choices are /m);
    const misuse: [readonly string[], number, string][] = [
      [[dev.serial], 2, "USAGE"], // --reason is mandatory
      [[dev.serial, "--batch", "BOGUS", "--reason", "superseded"], 2, "USAGE"], // a serial and a selector
      [["--reason", "superseded"], 2, "USAGE"], // neither
      [[dev.serial, "--reason", "keyCompromise", "--invalidity-date", "last tuesday"], 2, "USAGE"],
      [["--batch", "BOGUS", "--reason", "certificateHold", "--yes"], 2, "USAGE"], // a mass hold
      [["--batch", "BOGUS", "--from", "2026-01-02T00:00:00Z", "--to", "2026-01-01T00:00:00Z", "--reason", "superseded", "--yes"], 2, "USAGE"],
      // Policy refusals are input rejections (exit 3).
      [[dev.serial, "--reason", "cACompromise"], 3, "POLICY_DENIED"],
      [[dev.serial, "--reason", "aACompromise"], 3, "POLICY_DENIED"],
      [[dev.serial, "--reason", "removeFromCRL"], 3, "POLICY_DENIED"],
    ];
    const results = await Promise.all(misuse.map(([args]) => runCliAsync([...h.g, "--json", "revoke", ...args])));
    misuse.forEach(([args, status, code], i) => {
      assert.equal(results[i]!.status, status, `revoke ${args.join(" ")}:\n${describeRun(results[i]!)}`);
      expectError(results[i]!, status, code);
    });
    const listed = await certList(h, ["--batch", "BOGUS"]);
    assert.deepEqual(listed.map((c) => c.status), ["valid"], "nothing was revoked");
  });

  test("certificateHold then removeFromCRL through the CLI: on-hold, then valid again", async () => {
    const dev = await issue(`dev-hold-${n++}`);
    const hold = runCli([...h.g, "--json", "revoke", dev.serial, "--reason", "certificateHold"]);
    expectOk(hold);
    assert.equal(json(hold).reason, "certificateHold");
    assert.deepEqual((await certList(h, ["--status", "on-hold"])).map((c) => c.serial), [dev.serial]);
    const human = runCli([...h.g, "revoke", dev.serial, "--reason", "certificateHold"]);
    assert.match(human.stdout, /was already on hold \(certificateHold, /);
    const release = runCli([...h.g, "--json", "revoke", dev.serial, "--reason", "removeFromCRL"]);
    expectOk(release);
    assert.deepEqual([json(release).reason, json(release).alreadyRevoked], ["removeFromCRL", false]);
    assert.deepEqual(await certList(h, ["--status", "on-hold"]), []);
    assert.equal(json(runCli([...h.gNoPass, "--json", "cert", "show", dev.serial])).status, "valid");
  });

  describe("mass revocation by batch", () => {
    let b1: ListedRecord[];
    let other: ListedRecord;

    before(async () => {
      b1 = await Promise.all([
        issue(`dev-b1-${n++}`, { station: "line-1", batch: "B1" }),
        issue(`dev-b1-${n++}`, { station: "line-2", batch: "B1" }),
        issue(`dev-b1-${n++}`, { station: "line-3", operator: "carol", batch: "B1" }),
      ]);
      other = await issue(`dev-b2-${n++}`, { station: "line-1", batch: "B2" });
    });

    test("revoke --batch B1 without --yes prints the count and a sample, revokes nothing (exit 0)", async () => {
      const revokedBefore = await revokedSerials();
      const auditBefore = await auditLog(h);
      const r = runCli([...h.g, "revoke", "--batch", "B1", "--reason", "superseded"]);
      assert.equal(r.status, 0, describeRun(r));
      const lines = r.stdout.trimEnd().split("\n");
      assert.equal(lines[0], "Would revoke 3 certificates (superseded):");
      assert.equal(lines.at(-1), "Nothing was revoked: add --yes to revoke them.");
      assert.equal(lines.length, 5);
      for (const dev of b1) {
        assert.ok(
          lines.includes(`  ${dev.serial}  CN=${dev.commonName}  issued ${dev.issuedAt} by ${dev.operator}@${dev.station} batch B1`),
          `sample line for ${dev.serial}:\n${r.stdout}`,
        );
      }
      assert.equal(r.stderr, "(mass revocation needs --yes)\n");
      const plan = runCli([...h.g, "--json", "revoke", "--batch", "B1", "--reason", "superseded"]);
      expectOk(plan);
      const doc = json(plan);
      assert.deepEqual([doc.dryRun, doc.count, doc.serials], [true, 3, undefined]);
      assert.deepEqual(sorted(doc.sample.map((x: { serial: string }) => x.serial)), sorted(b1.map((d) => d.serial)));
      assert.deepEqual(await revokedSerials(), revokedBefore, "cert list --status revoked unchanged");
      assert.deepEqual(await auditLog(h), auditBefore, "nothing audited");
    });

    test("revoke --batch B1 --dry-run --json lists every serial, revokes nothing", async () => {
      const revokedBefore = await revokedSerials();
      const r = runCli([...h.g, "--json", "revoke", "--batch", "B1", "--reason", "superseded", "--dry-run", "--yes"]);
      expectOk(r);
      const doc = json(r);
      assert.deepEqual(Object.keys(doc).sort(), ["count", "dryRun", "sample", "serials"]);
      assert.deepEqual([doc.dryRun, doc.count], [true, 3]);
      assert.deepEqual(sorted(doc.serials), sorted(b1.map((d) => d.serial)));
      const sample = doc.sample.find((x: { serial: string }) => x.serial === b1[2]!.serial);
      assert.deepEqual(sample, { serial: b1[2]!.serial, ca: "device", subject: `CN=${b1[2]!.commonName}`, batch: "B1", station: "line-3", operator: "carol", issuedAt: b1[2]!.issuedAt });
      const human = runCli([...h.g, "revoke", "--batch", "B1", "--reason", "superseded", "--dry-run"]);
      assert.equal(human.stdout, ["Would revoke 3 certificates (superseded):", ...doc.serials.map((s: string) => `  ${s}`), "Dry run: nothing was revoked.", ""].join("\n"));
      assert.deepEqual(await revokedSerials(), revokedBefore);
    });

    test("revoke --batch B1 --yes revokes exactly those: one certificate.revoke each, one revocation.mass", async () => {
      const revokedBefore = await revokedSerials();
      const lead = asOperator(h, "incident-lead");
      const auditBefore = await auditLog(h);
      const r = runCli([...h.g, ...lead, "--station", "hq", "--json", "revoke", "--batch", "B1", "--reason", "superseded", "--yes"]);
      expectOk(r);
      const doc = json(r);
      assert.deepEqual(Object.keys(doc).sort(), ["reason", "revoked", "serials"]);
      assert.deepEqual([doc.revoked, doc.reason], [3, "superseded"]);
      assert.deepEqual(sorted(doc.serials), sorted(b1.map((d) => d.serial)));
      assert.deepEqual(await revokedSerials(), sorted([...revokedBefore, ...b1.map((d) => d.serial)]));
      assert.equal((await certList(h, ["--batch", "B2"]))[0]!.status, "valid");
      assert.equal(other.batch, "B2");
      const added = (await auditLog(h)).slice(auditBefore.length);
      assert.deepEqual(added.map((e) => e.action), ["certificate.revoke", "certificate.revoke", "certificate.revoke", "revocation.mass"]);
      assert.deepEqual(sorted(added.slice(0, 3).map((e) => e.serial!)), sorted(b1.map((d) => d.serial)));
      for (const e of added) assert.deepEqual([e.operator, e.station, e.reason], ["incident-lead", "hq", "superseded"]);
      assert.deepEqual(added[3]!.details, { selector: { batch: "B1" }, count: 3 });
      await assertAuditIntact(h);
      // Run again: nothing left to revoke.
      const again = runCli([...h.g, "--json", "revoke", "--batch", "B1", "--reason", "superseded", "--yes"]);
      expectOk(again);
      assert.deepEqual(json(again), { revoked: 0, serials: [], reason: "superseded" });
    });
  });

  test("revoke --station line-7 --from --to --yes revokes exactly the [from, to) window of that station", async () => {
    // Issued one after the other, so their issuedAt times are strictly increasing.
    const w0 = await issue(`dev-w0-${n++}`, { station: "line-7" });
    const w1 = await issue(`dev-w1-${n++}`, { station: "line-7" });
    const x1 = await issue(`dev-x1-${n++}`, { station: "line-8" });
    const w2 = await issue(`dev-w2-${n++}`, { station: "line-7", operator: "dave" });
    const w3 = await issue(`dev-w3-${n++}`, { station: "line-7" });
    assert.ok(w0.issuedAt < w1.issuedAt && w1.issuedAt < x1.issuedAt && x1.issuedAt < w2.issuedAt && w2.issuedAt < w3.issuedAt);
    const auditBefore = await auditLog(h);
    // Who acts goes before the command name; after `revoke`, --station selects.
    const args = ["--station", "line-7", "--from", w1.issuedAt, "--to", w3.issuedAt, "--reason", "keyCompromise"];
    const plan = runCli([...h.g, ...asOperator(h, "incident-lead"), "--station", "hq", "--json", "revoke", ...args, "--dry-run"]);
    expectOk(plan);
    assert.deepEqual(sorted(json(plan).serials), sorted([w1.serial, w2.serial]));
    const r = runCli([...h.g, ...asOperator(h, "incident-lead"), "--station", "hq", "--json", "revoke", ...args, "--yes"]);
    expectOk(r);
    assert.deepEqual(json(r).revoked, 2);
    assert.deepEqual(sorted(json(r).serials), sorted([w1.serial, w2.serial]));
    const line7 = new Map((await certList(h, ["--station", "line-7"])).map((c) => [c.serial, c.status]));
    assert.deepEqual([w0, w1, w2, w3].map((d) => line7.get(d.serial)), ["valid", "revoked", "revoked", "valid"]);
    assert.equal((await certList(h, ["--station", "line-8"])).find((c) => c.serial === x1.serial)?.status, "valid");
    const added = (await auditLog(h)).slice(auditBefore.length);
    assert.deepEqual(added.map((e) => [e.action, e.operator, e.station]), [
      ["certificate.revoke", "incident-lead", "hq"],
      ["certificate.revoke", "incident-lead", "hq"],
      ["revocation.mass", "incident-lead", "hq"],
    ]);
    assert.deepEqual(added[2]!.details, { selector: { station: "line-7", from: w1.issuedAt, to: w3.issuedAt }, count: 2 });
    // The CA certificates made at init are never selected, whoever made them.
    const initOperator = (await certList(h, ["--profile", "root-ca"]))[0]!.operator;
    const byInit = runCli([...h.g, "--json", "revoke", "--operator", initOperator, "--reason", "keyCompromise", "--dry-run"]);
    expectOk(byInit);
    const caSerials = (await certList(h)).filter((c) => c.profile.endsWith("-ca")).map((c) => c.serial);
    for (const s of caSerials) assert.equal(json(byInit).serials.includes(s), false, `CA certificate ${s} selected`);
  });

  test("trustline crl --ca device --pem: OpenSSL reads and verifies it; --json describes it; numbers increase", async () => {
    const chain = runCli([...h.gNoPass, "ca", "export", "device", "--chain"]);
    expectOk(chain);
    const chainFile = writeTemp(t.dir, "chain.pem", chain.stdout);
    const r = runCli([...h.g, "crl", "--ca", "device", "--pem"]);
    expectOk(r);
    assert.match(r.stdout, /^-----BEGIN X509 CRL-----\n[A-Za-z0-9+/=\n]+-----END X509 CRL-----\n$/);
    const crlFile = writeTemp(t.dir, "device-cli.crl.pem", r.stdout);
    const v = openssl(["crl", "-in", crlFile, "-CAfile", chainFile, "-noout"]);
    assert.deepEqual([v.status, v.stdout, v.stderr], [0, "", "verify OK\n"]);
    const text = openssl(["crl", "-in", crlFile, "-noout", "-text"]).stdout;
    const number = /X509v3 CRL Number: ?\n\s+(\d+)\n/.exec(text)?.[1];
    const listedOnCrl = sorted([...text.matchAll(/^ {4}Serial Number: ([0-9A-F]+)$/gm)].map((m) => m[1]!.toLowerCase()));
    assert.deepEqual(listedOnCrl, await revokedSerials(), "every revoked device certificate, nothing else (the hold was released)");
    const j = runCli([...h.g, "--json", "crl", "--ca", "device"]);
    expectOk(j);
    const doc = json(j);
    assert.deepEqual(Object.keys(doc).sort(), ["ca", "crlNumber", "dropped", "entries", "nextUpdate", "pem", "thisUpdate"]);
    assert.deepEqual([doc.ca, doc.crlNumber, doc.entries, doc.dropped], ["device", Number(number) + 1, listedOnCrl.length, 0]);
    assert.equal(Date.parse(doc.nextUpdate) - Date.parse(doc.thisUpdate), 7 * 86_400_000);
    const out = join(t.dir, "device.crl");
    const toFile = runCli([...h.g, "crl", "--ca", "device", "--out", out]);
    expectOk(toFile);
    const der = openssl(["crl", "-inform", "DER", "-in", out, "-CAfile", chainFile, "-noout"]);
    assert.deepEqual([der.status, der.stderr], [0, "verify OK\n"]);
    assert.match(toFile.stderr, new RegExp(`^Wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: CRL number ${Number(number) + 2}, ${listedOnCrl.length} entries, next update `));
  });

  test("trustline serve --port <p>: 'serving' on stderr, /healthz answers, SIGTERM → exit 0 within 5 s", async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, ...h.g, "serve", "--port", String(port)], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: STATE_HOME },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "serving" line within 15 s; stderr:\n${stderr}`)), 15_000);
        child.stderr.setEncoding("utf8").on("data", (s: string) => {
          stderr += s;
          if (stderr.includes(" serving ")) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`serve exited early (${code}):\n${stderr}`));
        });
      });
      assert.match(stderr, new RegExp(`^\\S+ serving http://127\\.0\\.0\\.1:${port}: CRLs /crl/<ca>\\.crl, OCSP /ocsp/<ca>, CA certificates /ca/<ca>\\.cer for root, device, firmware$`, "m"));
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.deepEqual([health.status, await health.text()], [200, "ok\n"]);
      const crl = await fetch(`http://127.0.0.1:${port}/crl/device.crl`);
      assert.deepEqual([crl.status, crl.headers.get("content-type")], [200, "application/pkix-crl"]);
      await crl.arrayBuffer();

      const sent = Date.now();
      child.kill("SIGTERM");
      const result = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000))]);
      assert.notEqual(result, "timeout", `serve did not exit within 5 s of SIGTERM; stderr:\n${stderr}`);
      assert.deepEqual(result, { code: 0, signal: null }, stderr);
      assert.ok(Date.now() - sent < 5000);
      assert.match(stderr, /^\S+ stopping$/m);
      assert.equal(stdout, "");
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    const bad = runCli([...h.g, "--json", "serve", "--port", "99999"]);
    expectError(bad, 2, "USAGE");
  });
});
