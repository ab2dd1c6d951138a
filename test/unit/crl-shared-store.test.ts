/**
 * Two `serve` processes on one home (two Home objects and two servers in this process, as two
 * processes would open it): the latest CRL of each CA is kept in the store and issued under the
 * home's lock only when it is out of date, so a revocation spends one CRL number and one
 * `crl.issue` audit entry, not one per process, and both serve the same bytes over HTTP. The same
 * at half-life; an older trustline's published file; `trustline crl`'s explicit CRL is stored and
 * served. Runs on PostgreSQL too (test/store/on-postgres/crl-shared-store.test.ts).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  type AuditEntry,
  generateDeviceCertificate,
  type Home,
  issueCrl,
  parseCrl,
  readAuditLog,
  revokeCertificate,
  type RunningServer,
  startServer,
} from "../../ca/index.js";
import { FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";
import { onPostgres } from "../helpers/postgres.js";

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function crlIssues(home: Home): Promise<{ ca: string; crlNumber: number; station: string }[]> {
  const out: { ca: string; crlNumber: number; station: string }[] = [];
  for await (const e of readAuditLog(home) as AsyncIterable<AuditEntry>) {
    if (e.action === "crl.issue") out.push({ ca: e.ca!, crlNumber: (e.details as { crlNumber: number }).crlNumber, station: e.station });
  }
  return out;
}

/** GET /crl/<ca>.crl from a server: the DER bytes and the CRL number in them. */
async function served(server: RunningServer, ca = "device"): Promise<{ der: Buffer; crlNumber: bigint; serials: string[] }> {
  const res = await fetch(`${server.url}/crl/${ca}.crl`);
  assert.equal(res.status, 200);
  const der = Buffer.from(await res.arrayBuffer());
  const crl = parseCrl(new Uint8Array(der));
  return { der, crlNumber: crl.crlNumber!, serials: crl.entries.map((e) => e.serial) };
}

describe("CRLs kept in the store: issued once for every process serving the home", { timeout: 120_000 }, () => {
  const t = tempDir("trustline-crl-shared-");
  let now = FIXED_NOW.getTime();
  const clock = () => new Date(now);
  let base: Home;
  let a: Home;
  let b: Home;
  let serverA: RunningServer;
  let serverB: RunningServer;
  const logA: string[] = [];
  const logB: string[] = [];

  before(async () => {
    base = await makeHome(t.dir);
    a = await reopen(base, { clock, station: "serve-a" });
  });
  after(async () => {
    await serverA?.close();
    await serverB?.close();
    for (const h of [a, b, base]) await h?.close();
    t.cleanup();
  });

  test("two servers start: each CA's CRL is issued once (by the first), and both serve the same bytes", async () => {
    assert.deepEqual(await crlIssues(base), []);
    serverA = await startServer(a, { port: 0, log: (l) => logA.push(l) });
    // Opened once the first has started, as a second process would be (responder certificates are
    // renewed from the state read at open).
    b = await reopen(base, { clock, station: "serve-b" });
    serverB = await startServer(b, { port: 0, log: (l) => logB.push(l) });
    assert.deepEqual(
      (await crlIssues(base)).map((e) => [e.ca, e.crlNumber, e.station]),
      [["root", 1, "serve-a"], ["device", 1, "serve-a"], ["firmware", 1, "serve-a"]],
    );
    assert.deepEqual(logB, [], "the second server issued nothing, so it logged nothing");
    assert.equal(logA.filter((l) => l.startsWith("CRL ")).length, 3);
    for (const ca of ["root", "device", "firmware"]) {
      const [x, y] = [await served(serverA, ca), await served(serverB, ca)];
      assert.equal(x.crlNumber, 1n);
      assert.ok(x.der.equals(y.der), `${ca}: the same CRL from both`);
    }
    assert.equal((await base.refresh()).crlNumbers?.device, 1);
  });

  test("one revocation, both refresh: exactly one new device CRL number and one crl.issue entry; root and firmware keep theirs; both serve it", async () => {
    const device = await generateDeviceCertificate(base, "shared-crl-0001");
    const before = (await crlIssues(base)).length;
    await revokeCertificate(base, device.record.serial, { reason: "keyCompromise" });
    await Promise.all([serverA.refreshCrls(), serverB.refreshCrls()]);
    // And whatever each server's own debounced refresh (after it saw the revocation) does too.
    await sleep(2_000);
    const issues = (await crlIssues(base)).slice(before);
    assert.deepEqual(issues.map((e) => [e.ca, e.crlNumber]), [["device", 2]]);
    assert.equal((await base.refresh()).crlNumbers?.device, 2);
    assert.deepEqual(
      [(await base.storage.crls.latest("root"))?.crlNumber, (await base.storage.crls.latest("firmware"))?.crlNumber],
      [1, 1],
      "another CA's revocation spends no number of theirs",
    );
    const [x, y] = [await served(serverA), await served(serverB)];
    assert.equal(x.crlNumber, 2n);
    assert.ok(x.der.equals(y.der), "byte-identical CRLs from both servers");
    assert.deepEqual(x.serials, [device.record.serial]);
    // Refreshing again with nothing new issues nothing.
    await Promise.all([serverA.refreshCrls(), serverB.refreshCrls()]);
    assert.equal((await crlIssues(base)).length, before + 1);
  });

  test("half-life: with the clock moved past it, one server re-issues (device and firmware, 7-day CRLs) and the other then serves the new one", async () => {
    const before = await crlIssues(base);
    const old = await served(serverB);
    now += 4 * DAY; // past 3.5 days; the root's 90-day CRL is still young
    // The servers' own 1 s timers notice; no refreshCrls() call here.
    let x = await served(serverA);
    let y = await served(serverB);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && (x.crlNumber === old.crlNumber || y.crlNumber === old.crlNumber); ) {
      await sleep(200);
      [x, y] = [await served(serverA), await served(serverB)];
    }
    assert.equal(x.crlNumber, old.crlNumber + 1n);
    assert.ok(x.der.equals(y.der), "both serve the re-issued CRL");
    await sleep(1_500); // let the other server's timer go round once more
    const issues = (await crlIssues(base)).slice(before.length);
    assert.deepEqual(issues.map((e) => [e.ca, e.crlNumber]).sort(), [["device", 3], ["firmware", 2]]);
    assert.equal(new Set(issues.map((e) => e.station)).size, 1, "issued by one server");
    assert.equal(parseCrl(new Uint8Array(x.der)).thisUpdate.getTime(), now - (now % 1000));
  });

  test("`trustline crl` (issueCrl) always issues a new CRL and stores it: the servers serve it without issuing one of their own", async () => {
    const before = (await crlIssues(base)).length;
    const explicit = await issueCrl(a, "device");
    assert.equal(explicit.crlNumber, 4);
    assert.equal("coversRevocations" in explicit, false, "the API's IssuedCrl is as before");
    let y = await served(serverB);
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && y.crlNumber !== 4n; ) {
      await sleep(100);
      y = await served(serverB);
    }
    assert.ok(y.der.equals(Buffer.from(explicit.der)), "the other server serves the explicit CRL");
    await Promise.all([serverA.refreshCrls(), serverB.refreshCrls()]);
    assert.equal((await crlIssues(base)).length, before + 1);
  });

  test("a follower (a worker of serve --workers) serves the stored CRL and never issues", async () => {
    const c = await reopen(base, { clock, station: "worker" });
    const follower = await startServer(c, { port: 0, crls: "follow" });
    try {
      const before = (await crlIssues(base)).length;
      const device = await generateDeviceCertificate(base, "shared-crl-0002");
      await revokeCertificate(base, device.record.serial, { reason: "superseded" });
      await follower.refreshCrls();
      assert.equal((await crlIssues(base)).length, before, "refreshing a follower reads, never issues");
      await serverA.refreshCrls();
      let f = await served(follower);
      for (const deadline = Date.now() + 5_000; Date.now() < deadline && !f.serials.includes(device.record.serial); ) {
        await sleep(100);
        f = await served(follower);
      }
      assert.ok(f.der.equals((await served(serverA)).der));
      assert.equal(f.crlNumber, 5n);
    } finally {
      await follower.close();
      await c.close();
    }
  });

  test("embedded: an older trustline's crl/<ca>.json (no coversRevocations) is served by a follower and replaced by the next issuer", { skip: onPostgres() }, async () => {
    const latest = (await base.storage.crls.latest("device"))!;
    const { coversRevocations: _, ...old } = latest;
    writeFileSync(join(base.dir, "crl", "device.json"), JSON.stringify({ ...old, der: Buffer.from(old.der).toString("base64") }));
    assert.equal((await base.storage.crls.latest("device"))?.coversRevocations, -1);
    const before = (await crlIssues(base)).length;
    await serverA.refreshCrls();
    const issues = (await crlIssues(base)).slice(before);
    assert.deepEqual(issues.map((e) => [e.ca, e.crlNumber]), [["device", latest.crlNumber + 1]]);
    assert.equal((await base.storage.crls.latest("device"))?.coversRevocations, await base.inventory.revocationPosition());
  });
});
