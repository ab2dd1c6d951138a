/**
 * Two processes issuing into one home at the same time lose no record: every certificate is in the
 * inventory once, with its own serial, and the audit chain holds every intent and issue entry.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { PASSPHRASE, REPO_ROOT, tempDir } from "../helpers/pki.js";
import {
  assertAuditIntact,
  auditLog,
  certList,
  describeRun,
  expectOk,
  HEX40,
  initCliHome,
  json,
  asOperator,
  runCliAsync,
  runNode,
  type AuditLine,
  type TestHome,
} from "./cli-helpers.js";

const LIBRARY = pathToFileURL(join(REPO_ROOT, "dist", "ca", "index.js")).href;
const CA_PROFILES = new Set(["root-ca", "device-ca", "firmware-ca"]);
const PER_PROCESS = 25;

/** A worker: opens the home, says it is ready, waits for the start signal, issues `count` devices. */
const WORKER = `
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Home, generateDeviceCertificate } from ${JSON.stringify(LIBRARY)};
const [home, operator, count, readyFile, goFile, tokenFile] = process.argv.slice(2);
const credential = { kind: "service-token", token: readFileSync(tokenFile, "utf8").trim() };
const h = await Home.open({ home, passphrase: async () => ${JSON.stringify(PASSPHRASE)}, operator, credential });
writeFileSync(readyFile, String(process.pid));
const deadline = Date.now() + 20000;
while (!existsSync(goFile)) {
  if (Date.now() > deadline) throw new Error("no start signal");
  await sleep(2);
}
const serials = [];
for (let i = 0; i < Number(count); i++) serials.push((await generateDeviceCertificate(h, operator + "-dev-" + i)).record.serial);
process.stdout.write(JSON.stringify(serials));
`;

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const count = (entries: readonly AuditLine[], action: string) => entries.filter((e) => e.action === action).length;

describe("two processes issuing into one home", { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  let h: TestHome;

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-cli-conc-"));
    h = initCliHome(dir);
  });
  after(() => cleanup());

  test(`library: two processes × ${PER_PROCESS} generateDeviceCertificate lose no record`, async () => {
    const tokens = (["p1", "p2"] as const).map((op) => asOperator(h, op)[1]!);
    const auditBefore = await auditLog(h);
    const certsBefore = await certList(h);
    assert.equal(certsBefore.length, 4, "a fresh home lists its 3 CA certificates and the audit signer");

    const script = join(dir, "worker.mjs");
    writeFileSync(script, WORKER);
    const go = join(dir, "go");
    const operators = ["p1", "p2"] as const;
    const ready = operators.map((op) => join(dir, `ready-${op}`));
    const runs = operators.map((op, i) => runNode([script, h.home, op, String(PER_PROCESS), ready[i]!, go, tokens[i]!]));
    // Both have opened the home before either issues: maximal overlap.
    await waitFor(() => ready.every((f) => existsSync(f)), "both workers to be ready");
    writeFileSync(go, "go");
    const results = await Promise.all(runs);
    const reported = results.map((r, i) => {
      assert.equal(r.status, 0, `worker ${operators[i]}:\n${describeRun(r)}`);
      return JSON.parse(r.stdout) as string[];
    });

    const certs = await certList(h);
    const devices = certs.filter((c) => c.profile === "device");
    assert.equal(devices.length, 2 * PER_PROCESS, "device records");
    assert.equal(certs.filter((c) => CA_PROFILES.has(c.profile)).length, 3, "CA records");
    assert.equal(certs.filter((c) => c.profile === "audit-signer").length, 1, "the audit signer's record");
    assert.equal(certs.length, 2 * PER_PROCESS + 3 + 1);
    assert.equal(new Set(certs.map((c) => c.serial)).size, certs.length, "serials are distinct");
    for (const c of certs) assert.match(c.serial, HEX40);
    for (const op of operators) {
      assert.equal(devices.filter((c) => c.operator === op).length, PER_PROCESS, `records by ${op}`);
      for (let i = 0; i < PER_PROCESS; i++) {
        assert.equal(devices.filter((c) => c.commonName === `${op}-dev-${i}` && c.operator === op).length, 1, `${op}-dev-${i} recorded once`);
      }
    }
    // Every serial a worker was handed is in the inventory.
    const listed = new Set(devices.map((c) => c.serial));
    for (const s of reported.flat()) assert.ok(listed.has(s), `serial ${s} handed out but not recorded`);
    assert.equal(reported.flat().length, 2 * PER_PROCESS);

    assert.equal(existsSync(join(h.home, ".lock")), false, "the home lock is released");
    await assertAuditIntact(h);
    const auditAfter = await auditLog(h);
    assert.deepEqual(auditAfter.slice(0, auditBefore.length), auditBefore, "earlier audit entries unchanged");
    const added = auditAfter.slice(auditBefore.length);
    assert.equal(added.length, 4 * PER_PROCESS, "50 intents + 50 issues");
    assert.equal(count(added, "certificate.intent"), 2 * PER_PROCESS);
    assert.equal(count(added, "certificate.issue"), 2 * PER_PROCESS);
    assert.deepEqual(
      auditAfter.map((e) => e.seq),
      auditAfter.map((_, i) => i + 1),
      "audit sequence numbers are 1..n, no gap, no duplicate",
    );
    const issuedSerials = new Set(added.filter((e) => e.action === "certificate.issue").map((e) => e.serial));
    const intentSerials = new Set(added.filter((e) => e.action === "certificate.intent").map((e) => e.serial));
    for (const s of listed) {
      assert.ok(issuedSerials.has(s), `no certificate.issue entry for ${s}`);
      assert.ok(intentSerials.has(s), `no certificate.intent entry for ${s}`);
    }
  });

  test("CLI: two streams × 5 `issue device --generate` processes at once lose no record", async () => {
    for (const s of ["s1", "s2"]) asOperator(h, `op-${s}`);
    const auditBefore = await auditLog(h);
    const certsBefore = await certList(h);
    const outDir = join(dir, "cli-out");
    const streams = ["s1", "s2"];
    const perStream = 5;
    const results = await Promise.all(
      streams.map(async (s) => {
        const docs: { serial: string; commonName: string; operator: string }[] = [];
        for (let i = 0; i < perStream; i++) {
          const r = await runCliAsync([...h.gNoPass, ...asOperator(h, `op-${s}`), "--station", `line-${s}`, "--json", "issue", "device", "--generate", `${s}-cli-${i}`, "--out-dir", outDir], {
            env: { TRUSTLINE_PASSPHRASE: PASSPHRASE },
          });
          expectOk(r);
          docs.push(json(r));
        }
        return docs;
      }),
    );

    const certs = await certList(h);
    assert.equal(certs.length, certsBefore.length + streams.length * perStream);
    assert.equal(new Set(certs.map((c) => c.serial)).size, certs.length, "serials are distinct");
    for (const [si, s] of streams.entries()) {
      for (let i = 0; i < perStream; i++) {
        const id = `${s}-cli-${i}`;
        const doc = results[si]![i]!;
        assert.equal(doc.commonName, id);
        const rec = certs.filter((c) => c.commonName === id);
        assert.equal(rec.length, 1, `${id} recorded once`);
        assert.equal(rec[0]!.serial, doc.serial);
        assert.equal(rec[0]!.operator, `op-${s}`);
        assert.equal(rec[0]!.station, `line-${s}`);
        for (const f of ["key", "cert", "chain"]) assert.ok(existsSync(join(outDir, `${id}.${f}.pem`)), `${id}.${f}.pem written`);
      }
    }

    await assertAuditIntact(h);
    const auditAfter = await auditLog(h);
    const added = auditAfter.slice(auditBefore.length);
    assert.equal(count(added, "certificate.intent"), streams.length * perStream);
    assert.equal(count(added, "certificate.issue"), streams.length * perStream);
    assert.equal(added.length, 2 * streams.length * perStream);
    assert.deepEqual(
      auditAfter.map((e) => e.seq),
      auditAfter.map((_, i) => i + 1),
      "audit sequence numbers are 1..n",
    );
  });
});
