/**
 * A CA home on PostgreSQL, as a plant with several lines runs it: `init --store` leaves only
 * configuration in the folder; a second station is a copy of that folder; both issue batches at the
 * same time into one inventory and one audit trail, which lose and duplicate nothing and verify;
 * `serve` on one station answers "revoked" within a second for a revocation made on the other, and
 * `serve` on both stations issues the CRL for it once and serves the same bytes;
 * a database whose schema is too old or too new, or out of reach, is refused at the start of every
 * command with what to do. The built CLI throughout, a real PostgreSQL 15.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { SCHEMA_VERSION } from "../../ca/index.js";
import { defaultSessionFile } from "../../cli/credential.js";
import { expectError, expectOk, json, runCliAsync } from "../cli/cli-helpers.js";
import { writeCsrFolder } from "../helpers/csr-folder.js";
import { CLI, openssl, PASSPHRASE, runCli, tempDir, writeTemp } from "../helpers/pki.js";
import { createDatabaseSync, databaseUrl, POSTGRES_MISSING } from "../helpers/postgres.js";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process.js";
import { totpNow as totpOf } from "../helpers/totp.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a CA home on PostgreSQL, shared by two stations", { skip: POSTGRES_MISSING, timeout: 240_000 }, () => {
  const t = tempDir();
  let url: string;
  let passFile: string;
  let station2: string;
  before(() => {
    url = createDatabaseSync();
    passFile = writeTemp(t.dir, "ca-pass.txt", `${PASSPHRASE}\n`);
  });
  after(() => t.cleanup());

  let home: string;
  let g: string[];
  test("init --store: the folder keeps only store.json (no password in it) and the key files; the data is in the database", () => {
    home = join(t.dir, "plant");
    const r = runCli(["--home", home, "--json", "--operator", "alice", "init", "--org", "Acme Devices", "--passphrase-file", passFile, "--roles", "admin,officer,issuer", "--store", url]);
    expectOk(r);
    assert.equal(json(r).store, url);
    assert.deepEqual(readdirSync(home).sort(), ["keys", "store.json"]);
    assert.deepEqual(JSON.parse(readFileSync(join(home, "store.json"), "utf8")), { format: "trustline-store/1", url });
    const login = runCli(["--home", home, "--passphrase-file", passFile, "--operator", "alice", "--station", "line-1", "login", "--totp", totpOf(json(r).firstAdmin.otpauthUri), "--ttl", "24h"]);
    expectOk(login);
    g = ["--home", home, "--passphrase-file", passFile];
    // Station 2 is the same configuration on another PC: store.json and the (encrypted) key files.
    station2 = join(t.dir, "line-2-pc");
    cpSync(home, station2, { recursive: true });
  });

  test("init into a database that already holds a home is refused (exit 4), and that home is untouched", () => {
    const r = runCli(["--home", join(t.dir, "second"), "--json", "--operator", "bob", "init", "--org", "Other", "--passphrase-file", passFile, "--store", url]);
    expectError(r, 4, "ALREADY_EXISTS");
    assert.deepEqual(readdirSync(t.dir).filter((n) => n.includes("second")), []);
    expectOk(runCli([...g, "audit", "verify"]));
  });

  test("two stations issue a batch each at the same time: one inventory, nothing lost or twice, one audit chain that verifies", async () => {
    const c1 = join(t.dir, "csr-1");
    const c2 = join(t.dir, "csr-2");
    writeCsrFolder(c1, 300, { prefix: "l1-" });
    writeCsrFolder(c2, 300, { prefix: "l2-" });
    const session = sessionArgs(home);
    const [a, b] = await Promise.all([
      runCliAsync([...g, ...session, "--station", "line-1", "--json", "issue", "batch", "--csr-dir", c1, "--out-dir", join(t.dir, "o1"), "--batch", "L1"]),
      runCliAsync(["--home", station2, "--passphrase-file", passFile, ...session, "--station", "line-2", "--json", "issue", "batch", "--csr-dir", c2, "--out-dir", join(t.dir, "o2"), "--batch", "L2"]),
    ]);
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    assert.deepEqual([JSON.parse(a.stdout).issued, JSON.parse(b.stdout).issued], [300, 300]);
    const list = (station: string) => JSON.parse(runCli([...g, "--json", "cert", "list", "--station", station, "--profile", "device"]).stdout) as { serial: string }[];
    const l1 = list("line-1");
    const l2 = list("line-2");
    assert.deepEqual([l1.length, l2.length], [300, 300]);
    assert.equal(new Set([...l1, ...l2].map((c) => c.serial)).size, 600);
    const verify = runCli(["--home", station2, "--json", "audit", "verify"]);
    expectOk(verify);
    assert.equal(json(verify).intact, true);
    expectOk(runCli([...g, "store", "check"]));
  });

  test("serve on station 1 answers revoked within a second for a revocation made on station 2", async () => {
    const issued = json(runCli([...g, "--json", "issue", "device", "--generate", "ocsp-pg-1", "--out-dir", join(t.dir, "o3")]));
    writeFileSync(join(t.dir, "root.pem"), runCli([...g, "ca", "export", "root"]).stdout);
    writeFileSync(join(t.dir, "device-ca.pem"), runCli([...g, "ca", "export", "device"]).stdout);
    const port = 21_000 + Math.floor(Math.random() * 20_000);
    const server = spawn(process.execPath, [CLI, ...g, "serve", "--port", String(port)], { stdio: "ignore", env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: process.env.XDG_STATE_HOME ?? "" } });
    try {
      const base = `http://127.0.0.1:${port}`;
      let up = false;
      for (let i = 0; i < 100 && !up; i++) {
        up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
        if (!up) await sleep(100);
      }
      assert.ok(up);
      const ask = () => openssl(["ocsp", "-issuer", join(t.dir, "device-ca.pem"), "-cert", issued.files.certificate, "-url", `${base}/ocsp/device`, "-CAfile", join(t.dir, "root.pem")]).stdout;
      assert.match(ask(), /: good/);
      expectOk(runCli(["--home", station2, "--passphrase-file", passFile, ...sessionArgs(home), "revoke", issued.serial, "--reason", "keyCompromise"]));
      const revokedAt = Date.now();
      let status = "";
      while (Date.now() - revokedAt < 1000 && !/: revoked/.test(status)) {
        status = ask();
        if (!/: revoked/.test(status)) await sleep(50);
      }
      assert.match(status, /: revoked/, "station 1's OCSP shows station 2's revocation within a second");
    } finally {
      server.kill("SIGTERM");
    }
  });

  test("serve on both stations: one CRL issued for a revocation made with the CLI, served byte for byte by both, the CRL number up by one", async () => {
    const issued = json(runCli([...g, "--json", "issue", "device", "--generate", "crl-pg-1", "--out-dir", join(t.dir, "o4")]));
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
    const servers: ServeProcess[] = [];
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const one = await startServeProcess(g, [], env);
      servers.push(one);
      // The OCSP responder keys the first server made are files of station 1's folder: station 2
      // gets them as it got the CA keys (a plant with several serving stations keeps them in a vault).
      cpSync(join(home, "keys"), join(station2, "keys"), { recursive: true });
      const two = await startServeProcess(["--home", station2, "--passphrase-file", passFile, ...sessionArgs(home)], [], env);
      servers.push(two);
      const crlIssues = async () => Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM audit_entries WHERE line::json->>'action' = 'crl.issue'")).rows[0]!.n);
      const deviceNumber = async () => Number((await client.query<{ n: string }>("SELECT state::json->'crlNumbers'->>'device' AS n FROM home_state")).rows[0]!.n);
      const served = async (base: string) => Buffer.from(await (await fetch(`${base}/crl/device.crl`)).arrayBuffer());
      const text = (der: Buffer) => openssl(["crl", "-inform", "DER", "-text", "-noout"], der).stdout;
      const numberIn = (der: Buffer) => Number(/X509v3 CRL Number: *\n\s*(\d+)/.exec(text(der))?.[1]);
      // Both started: the second found the first one's CRLs current and issued none.
      const [issuesBefore, numberBefore] = [await crlIssues(), await deviceNumber()];
      assert.ok((await served(one.url)).equals(await served(two.url)), "the same CRL from both before the revocation");
      assert.equal(numberIn(await served(one.url)), numberBefore);

      expectOk(runCli(["--home", station2, "--passphrase-file", passFile, ...sessionArgs(home), "revoke", issued.serial, "--reason", "keyCompromise"]));
      const listed = (der: Buffer) => text(der).includes(`Serial Number: ${issued.serial.toUpperCase()}`);
      let [a, b] = [await served(one.url), await served(two.url)];
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && !(listed(a) && listed(b)); ) {
        await sleep(200);
        [a, b] = [await served(one.url), await served(two.url)];
      }
      assert.ok(listed(a) && listed(b), `both serve a CRL listing the revoked serial\n${one.stderr()}\n${two.stderr()}`);
      await sleep(2_000); // both servers' debounced refreshes have run
      [a, b] = [await served(one.url), await served(two.url)];
      assert.ok(a.equals(b), "byte-identical CRLs from both stations");
      assert.equal(numberIn(a), numberBefore + 1);
      assert.deepEqual([await deviceNumber(), await crlIssues()], [numberBefore + 1, issuesBefore + 1], "one number spent, one crl.issue entry, for both servers");
      assert.equal([one.stderr(), two.stderr()].join("").match(/CRL device #/g)?.length, 1, "one server logged that it issued it");
    } finally {
      await client.end();
      await Promise.all(servers.map((s) => s.stop()));
    }
  });

  test("a database whose schema is older or newer than this trustline, or out of reach, is refused at the start (exit 4) with what to do", async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query("DELETE FROM trustline_schema WHERE version = $1", [SCHEMA_VERSION]);
      const old = expectError(runCli([...g, "--json", "cert", "list"]), 4, "STORE_OUTDATED");
      assert.match(old.message, /run `trustline db migrate`/);
      await client.query("INSERT INTO trustline_schema (version, title) VALUES ($1, 'restored'), ($2, 'from the future')", [SCHEMA_VERSION, SCHEMA_VERSION + 1]);
      const future = expectError(runCli([...g, "--json", "cert", "list"]), 4, "STORE_OUTDATED");
      assert.match(future.message, /upgrade trustline/);
      await client.query("DELETE FROM trustline_schema WHERE version = $1", [SCHEMA_VERSION + 1]);
      expectOk(runCli([...g, "cert", "list"]));
    } finally {
      await client.end();
    }
    const away = join(t.dir, "away");
    mkdirSync(away);
    cpSync(join(home, "keys"), join(away, "keys"), { recursive: true });
    writeFileSync(join(away, "store.json"), JSON.stringify({ format: "trustline-store/1", url: databaseUrl(join(t.dir, "no-server"), "x") }));
    const e = expectError(runCli(["--home", away, "--json", "cert", "list"]), 4, "STORE_UNAVAILABLE");
    assert.match(e.message, /cannot reach the database/);
  });
});

/** Station 2 signs in with the session alice opened on station 1 (a copy of its session file). */
function sessionArgs(home: string): string[] {
  return ["--session-file", defaultSessionFile(home)];
}
