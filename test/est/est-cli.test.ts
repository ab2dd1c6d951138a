/**
 * A line PC with no CA key: `trustline station add` and `ca issue-tls` on the CA server, `trustline
 * serve --est` as its own process, and the station's `trustline enroll --est` and `issue batch
 * --est` (resumed after lost outputs), all through the CLI. On PostgreSQL (test/store/on-postgres)
 * two `serve --est` processes on one database take the same batch at once: nothing is lost or
 * issued twice.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loopbackTls } from "../helpers/loopback-tls.js";
import { join } from "node:path";
import { auditLog, certList, describeRun, expectError, expectOk, initCliHome, json, runCliAsync, assertAuditIntact, type TestHome } from "../cli/cli-helpers.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { CLI, STATE_HOME, opensslCsr, runCli, tempDir } from "../helpers/pki.js";
import { onPostgres } from "../helpers/postgres.js";
import { totpNow } from "../helpers/totp.js";
import { fill, mountTmpfs, probeMount, unfill } from "../helpers/tmpfs.js";

const canMount = probeMount();

interface EstProcess {
  readonly url: string;
  stop(): Promise<void>;
}

/** `trustline serve --est` on random ports, waited for until its EST listener answers (curl trusting `trust`). */
async function serveEst(h: TestHome, extra: readonly string[] = [], trust = join(h.dir, "station", "ca.pem")): Promise<EstProcess> {
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const estPort = port + 1;
  const child = spawn(process.execPath, [CLI, ...h.g, "serve", "--port", String(port), "--est", "--est-port", String(estPort), ...extra], { env: { ...process.env, XDG_STATE_HOME: STATE_HOME }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const url = `https://localhost:${estPort}`;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (let i = 0; i < 150; i++) {
    const probe = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", trust, `${url}/.well-known/est/cacerts`], { encoding: "utf8" });
    if (probe.stdout === "200") return { url, stop: async () => void (child.kill("SIGTERM"), await exited) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGTERM");
  throw new Error(`serve --est did not answer: ${stderr}`);
}

describe("the line through the EST service, CLI end to end", () => {
  const { dir, cleanup } = tempDir("trustline-est-cli-");
  let h: TestHome;
  let token: string;
  let station: string[];
  let servers: EstProcess[] = [];
  let bobUri: string;

  before(async () => {
    h = initCliHome(dir);
    expectOk(runCli([...h.g, "--json", "station", "add", "line-7", "--out-dir", join(dir, "station")]));
    expectOk(runCli([...h.g, "--json", "ca", "issue-tls", "--host", "localhost", "--host", "127.0.0.1"]));
    station = ["--cert", join(dir, "station", "line-7.pem"), "--key", join(dir, "station", "line-7.key"), "--cacert", join(dir, "station", "ca.pem")];
    // Embedded: two worker processes behind one port (the cluster path); PostgreSQL: two servers, below.
    servers = [await serveEst(h, onPostgres() ? [] : ["--workers", "2"])];
    // On PostgreSQL, a second server process on the same database (another machine behind a load balancer).
    if (onPostgres()) servers.push(await serveEst(h));
    // The shift lead of line 7 signs in at that station's PC, which holds no home: through the service.
    bobUri = (json(runCli([...h.g, "--json", "operator", "add", "bob", "--role", "issuer"])) as { otpauthUri: string }).otpauthUri;
    const login = await runCliAsync(["--operator", "bob", "login", "--est", servers[0]!.url, ...station, "--totp", totpNow(bobUri), "--print-token"]);
    expectOk(login);
    token = login.stdout.trim();
  });
  after(async () => {
    for (const s of servers) await s.stop();
    cleanup();
  });

  test("enroll --est: the certificate written, verified by OpenSSL, traced to bob at line-7 through EST", async () => {
    const csr = opensslCsr(dir, "dev-0001", "/CN=dev-0001");
    const out = join(dir, "dev-0001.pem");
    const r = await runCliAsync(["--json", "enroll", "--est", servers[0]!.url, ...station, "--csr", csr.csrPath, "--out", out, "--chain"], { env: { TRUSTLINE_SESSION: token } });
    expectOk(r);
    const { serial } = json(r) as { serial: string };
    const verified = spawnSync("openssl", ["verify", "-CAfile", join(dir, "station", "ca.pem"), "-untrusted", out, out], { encoding: "utf8" });
    assert.match(verified.stdout, /: OK$/m);
    const record = (await certList(h)).find((c) => c.serial === serial);
    assert.equal(record?.operator, "bob");
    assert.equal(record?.station, "line-7");
  });

  test("login --est: the session is opened at the station of the client certificate; a wrong code is refused (exit 5) and audited there", async () => {
    const sessions = json(await runCliAsync([...h.g, "--json", "session", "list"])) as { operator: string; station: string }[];
    assert.ok(sessions.some((x) => x.operator === "bob" && x.station === "line-7"), JSON.stringify(sessions));
    const wrong = await runCliAsync(["--json", "--operator", "bob", "login", "--est", servers[0]!.url, ...station, "--totp", totpNow(bobUri, new Date(Date.now() - 300_000))]);
    assert.match(expectError(wrong, 5, "AUTH_FAILED").message, /the EST server refused \(HTTP 401\): sign-in refused for bob: the code is for another time/);
    const fails = (await auditLog(h)).filter((e) => e.action === "auth.fail" && e.operator === "bob");
    assert.deepEqual(fails.map((e) => [e.station, e.reason]), [["line-7", "stale-code"]]);
  });

  test("enroll --est refusals map to the documented exit codes: no session 4, a bad token 5, a refused CSR 3, a renewal too early 3", async () => {
    const csr = opensslCsr(dir, "dev-0002", "/CN=dev-0002");
    const out = join(dir, "dev-0002.pem");
    const noSession = await runCliAsync(["--json", "enroll", "--est", servers[0]!.url, ...station, "--csr", csr.csrPath, "--out", out], { env: { TRUSTLINE_SESSION: "" } });
    expectError(noSession, 4, "AUTH_REQUIRED");
    const badToken = await runCliAsync(["--json", "enroll", "--est", servers[0]!.url, ...station, "--csr", csr.csrPath, "--out", out], { env: { TRUSTLINE_SESSION: `${token.slice(0, -4)}AAAA` } });
    expectError(badToken, 5, "AUTH_FAILED");
    const badCsr = opensslCsr(dir, "bad name", "/CN=bad name");
    const refused = await runCliAsync(["--json", "enroll", "--est", servers[0]!.url, ...station, "--csr", badCsr.csrPath, "--out", out], { env: { TRUSTLINE_SESSION: token } });
    assert.match(expectError(refused, 3, "POLICY_DENIED").message, /the EST server refused \(HTTP 400\): POLICY_DENIED: the Device identity profile refuses this request/);
    // Files that are not a certificate and key, and a URL that is not https: said as such, before any connection.
    const junk = join(dir, "junk.pem");
    writeFileSync(junk, "not a certificate\n");
    const badFiles = await runCliAsync(["--json", "enroll", "--est", servers[0]!.url, "--cert", junk, "--key", junk, "--csr", csr.csrPath, "--out", out], { env: { TRUSTLINE_SESSION: token } });
    assert.match(expectError(badFiles, 3, "INPUT_INVALID").message, /cannot be used for TLS/);
    expectError(await runCliAsync(["--json", "enroll", "--est", servers[0]!.url.replace("https:", "http:"), ...station, "--csr", csr.csrPath, "--out", out], { env: { TRUSTLINE_SESSION: token } }), 2, "USAGE");
    // A device renewing itself right after issuance: outside its renewal window.
    const renew = await runCliAsync(["--json", "enroll", "--renew", "--est", servers[0]!.url, "--cert", join(dir, "dev-0001.pem"), "--key", join(dir, "dev-0001.key"), "--cacert", join(dir, "station", "ca.pem"), "--csr", join(dir, "dev-0001.csr"), "--out", join(dir, "dev-0001-next.pem")]);
    assert.match(expectError(renew, 3, "POLICY_DENIED").message, /the renewal window opens at /);
  });

  test("issue batch --est: a folder pushed with many requests in flight; outputs lost, run again: the same certificates, none issued twice", async () => {
    const csrDir = join(dir, "delivery");
    const outDir = join(dir, "certs");
    writeCsrFolder(csrDir, 60, { prefix: "line7" });
    const first = await runCliAsync(["--json", "issue", "batch", "--est", servers.at(-1)!.url, ...station, "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "L7-2026-12"], { env: { TRUSTLINE_SESSION: token } });
    expectOk(first);
    assert.deepEqual((({ total, issued, reused, skipped }) => ({ total, issued, reused, skipped }))(json(first)), { total: 60, issued: 60, reused: 0, skipped: 0 });
    const lost = readdirSync(outDir).slice(0, 20);
    for (const f of lost) rmSync(join(outDir, f));
    const again = await runCliAsync(["--json", "issue", "batch", "--est", servers[0]!.url, ...station, "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "L7-2026-12"], { env: { TRUSTLINE_SESSION: token } });
    expectOk(again);
    assert.deepEqual((({ total, issued, reused, skipped }) => ({ total, issued, reused, skipped }))(json(again)), { total: 60, issued: 0, reused: 20, skipped: 40 });
    assert.equal(readdirSync(outDir).filter((f) => f.endsWith(".pem")).length, 60);
    const inBatch = await certList(h, ["--batch", "L7-2026-12"]);
    assert.equal(inBatch.length, 60);
    assert.equal(new Set(inBatch.map((c) => c.commonName)).size, 60);
  });

  test("issue batch --est writes its files whole and never through a link planted in the output folder", async () => {
    const csrDir = join(dir, "planted-delivery");
    const outDir = join(dir, "planted-out");
    writeCsrFolder(csrDir, 3, { prefix: "planted" });
    mkdirSync(outDir);
    const victim = join(dir, "victim.txt");
    writeFileSync(victim, "someone else's file\n");
    // The name an earlier version wrote its temporary file under, and an output name: both links to the victim.
    symlinkSync(victim, join(outDir, "planted-000000.pem.partial"));
    symlinkSync(victim, join(outDir, "planted-000001.pem"));
    const r = await runCliAsync(["--json", "issue", "batch", "--est", servers[0]!.url, ...station, "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "PLANTED-1"], { env: { TRUSTLINE_SESSION: token } });
    expectOk(r);
    assert.deepEqual((({ issued, skipped, notDelivered }) => ({ issued, skipped, notDelivered }))(json(r)), { issued: 2, skipped: 1, notDelivered: [] });
    assert.equal(readFileSync(victim, "utf8"), "someone else's file\n");
    assert.deepEqual(readdirSync(outDir).sort(), ["planted-000000.pem", "planted-000000.pem.partial", "planted-000001.pem", "planted-000002.pem"], "no temporary file left");
    for (const f of ["planted-000000.pem", "planted-000002.pem"]) {
      assert.equal(lstatSync(join(outDir, f)).isFile(), true);
      const subject = spawnSync("openssl", ["x509", "-noout", "-subject", "-nameopt", "RFC2253", "-in", join(outDir, f)], { encoding: "utf8" }).stdout.trim();
      assert.equal(subject, `subject=CN=${f.replace(".pem", "")}`);
    }
  });

  test("issue batch --est into a full disk: exit 4 with what was not written; run again once there is space: written, none issued twice", { skip: canMount ? false : "needs to mount a small tmpfs (root, and mount allowed)" }, async () => {
    const csrDir = join(dir, "full-delivery");
    const outDir = join(dir, "full-out");
    writeCsrFolder(csrDir, 4, { prefix: "full" });
    assert.ok(mountTmpfs(outDir, "256k"));
    try {
      fill(outDir);
      const args = ["--json", "issue", "batch", "--est", servers[0]!.url, ...station, "--csr-dir", csrDir, "--out-dir", outDir, "--batch", "FULL-1"];
      const r = await runCliAsync(args, { env: { TRUSTLINE_SESSION: token } });
      assert.equal(r.status, 4, describeRun(r));
      const doc = json(r) as { issued: number; notDelivered: { output: string; reason: string }[] };
      assert.equal(doc.issued, 4);
      assert.deepEqual(doc.notDelivered.map((d) => d.output).sort(), ["full-000000.pem", "full-000001.pem", "full-000002.pem", "full-000003.pem"]);
      for (const d of doc.notDelivered) assert.equal(d.reason, "ENOSPC");
      assert.deepEqual(readdirSync(outDir).filter((n) => !n.startsWith("filler-")), [], "no temporary file left");
      unfill(outDir);
      const again = await runCliAsync(args, { env: { TRUSTLINE_SESSION: token } });
      expectOk(again);
      assert.deepEqual((({ issued, reused, notDelivered }) => ({ issued, reused, notDelivered }))(json(again)), { issued: 0, reused: 4, notDelivered: [] });
      assert.equal((await certList(h, ["--batch", "FULL-1"])).length, 4);
    } finally {
      execFileSync("umount", ["-l", outDir]);
    }
  });

  test("the same batch pushed to every server at once: each request gets exactly one certificate", async () => {
    const csrDir = join(dir, "shared-delivery");
    writeCsrFolder(csrDir, 150, { prefix: "shared" });
    const runs = await Promise.all(
      [0, 1, 2].map((i) =>
        runCliAsync(["--json", "issue", "batch", "--est", servers[i % servers.length]!.url, ...station, "--csr-dir", csrDir, "--out-dir", join(dir, `shared-out-${i}`), "--batch", "SHARED-1", "--in-flight", "16"], { env: { TRUSTLINE_SESSION: token } }),
      ),
    );
    for (const r of runs) expectOk(r);
    const issued = runs.map((r) => (json(r) as { issued: number }).issued);
    const reused = runs.map((r) => (json(r) as { reused: number }).reused);
    assert.equal(issued.reduce((a, b) => a + b, 0), 150, `issued ${issued.join("+")}, reused ${reused.join("+")}`);
    assert.equal(reused.reduce((a, b) => a + b, 0), 300);
    const inBatch = await certList(h, ["--batch", "SHARED-1"]);
    assert.equal(inBatch.length, 150);
    // Every run wrote the same certificate for a request.
    const file = readdirSync(join(dir, "shared-out-0"))[0]!;
    const bytes = [0, 1, 2].map((i) => spawnSync("openssl", ["x509", "-noout", "-serial", "-in", join(dir, `shared-out-${i}`, file)], { encoding: "utf8" }).stdout);
    assert.equal(new Set(bytes).size, 1);
    await assertAuditIntact(h);
  });

  test("serve --est with a TLS identity from elsewhere (--tls-cert/--tls-key); the flags checked", async () => {
    const tls = loopbackTls();
    const cert = join(dir, "other-tls.pem");
    const key = join(dir, "other-tls.key");
    writeFileSync(cert, tls.cert);
    writeFileSync(key, tls.key, { mode: 0o600 });
    const other = await serveEst(h, ["--tls-cert", cert, "--tls-key", key], cert);
    try {
      const presented = spawnSync("sh", ["-c", `openssl s_client -connect ${other.url.replace("https://", "")} -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`], { encoding: "utf8" }).stdout.trim();
      const expected = spawnSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", cert], { encoding: "utf8" }).stdout.trim();
      assert.equal(presented, expected);
    } finally {
      await other.stop();
    }
    expectError(runCli([...h.g, "--json", "serve", "--est", "--tls-cert", cert]), 2, "USAGE");
    expectError(runCli([...h.g, "--json", "serve", "--tls-cert", cert, "--tls-key", key]), 2, "USAGE");
  });

  test("enroll and issue batch --help show the EST examples", () => {
    const help = runCli(["enroll", "--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /trustline enroll --est https:\/\/ca\.plant:8443/);
    const batchHelp = runCli(["issue", "batch", "--help"]);
    assert.match(batchHelp.stdout, /--est <url>/);
  });
});
