/**
 * `trustline station add|list|disable|enable` and `trustline ca issue-tls` as an admin runs them:
 * files written (the station key 0600, never overwritten unless --force), JSON output, exit
 * statuses, and an issuer refused with exit 5.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openssl, runCli, tempDir } from "../helpers/pki.js";
import { asOperator, assertAuditIntact, auditLog, certList, expectError, expectOk, initCliHome, json, type TestHome } from "../cli/cli-helpers.js";

describe("trustline station and ca issue-tls", { timeout: 180_000 }, () => {
  const t = tempDir("trustline-station-cli-");
  let h: TestHome;
  const out = (...p: string[]) => join(t.dir, ...p);
  before(() => {
    h = initCliHome(t.dir);
  });
  after(() => t.cleanup());

  test("station add writes <name>.key (PKCS#8, mode 0600), <name>.pem, <name>-chain.pem and ca.pem; OpenSSL verifies the station as a TLS client", async () => {
    const r = runCli([...h.g, "--json", "station", "add", "line-7", "--out-dir", out("st")]);
    expectOk(r);
    const doc = json(r);
    assert.deepEqual(Object.keys(doc).sort(), ["certificate", "chain", "files", "station"]);
    assert.equal(doc.certificate, readFileSync(out("st", "line-7.pem"), "utf8"));
    assert.equal(doc.chain.length, 2);
    assert.deepEqual(doc.files, { key: out("st", "line-7.key"), certificate: out("st", "line-7.pem"), chain: out("st", "line-7-chain.pem"), ca: out("st", "ca.pem") });
    assert.equal(doc.station.name, "line-7");
    assert.equal(doc.station.status, "active");
    assert.equal(doc.station.createdBy, "alice");
    assert.doesNotMatch(r.stdout, /PRIVATE KEY/, "the key is never printed");
    assert.equal(statSync(out("st", "line-7.key")).mode & 0o777, 0o600);
    assert.match(readFileSync(out("st", "line-7.key"), "utf8"), /^-----BEGIN PRIVATE KEY-----\n/);
    const chain = readFileSync(out("st", "line-7-chain.pem"), "utf8");
    assert.equal(chain.match(/BEGIN CERTIFICATE/g)!.length, 3, "certificate, device CA, root");
    assert.ok(chain.startsWith(readFileSync(out("st", "line-7.pem"), "utf8")));
    assert.ok(chain.endsWith(readFileSync(out("st", "ca.pem"), "utf8")));
    const root = runCli([...h.gNoPass, "ca", "export", "root"]);
    assert.equal(readFileSync(out("st", "ca.pem"), "utf8"), root.stdout);
    // The key matches the certificate, and the chain verifies to ca.pem for TLS client authentication.
    const pub = openssl(["pkey", "-in", out("st", "line-7.key"), "-pubout"]);
    const certPub = openssl(["x509", "-in", out("st", "line-7.pem"), "-noout", "-pubkey"]);
    assert.equal(pub.stdout, certPub.stdout);
    writeFileSync(out("st", "device-ca.pem"), runCli([...h.gNoPass, "ca", "export", "device"]).stdout);
    const v = openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", out("st", "ca.pem"), "-untrusted", out("st", "device-ca.pem"), out("st", "line-7.pem")]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const listed = (await certList(h, ["--profile", "station"])).map((c) => [c.commonName, c.serial]);
    assert.deepEqual(listed, [["line-7", doc.station.serial]]);
  });

  test("an existing active station is exit 4 ALREADY_EXISTS; existing files are never overwritten without --force, checked before issuing", async () => {
    const count = (await certList(h)).length;
    const dup = expectError(runCli([...h.g, "--json", "station", "add", "line-7", "--out-dir", out("st2")]), 4, "ALREADY_EXISTS");
    assert.match(dup.message, /station "line-7" exists and is active/);
    const keyBefore = readFileSync(out("st", "line-7.key"), "utf8");
    const taken = expectError(runCli([...h.g, "--json", "station", "add", "line-7", "--out-dir", out("st"), "--replace"]), 4, "ALREADY_EXISTS");
    assert.match(taken.message, /line-7\.key already exists; refusing to overwrite it \(use --force\)/);
    assert.equal(readFileSync(out("st", "line-7.key"), "utf8"), keyBefore);
    assert.equal((await certList(h)).length, count, "nothing issued");
    // Another station into the same folder shares ca.pem (the same root).
    expectOk(runCli([...h.g, "station", "add", "line-8", "--out-dir", out("st")]));
    // --replace --force: a new key and certificate over the old files, still 0600.
    const replaced = runCli([...h.g, "--json", "station", "add", "line-7", "--out-dir", out("st"), "--replace", "--force"]);
    expectOk(replaced);
    assert.notEqual(readFileSync(out("st", "line-7.key"), "utf8"), keyBefore);
    assert.equal(statSync(out("st", "line-7.key")).mode & 0o777, 0o600);
    const last = (await auditLog(h)).filter((e) => e.action === "station.add").at(-1)!;
    assert.equal(last.serial, json(replaced).station.serial);
    // ca.pem holding another certificate is refused before issuing.
    mkdirSync(out("other"));
    writeFileSync(out("other", "ca.pem"), "not this root\n");
    const before = (await certList(h)).length;
    const other = expectError(runCli([...h.g, "--json", "station", "add", "line-30", "--out-dir", out("other")]), 4, "ALREADY_EXISTS");
    assert.match(other.message, /ca\.pem exists and holds another certificate than this home's root/);
    assert.equal((await certList(h)).length, before);
    assert.deepEqual(readdirSync(out("other")), ["ca.pem"]);
  });

  test("station list, disable and enable (--json); an unknown station is exit 3 NOT_FOUND", async () => {
    const list = json(runCli([...h.gNoPass, "--json", "station", "list"]));
    assert.deepEqual(list.map((s: { name: string; status: string }) => [s.name, s.status]), [["line-7", "active"], ["line-8", "active"]]);
    const disabled = runCli([...h.g, "--json", "station", "disable", "line-8"]);
    expectOk(disabled);
    assert.equal(json(disabled).status, "disabled");
    assert.equal(json(disabled).disabledBy, "alice");
    const text = runCli([...h.gNoPass, "station", "list"]);
    assert.match(text.stdout, /^line-8 +disabled +CA device/m);
    const enabled = runCli([...h.g, "--json", "station", "enable", "line-8"]);
    expectOk(enabled);
    assert.equal(json(enabled).status, "active");
    assert.equal(json(enabled).disabledAt, undefined);
    const e = expectError(runCli([...h.g, "--json", "station", "disable", "line-99"]), 3, "NOT_FOUND");
    assert.match(e.message, /no station named "line-99"/);
    const actions = (await auditLog(h)).filter((x) => x.action.startsWith("station.")).map((x) => x.action);
    assert.deepEqual(actions.slice(-2), ["station.disable", "station.enable"]);
  });

  test("a bad station name is exit 3 POLICY_DENIED, and no file is written (not even outside --out-dir)", async () => {
    const e = expectError(runCli([...h.g, "--json", "station", "add", "../escape", "--out-dir", out("bad")]), 3, "POLICY_DENIED");
    assert.deepEqual(e.details.violations.map((v: { code: string }) => v.code), ["NAME_INVALID"]);
    assert.equal(existsSync(out("escape.key")), false);
    assert.equal(existsSync(out("bad")), false);
  });

  test("ca issue-tls: the certificate and chain (never the key) in --out-dir; OpenSSL verifies it as a server for its hosts", async () => {
    const r = runCli([...h.g, "--json", "ca", "issue-tls", "--host", "est.acme.example", "--host", "127.0.0.1", "--out-dir", out("tls")]);
    expectOk(r);
    const doc = json(r);
    assert.deepEqual(doc.hosts, ["est.acme.example", "127.0.0.1"]);
    assert.match(doc.keyUri, /^file:keys\/tls-server-/);
    assert.deepEqual(doc.files, { certificate: out("tls", "tls-server.pem"), chain: out("tls", "tls-server-chain.pem") });
    assert.deepEqual(readdirSync(out("tls")).sort(), ["tls-server-chain.pem", "tls-server.pem"]);
    assert.doesNotMatch(readFileSync(out("tls", "tls-server-chain.pem"), "utf8"), /PRIVATE KEY/);
    assert.match(readFileSync(join(h.home, doc.keyUri.slice("file:".length)), "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const v = openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-verify_hostname", "est.acme.example", "-CAfile", out("st", "ca.pem"), "-untrusted", out("st", "device-ca.pem"), out("tls", "tls-server.pem")]);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const ip = openssl(["verify", "-purpose", "sslserver", "-verify_ip", "127.0.0.1", "-CAfile", out("st", "ca.pem"), "-untrusted", out("st", "device-ca.pem"), out("tls", "tls-server.pem")]);
    assert.equal(ip.status, 0, ip.stdout + ip.stderr);
    const again = expectError(runCli([...h.g, "--json", "ca", "issue-tls", "--host", "est.acme.example", "--out-dir", out("tls")]), 4, "ALREADY_EXISTS");
    assert.match(again.message, /tls-server\.pem already exists/);
    const text = runCli([...h.g, "ca", "issue-tls", "--host", "est2.acme.example"]);
    expectOk(text);
    assert.match(text.stdout, /^Issued the EST server's TLS certificate [0-9a-f]+ from CA device, until /);
    assert.match(text.stdout, /-----BEGIN CERTIFICATE-----/);
  });

  test("ca issue-tls refuses bad hosts (exit 3 POLICY_DENIED, every violation), no host (exit 2)", async () => {
    const e = expectError(runCli([...h.g, "--json", "ca", "issue-tls", "--host", "*.acme.example", "--host", "bad_name.example"]), 3, "POLICY_DENIED");
    assert.deepEqual(e.details.violations.map((v: { code: string }) => v.code), ["NAME_INVALID", "NAME_INVALID"]);
    assert.match(e.message, /wildcard/);
    const many = expectError(runCli([...h.g, "--json", "ca", "issue-tls", ...Array.from({ length: 17 }, (_, i) => ["--host", `h${i}.example`]).flat()]), 3, "POLICY_DENIED");
    assert.match(many.message, /17 hosts requested; .* at most 16/);
    expectError(runCli([...h.g, "--json", "ca", "issue-tls"]), 2, "USAGE");
  });

  test("an issuer is exit 5 FORBIDDEN for station add, disable and ca issue-tls: audited, nothing written", async () => {
    const issuer = asOperator(h, "ivan", "issuer");
    const count = (await certList(h)).length;
    for (const args of [["station", "add", "line-20", "--out-dir", out("ivan")], ["station", "disable", "line-7"], ["ca", "issue-tls", "--host", "evil.example"]]) {
      const e = expectError(runCli([...h.g, ...issuer, "--json", ...args]), 5, "FORBIDDEN");
      assert.equal(e.details.action, "station.manage");
      const last = (await auditLog(h)).at(-1)!;
      assert.deepEqual([last.action, last.operator, last.reason], ["auth.forbidden", "ivan", "station.manage"]);
    }
    assert.equal((await certList(h)).length, count);
    assert.deepEqual(readdirSync(out("ivan")), [], "the folder may be made, but holds nothing");
    await assertAuditIntact(h);
  });
});
