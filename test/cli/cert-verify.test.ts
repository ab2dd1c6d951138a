/**
 * `trustline cert verify` as a test station or an update server's operator runs it: files in,
 * exit status and (with --json) one document out. Certificates come from the test factory.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { crl, DAY, EKU, issue, POLICY, selfSigned } from "../helpers/cert-factory.js";
import { FIXED_NOW, tempDir } from "../helpers/pki.js";
import { describeRun, expectError, expectOk, json, runCliAsync } from "./cli-helpers.js";

const AT = ["--at", FIXED_NOW.toISOString()];

describe("trustline cert verify", () => {
  let dir: string;
  let cleanup: () => void;
  const f = (name: string) => join(dir, name);

  before(() => {
    ({ dir, cleanup } = tempDir("trustline-cli-verify-"));
    const root = selfSigned({ subject: "/O=Acme/CN=Root", policies: [POLICY(1)] });
    const ca = issue(root, { subject: "/O=Acme/CN=Device CA", ca: { pathLen: 0 }, policies: [POLICY(1)], serial: 7n });
    const dev = issue(ca, { subject: "/CN=dev-0001", eku: [EKU.clientAuth], policies: [POLICY(1)], serial: 42n });
    const expired = issue(ca, { subject: "/CN=dev-old", notAfter: new Date(FIXED_NOW.getTime() - DAY) });
    const otherRoot = selfSigned({ subject: "/O=Other/CN=Root" });
    writeFileSync(f("root.pem"), root.pem);
    writeFileSync(f("other-root.pem"), otherRoot.pem);
    writeFileSync(f("ca.pem"), ca.pem);
    writeFileSync(f("dev.pem"), dev.pem);
    writeFileSync(f("dev.der"), dev.der);
    writeFileSync(f("dev-with-chain.pem"), dev.pem + ca.pem);
    writeFileSync(f("expired.pem"), expired.pem);
    writeFileSync(f("no-aki.pem"), issue(ca, { subject: "/CN=dev-no-aki", noKeyIdentifiers: true }).pem);
    writeFileSync(f("crls.pem"), crl(root, {}).pem + crl(ca, {}).pem);
    writeFileSync(f("revoking.pem"), crl(root, {}).pem + crl(ca, { revoked: [{ serial: 42n, reason: "keyCompromise" }] }).pem);
    writeFileSync(f("ca.crl"), crl(ca, {}).der);
    writeFileSync(f("garbage.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    writeFileSync(f("empty.pem"), "nothing here\n");
  });
  after(() => cleanup());

  const verify = (...args: string[]) => runCliAsync(["cert", "verify", ...args.map((a) => (a.endsWith(".pem") || a.endsWith(".der") || a.endsWith(".crl") ? f(a) : a)), ...AT]);

  test("a valid path exits 0 and prints the path, the purpose, the time and the policies", async () => {
    const r = await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--purpose", "client");
    expectOk(r);
    assert.match(r.stdout, /dev\.pem: OK/);
    assert.match(r.stdout, /CN=dev-0001[\s\S]*<- O=Acme, CN=Device CA[\s\S]*<- O=Acme, CN=Root {2}\[trust anchor\]/);
    assert.match(r.stdout, /purpose {5}client/);
    assert.match(r.stdout, new RegExp(`time {8}${FIXED_NOW.toISOString()}`));
    assert.match(r.stdout, /policies {4}2\.16\.840\.1\.101\.3\.2\.1\.48\.1/);
  });

  test("--json prints the chosen path and every check", async () => {
    const r = await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), ...AT]);
    expectOk(r);
    const doc = json(r);
    assert.equal(doc.valid, true);
    assert.deepEqual(doc.path.map((p: { role: string }) => p.role), ["target", "intermediate", "trust-anchor"]);
    assert.ok(doc.checks.length >= 20);
    for (const c of doc.checks) assert.deepEqual(Object.keys(c).sort(), ["check", "detail", "index", "ok", "rfcSection"]);
    assert.equal(doc.time, FIXED_NOW.toISOString());
  });

  test("the certificate file may carry its chain; DER input is accepted", async () => {
    expectOk(await verify("dev-with-chain.pem", "--trust", "root.pem"));
    expectOk(await verify("dev.der", "--trust", "root.pem", "--untrusted", "ca.pem"));
  });

  test("no valid path exits 1 with the reason, the failing certificate and the RFC section (PATH_INVALID)", async () => {
    const expired = await verify("expired.pem", "--trust", "root.pem", "--untrusted", "ca.pem");
    assert.equal(expired.status, 1, describeRun(expired));
    assert.match(expired.stderr, /expired at .*\[check validity, RFC 5280 §6\.1\.3\(a\)\(2\), certificate 0 \(CN=dev-old, serial [0-9a-f]+\)\] \[PATH_INVALID\]/);
    const wrongRoot = await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("other-root.pem"), "--untrusted", f("ca.pem"), ...AT]);
    const e = expectError(wrongRoot, 1, "PATH_INVALID");
    assert.equal(e.details.check, "path-building");
    assert.equal(e.details.failing.index, 1);
    const server = expectError(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), "--purpose", "server", ...AT]), 1, "PATH_INVALID");
    assert.equal(server.details.check, "extended-key-usage");
    assert.ok(Array.isArray(server.details.checks) && server.details.checks.at(-1).ok === false);
  });

  test("--crl: current CRLs pass, a listed certificate exits 1 REVOKED, a missing CRL fails under require", async () => {
    expectOk(await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--crl", "crls.pem"));
    const revoked = expectError(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), "--crl", f("revoking.pem"), ...AT]), 1, "REVOKED");
    assert.equal(revoked.details.revoked.reason, "keyCompromise");
    const missing = await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--crl", "ca.crl");
    assert.equal(missing.status, 1, describeRun(missing));
    assert.match(missing.stderr, /no current CRL covers the certificate/);
    expectOk(await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--crl", "ca.crl", "--revocation", "if-available"));
  });

  test("--policy with --explicit-policy and --max-depth constrain the path", async () => {
    expectOk(await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--policy", POLICY(1), "--explicit-policy"));
    const r = await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--policy", POLICY(2), "--explicit-policy");
    assert.equal(r.status, 1, describeRun(r));
    // --max-depth counts intermediate CAs: the device CA is one.
    expectOk(await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--max-depth", "1"));
    expectOk(await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--max-depth", "255"));
    const deep = await verify("dev.pem", "--trust", "root.pem", "--untrusted", "ca.pem", "--max-depth", "0");
    assert.equal(deep.status, 1);
    assert.match(deep.stderr, /maximum depth of 0/);
    const doc = json(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), "--max-depth", "3", ...AT]));
    assert.equal(doc.maxDepth, 3);
    assert.equal(doc.profile, "strict");
  });

  test("strict by default; --lenient skips the RFC 5280 §4 profile checks (exit 1 strict, 0 lenient)", async () => {
    const r = expectError(await runCliAsync(["--json", "cert", "verify", f("no-aki.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), ...AT]), 1, "PATH_INVALID");
    assert.equal(r.details.check, "profile");
    assert.equal(r.details.rfcSection, "4.2.1.1");
    const lenient = await runCliAsync(["--json", "cert", "verify", f("no-aki.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), "--lenient", ...AT]);
    expectOk(lenient);
    assert.equal(json(lenient).profile, "lenient");
  });

  test("the trust anchor's checks are named in --json", async () => {
    const doc = json(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--untrusted", f("ca.pem"), ...AT]));
    const names = doc.checks.filter((c: { index: number }) => c.index === 2).map((c: { check: string }) => c.check);
    for (const n of ["anchor-validity", "anchor-basic-constraints", "anchor-key-usage", "anchor-critical-extensions", "anchor-constraints"]) assert.ok(names.includes(n), n);
  });

  test("usage errors exit 2: no --trust, a bad --at, --max-depth or --purpose", async () => {
    for (const args of [["dev.pem"], ["dev.pem", "--trust", "root.pem", "--at", "tomorrow"], ["dev.pem", "--trust", "root.pem", "--max-depth", "-1"], ["dev.pem", "--trust", "root.pem", "--max-depth", "two"], ["dev.pem", "--trust", "root.pem", "--purpose", "email"]]) {
      const r = await runCliAsync(["--json", "cert", "verify", ...args.map((a) => (a.endsWith(".pem") ? f(a) : a))]);
      assert.equal(r.status, 2, describeRun(r));
      assert.equal(json(r).error.code, "USAGE");
    }
  });

  test("unreadable input exits 3: a missing file, a PEM without certificates, a damaged certificate, a bad CRL", async () => {
    expectError(await runCliAsync(["--json", "cert", "verify", f("nope.pem"), "--trust", f("root.pem")]), 3, "NOT_FOUND");
    expectError(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("empty.pem")]), 3, "INPUT_INVALID");
    expectError(await runCliAsync(["--json", "cert", "verify", f("garbage.pem"), "--trust", f("root.pem")]), 3, "INPUT_INVALID");
    expectError(await runCliAsync(["--json", "cert", "verify", f("dev.pem"), "--trust", f("root.pem"), "--crl", f("dev.pem")]), 3, "INPUT_INVALID");
  });
});
