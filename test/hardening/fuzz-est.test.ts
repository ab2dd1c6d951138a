/**
 * The EST service under hostile bodies: mutated CSRs (as base64 and as raw bytes) posted over mutual
 * TLS by a station with a valid shift session. Every answer is 200 or a 4xx with a Trustline error
 * code, never a 500; the audit trail stays intact; the server keeps answering.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:https";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { createCsr, newKeyPair, verifyAuditLog } from "../../ca/index.js";
import { estFixture, type EstFixture, type StationFiles } from "../est/est-fixture.js";
import { tempDir } from "../helpers/pki.js";
import { FUZZ_SEED, mutated } from "./fuzz-helpers.js";

const RUNS = Math.min(Number(process.env.FUZZ_RUNS ?? 600), 600);

describe("EST bodies fuzzed", () => {
  const { dir, cleanup } = tempDir("trustline-est-fuzz-");
  let f: EstFixture;
  let line: StationFiles;
  let token: string;
  let agent: Agent;

  before(async () => {
    f = await estFixture(dir, { ratePerStation: 0 });
    line = await f.station("line-fuzz");
    token = (await f.session("line-fuzz")).token;
    agent = new Agent({ keepAlive: true, maxSockets: 4, ca: readFileSync(f.rootFile), cert: readFileSync(line.cert), key: readFileSync(line.key), servername: "localhost" });
  });
  after(async () => {
    agent.destroy();
    await f.close();
    cleanup();
  });

  const post = (body: Uint8Array) =>
    new Promise<{ status: number; code: string }>((resolve, reject) => {
      const req = request(`${f.est.url}/.well-known/est/simpleenroll`, { method: "POST", agent, headers: { "Content-Type": "application/pkcs10", Authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode!, code: String(res.headers["trustline-error"] ?? "") }));
      });
      req.on("error", reject);
      req.end(body);
    });

  test(`${RUNS} mutated requests: 200 or a 4xx with a code, never a 500`, async () => {
    const samples = [createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "fuzz-0001"), createCsr(newKeyPair("rsa", { modulusLength: 2048 }).privateKey, "fuzz-0002")];
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(mutated(samples), fc.boolean(), async (der, asBase64) => {
        const answer = await post(asBase64 ? Buffer.from(Buffer.from(der).toString("base64")) : der);
        const key = `${answer.status} ${answer.code}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        assert.ok(answer.status === 200 || (answer.status >= 400 && answer.status < 500 && answer.code !== ""), `answered ${key}`);
      }),
      { numRuns: RUNS, seed: FUZZ_SEED, endOnFailure: true },
    );
    assert.ok((statuses.get("400 CSR_INVALID") ?? 0) > 0, JSON.stringify([...statuses]));
    const report = await verifyAuditLog(f.admin);
    assert.equal(report.intact, true, JSON.stringify(report));
  });
});
