/**
 * Issue 16's acceptance, through the CLI as operators use it: roles refuse what they do not allow
 * (exit 5, audited, nothing else changed); TOTP codes that are wrong, reused or stale are refused
 * and five failures lock; a correct code, a shift session and a service token each sign in and
 * the records say who, where, under which session and how.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { opensslCsr, runCli, tempDir } from "../helpers/pki.js";
import { totpNow } from "../helpers/totp.js";
import { asOperator, auditLog, certList, expectError, expectOk, initCliHome, json, type TestHome } from "../cli/cli-helpers.js";

describe("roles: each refusal is exit 5 FORBIDDEN, audited, and changes nothing else", { timeout: 180_000 }, () => {
  const t = tempDir();
  let h: TestHome;
  let signerSerial: string;
  let deviceSerial: string;
  before(() => {
    h = initCliHome(t.dir);
    const dev = runCli([...h.g, "--json", "issue", "device", "--generate", "dev-roles-1", "--out-dir", join(t.dir, "out")]);
    expectOk(dev);
    deviceSerial = json(dev).serial;
    const signer = runCli([...h.g, "--json", "issue", "signer", "--csr", opensslCsr(t.dir, "ci-1", "/CN=ci").csrPath, "--name", "ci-signer-1", "--out", join(t.dir, "ci-signer-1.pem")]);
    expectOk(signer);
    signerSerial = json(signer).serial;
  });
  after(() => t.cleanup());

  async function refused(who: string[], args: string[], action: string): Promise<void> {
    const before = { certs: await certList(h), state: readFileSync(join(h.home, "state.json"), "utf8") };
    const r = runCli([...h.g, ...who, "--json", ...args]);
    const e = expectError(r, 5, "FORBIDDEN");
    assert.equal(e.details.action, action);
    assert.equal((await certList(h)).length, before.certs.length, "nothing issued");
    assert.equal(readFileSync(join(h.home, "state.json"), "utf8"), before.state, "state unchanged");
    const last = (await auditLog(h)).at(-1)!;
    assert.deepEqual([last.action, last.outcome, last.operator, last.reason], ["auth.forbidden", "rejected", who[3], action]);
  }

  test("an auditor can neither issue nor revoke, but reads", async () => {
    const auditor = asOperator(h, "audrey", "auditor");
    await refused(auditor, ["issue", "device", "--generate", "dev-by-auditor", "--out-dir", join(t.dir, "a")], "issue.device");
    await refused(auditor, ["revoke", deviceSerial, "--reason", "keyCompromise"], "revoke.single");
    expectOk(runCli([...h.g, ...auditor, "cert", "list"]));
  });

  test("an issuer can issue devices but cannot create a CA, add an operator or revoke a signer", async () => {
    const issuer = asOperator(h, "ivan", "issuer");
    expectOk(runCli([...h.g, ...issuer, "issue", "device", "--generate", "dev-by-issuer", "--out-dir", join(t.dir, "i")]));
    await refused(issuer, ["ca", "create", "plant-2", "--profile", "device-ca"], "ca.create");
    await refused(issuer, ["operator", "add", "mallory", "--role", "admin"], "operator.manage");
    await refused(issuer, ["revoke", signerSerial, "--reason", "keyCompromise"], "revoke.single");
  });

  test("an officer can issue signers and revoke but not issue device certificates", async () => {
    const officer = asOperator(h, "olga", "officer");
    await refused(officer, ["issue", "device", "--generate", "dev-by-officer", "--out-dir", join(t.dir, "o")], "issue.device");
    const r = runCli([...h.g, ...officer, "--json", "revoke", deviceSerial, "--reason", "superseded"]);
    expectOk(r);
    const last = (await auditLog(h)).at(-1)! as any;
    assert.deepEqual([last.action, last.operator, last.origin, last.session], ["certificate.revoke", "olga", "service-token", null]);
  });
});

describe("TOTP sign-in: wrong, reused and stale codes refused; five failures lock; a good code is traced", { timeout: 180_000 }, () => {
  const t = tempDir();
  let h: TestHome;
  let bob: string;
  let carol: string;
  before(() => {
    h = initCliHome(t.dir);
    const add = (id: string) => {
      const r = runCli([...h.g, "--json", "operator", "add", id, "--role", "issuer", "--name", `${id} on line 7`]);
      expectOk(r);
      const doc = json(r);
      assert.match(doc.otpauthUri, new RegExp(`^otpauth://totp/Trustline%20Acme%20Devices:${id}\\?secret=[A-Z2-7]{32}&issuer=Trustline\\+Acme\\+Devices&algorithm=SHA1&digits=6&period=30$`));
      return doc.otpauthUri as string;
    };
    bob = add("bob");
    carol = add("carol");
  });
  after(() => t.cleanup());

  const issueAs = (id: string, code: string, cn: string) => runCli(["--home", h.home, "--passphrase-file", h.passFile, "--operator", id, "--station", "line-7", "--totp", code, "--json", "issue", "device", "--generate", cn, "--out-dir", join(t.dir, cn)]);
  const wrongCode = (uri: string) => {
    const valid = new Set([-30_000, 0, 30_000].map((d) => totpNow(uri, new Date(Date.now() + d))));
    return ["000000", "111111", "222222", "333333"].find((c) => !valid.has(c))!;
  };

  test("a correct code issues, and the record names operator, station, no session, origin totp", async () => {
    const code = totpNow(bob);
    const r = issueAs("bob", code, "dev-totp-1");
    expectOk(r);
    const record = json(r);
    assert.deepEqual([record.operator, record.station, record.session, record.origin], ["bob", "line-7", null, "totp"]);
    const shown = runCli([...h.gNoPass, "cert", "show", record.serial]);
    assert.match(shown.stdout, /issued .* by operator bob at station line-7/);
    assert.match(shown.stdout, /signed in   totp, for this command alone/);
    // The same code again: its time step is spent.
    const again = expectError(issueAs("bob", code, "dev-totp-2"), 5, "AUTH_FAILED");
    assert.equal(again.details.reason, "reused-code");
  });

  test("a wrong and a stale code are refused with their reasons, audited as auth.fail", async () => {
    assert.equal(expectError(issueAs("bob", wrongCode(bob), "dev-wrong"), 5, "AUTH_FAILED").details.reason, "wrong-code");
    const stale = totpNow(bob, new Date(Date.now() - 5 * 60_000));
    assert.equal(expectError(issueAs("bob", stale, "dev-stale"), 5, "AUTH_FAILED").details.reason, "stale-code");
    const fails = (await auditLog(h)).filter((e) => e.action === "auth.fail" && e.operator === "bob").map((e) => e.reason);
    assert.deepEqual(fails, ["reused-code", "wrong-code", "stale-code"]);
    assert.equal((await certList(h, ["--operator", "bob"])).length, 1);
  });

  test("the fifth failure in 15 minutes locks; then even a correct code is refused until an admin enables the operator", async () => {
    for (let i = 1; i <= 5; i++) {
      const e = expectError(issueAs("carol", wrongCode(carol), `dev-lock-${i}`), 5, "AUTH_FAILED");
      assert.equal(e.details.reason, "wrong-code");
      assert.equal(e.details.locked, i === 5 ? true : undefined);
    }
    const sixth = expectError(issueAs("carol", totpNow(carol), "dev-lock-6"), 5, "AUTH_FAILED");
    assert.equal(sixth.details.reason, "locked");
    assert.match(sixth.message, /locked/);
    const shown = json(runCli([...h.gNoPass, "--json", "operator", "show", "carol"]));
    assert.equal(shown.status, "locked");
    const locks = (await auditLog(h)).filter((e) => e.action === "operator.locked");
    assert.deepEqual(locks.map((e) => e.operator), ["carol"]);
    expectOk(runCli([...h.g, "operator", "enable", "carol"]));
    expectOk(issueAs("carol", totpNow(carol), "dev-after-unlock"));
    assert.equal((await certList(h, ["--operator", "carol"])).length, 1);
  });

  test("a disabled operator cannot sign in", () => {
    expectOk(runCli([...h.g, "operator", "disable", "bob"]));
    assert.equal(expectError(issueAs("bob", totpNow(bob, new Date(Date.now() + 30_000)), "dev-disabled"), 5, "AUTH_FAILED").details.reason, "disabled");
  });
});

describe("shift sessions and service accounts", { timeout: 180_000 }, () => {
  const t = tempDir();
  let h: TestHome;
  let dana: string;
  before(() => {
    h = initCliHome(t.dir);
    dana = json(runCli([...h.g, "--json", "operator", "add", "dana", "--role", "issuer"])).otpauthUri;
  });
  after(() => t.cleanup());

  test("login opens a session (0600 file) that issues without a code; every record names the person who opened it; revoked, it is refused", async () => {
    const file = join(t.dir, "line-7.session");
    const login = runCli(["--home", h.home, "--passphrase-file", h.passFile, "--operator", "dana", "--station", "line-7", "--json", "login", "--totp", totpNow(dana), "--session-file", file, "--ttl", "8h"]);
    expectOk(login);
    const { session } = json(login);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual([session.operator, session.station, session.origin, session.status], ["dana", "line-7", "totp", "active"]);
    assert.equal(Date.parse(session.expiresAt) - Date.parse(session.createdAt), 8 * 3_600_000);
    const line = ["--home", h.home, "--passphrase-file", h.passFile, "--session-file", file, "--json"];
    for (const cn of ["dev-shift-1", "dev-shift-2"]) {
      const r = runCli([...line, "issue", "device", "--generate", cn, "--out-dir", join(t.dir, cn)]);
      expectOk(r);
      assert.deepEqual([json(r).operator, json(r).station, json(r).session, json(r).origin], ["dana", "line-7", session.id, "totp"]);
    }
    const listed = json(runCli([...h.gNoPass, "--json", "session", "list"]));
    assert.ok(listed.some((s: any) => s.id === session.id && s.status === "active"));
    const issued = (await auditLog(h)).filter((e: any) => e.action === "certificate.issue" && e.session === session.id);
    assert.equal(issued.length, 2);
    // An issuer cannot revoke sessions; an admin can.
    expectError(runCli([...line, "session", "revoke", session.id]), 5, "FORBIDDEN");
    expectOk(runCli([...h.g, "session", "revoke", session.id]));
    const e = expectError(runCli([...line, "issue", "device", "--generate", "dev-shift-3", "--out-dir", join(t.dir, "s3")]), 5, "AUTH_FAILED");
    assert.equal(e.details.reason, "revoked-session");
  });

  test("logout ends the session and removes its file", () => {
    const file = join(t.dir, "logout.session");
    expectOk(runCli(["--home", h.home, "--passphrase-file", h.passFile, "--operator", "dana", "--station", "line-8", "login", "--totp", totpNow(dana, new Date(Date.now() + 30_000)), "--session-file", file]));
    expectOk(runCli(["--home", h.home, "--passphrase-file", h.passFile, "--session-file", file, "logout"]));
    assert.equal(existsSync(file), false);
  });

  test("a service account signs in with its token file; the record says service-token; a tampered token is refused", async () => {
    const file = join(t.dir, "ci.token");
    const add = runCli([...h.g, "--json", "operator", "add", "ci-bot", "--service", "--role", "officer", "--token-out", file]);
    expectOk(add);
    assert.equal(json(add).token, undefined, "the token went to the file only");
    const csr = opensslCsr(t.dir, "ci-bot", "/CN=ci").csrPath;
    const r = runCli(["--home", h.home, "--passphrase-file", h.passFile, "--token-file", file, "--station", "ci", "--json", "issue", "signer", "--csr", csr, "--name", "ci-signer", "--out", join(t.dir, "ci-signer.pem")]);
    expectOk(r);
    assert.deepEqual([json(r).operator, json(r).station, json(r).session, json(r).origin], ["ci-bot", "ci", null, "service-token"]);
    const token = readFileSync(file, "utf8").trim();
    const forged = join(t.dir, "forged.token");
    writeFileSync(forged, `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}\n`, { mode: 0o600 });
    const e = expectError(runCli(["--home", h.home, "--passphrase-file", h.passFile, "--token-file", forged, "--json", "issue", "signer", "--csr", csr, "--name", "x", "--out", join(t.dir, "x.pem")]), 5, "AUTH_FAILED");
    assert.equal(e.details.reason, "wrong-token");
    // TRUSTLINE_TOKEN_FILE works the same way.
    expectOk(runCli(["--home", h.home, "--passphrase-file", h.passFile, "crl", "--ca", "device"], { env: { TRUSTLINE_TOKEN_FILE: file } }));
  });

  test("no credential at all: exit 5 with a message that says how to sign in", () => {
    const e = expectError(runCli(["--home", h.home, "--passphrase-file", h.passFile, "--json", "issue", "device", "--generate", "dev-anon", "--out-dir", join(t.dir, "anon")], { env: { HOME: t.dir, XDG_STATE_HOME: t.dir } }), 5, "AUTH_FAILED");
    assert.equal(e.details.reason, "no-credential");
    assert.match(e.message, /trustline login/);
  });
});
