/**
 * OpenID Connect sign-in against a real OpenID provider (oidc-provider) on 127.0.0.1: the
 * device-code flow and the authorization-code flow with PKCE each map the signed-in subject to its
 * operator and open a shift session whose records name the issuer, subject and amr; an unknown
 * subject, a token without MFA where MFA is required, a refused or unanswered sign-in, a
 * non-https issuer and an unreachable one are refused with their codes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addOperator, generateDeviceCertificate, Home, openSession, TrustlineError } from "../../ca/index.js";
import { oidcSignIn } from "../../ca/operators/oidc.js";
import { startOidcProvider, type LoopbackProvider } from "../helpers/oidc-provider.js";
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { CLI, makeHome, PASSPHRASE, runCli, STATE_HOME, tempDir } from "../helpers/pki.js";
import { expectError, expectOk, initCliHome, json, type TestHome } from "../cli/cli-helpers.js";

const refusedWith = (code: string, reason?: string) => (e: unknown) => e instanceof TrustlineError && e.code === code && (reason === undefined || e.details.reason === reason);

describe("OpenID Connect sign-in against a loopback OpenID provider", { timeout: 120_000 }, () => {
  const t = tempDir();
  let idp: LoopbackProvider;
  let home: Home;
  before(async () => {
    idp = await startOidcProvider({ "sub-alex": { amr: ["pwd", "mfa"] }, "sub-blake": { amr: ["pwd"] }, "sub-casey": { amr: ["pwd"], acr: "urn:acme:loa:high" }, "sub-stranger": { amr: ["pwd", "mfa"] } });
    home = await makeHome(t.dir);
    for (const [id, subject, extra] of [["alex", "sub-alex", {}], ["blake", "sub-blake", {}], ["casey", "sub-casey", { acr: ["urn:acme:loa:high"] }]] as const) {
      await addOperator(home, { id, roles: ["issuer"], authenticator: { kind: "oidc", issuer: idp.issuer, subject, clientId: idp.clientId, ...extra } });
    }
  });
  after(async () => {
    await idp.close();
    t.cleanup();
  });

  const deviceSignIn = (subject: string, options: { deny?: boolean; timeoutMs?: number } = {}) =>
    oidcSignIn({
      issuer: idp.issuer,
      clientId: idp.clientId,
      flow: "device-code",
      allowHttpLoopback: true,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
      onUserCode: (p) => {
        assert.match(p.userCode, /^[A-Z-]{8,}$/);
        assert.equal(p.verificationUri, `${idp.issuer}/device`);
        if (options.timeoutMs === undefined) void idp.approveDevice(p.userCode, subject, options.deny ? { deny: true } : {});
      },
    });
  const open = () => Home.open({ home: home.dir, passphrase: async () => PASSPHRASE, station: "line-5" });

  test("device-code flow: the approved subject signs in with its amr, maps to its operator, and the record's origin names issuer and subject", async () => {
    const identity = await deviceSignIn("sub-alex");
    assert.deepEqual(identity, { issuer: idp.issuer, subject: "sub-alex", amr: ["pwd", "mfa"] });
    const { session, token } = await openSession(await open(), { kind: "oidc", identity });
    assert.equal(session.operator, "alex");
    const issued = await generateDeviceCertificate(await Home.open({ home: home.dir, passphrase: async () => PASSPHRASE, credential: { kind: "session", token } }), "dev-oidc-1");
    assert.deepEqual([issued.record.operator, issued.record.station, issued.record.session, issued.record.origin], ["alex", "line-5", session.id, `oidc:${idp.issuer}#sub-alex amr=pwd,mfa`]);
  });

  test("authorization-code flow with PKCE on a loopback redirect", async () => {
    let seen = "";
    const identity = await oidcSignIn({
      issuer: idp.issuer,
      clientId: idp.clientId,
      flow: "auth-code",
      allowHttpLoopback: true,
      onAuthorizationUrl: (url) => {
        seen = url;
        void idp.completeAuthorization(url, "sub-alex");
      },
    });
    const asked = new URL(seen);
    assert.deepEqual([asked.searchParams.get("code_challenge_method"), asked.searchParams.get("response_type"), asked.searchParams.get("scope")], ["S256", "code", "openid"]);
    assert.match(asked.searchParams.get("redirect_uri")!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    assert.ok(asked.searchParams.get("nonce") && asked.searchParams.get("state"));
    assert.deepEqual(identity, { issuer: idp.issuer, subject: "sub-alex", amr: ["pwd", "mfa"] });
  });

  test("an unknown subject is refused; so is a sign-in without MFA when the operator requires it; an accepted acr counts", async () => {
    await assert.rejects(openSession(await open(), { kind: "oidc", identity: await deviceSignIn("sub-stranger") }), refusedWith("AUTH_FAILED", "unknown-subject"));
    await assert.rejects(openSession(await open(), { kind: "oidc", identity: await deviceSignIn("sub-blake") }), refusedWith("AUTH_FAILED", "mfa-required"));
    const casey = await openSession(await open(), { kind: "oidc", identity: await deviceSignIn("sub-casey") });
    assert.equal(casey.session.origin, `oidc:${idp.issuer}#sub-casey amr=pwd acr=urn:acme:loa:high`);
  });

  test("a denied device sign-in, and one nobody completes, are AUTH_FAILED; the second within its bound", async () => {
    await assert.rejects(deviceSignIn("sub-alex", { deny: true }), refusedWith("AUTH_FAILED", "access_denied"));
    const started = Date.now();
    await assert.rejects(deviceSignIn("sub-alex", { timeoutMs: 1_500 }), refusedWith("AUTH_FAILED", "timeout"));
    assert.ok(Date.now() - started < 5_000);
  });

  test("an ID token whose signature does not verify under the provider's published keys is refused", async () => {
    const forged = await startOidcProvider({ "sub-alex": { amr: ["pwd", "mfa"] } }, { publishWrongKey: true });
    try {
      await assert.rejects(
        oidcSignIn({ issuer: forged.issuer, clientId: forged.clientId, flow: "device-code", allowHttpLoopback: true, onUserCode: (p) => void forged.approveDevice(p.userCode, "sub-alex") }),
        (e: unknown) => e instanceof TrustlineError && e.code === "AUTH_FAILED" && !/eyJ/.test(e.message),
      );
    } finally {
      await forged.close();
    }
  });

  test("an http issuer off loopback is USAGE; an unreachable one is REMOTE_UNAVAILABLE", async () => {
    await assert.rejects(oidcSignIn({ issuer: "http://login.example.test", clientId: "x", flow: "device-code", allowHttpLoopback: true }), refusedWith("USAGE"));
    await assert.rejects(oidcSignIn({ issuer: "http://127.0.0.1:9", clientId: "x", flow: "device-code", allowHttpLoopback: true, timeoutMs: 5_000 }), refusedWith("REMOTE_UNAVAILABLE"));
  });
});

describe("trustline login --oidc (device-code flow), as a line PC runs it", { timeout: 120_000 }, () => {
  const t = tempDir();
  let idp: LoopbackProvider;
  let h: TestHome;
  before(async () => {
    idp = await startOidcProvider({ "sub-dana": { amr: ["pwd", "otp", "mfa"] } });
    h = initCliHome(t.dir);
    expectOk(runCli([...h.g, "operator", "add", "dana", "--role", "issuer", "--oidc-issuer", idp.issuer, "--oidc-subject", "sub-dana", "--oidc-client-id", idp.clientId]));
  });
  after(async () => {
    await idp.close();
    t.cleanup();
  });

  test("the code is shown on stderr; once approved, the session file is written and issuing works under it", async () => {
    const sessionFile = join(t.dir, "dana.session");
    const child = spawn(process.execPath, [CLI, ...h.g, "--operator", "dana", "--station", "line-9", "--json", "login", "--oidc", "--session-file", sessionFile], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: STATE_HOME }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
    // Play the person: read the code off the terminal, approve it at the provider.
    const code = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no user code within 20 s:\n${stderr}`)), 20_000);
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        stderr += s;
        const m = /enter the code ([A-Z-]{8,})/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    assert.match(stderr, new RegExp(`open ${idp.issuer.replace(/[.:/]/g, "\\$&")}/device`));
    await idp.approveDevice(code, "sub-dana");
    assert.equal(await exited, 0, stderr);
    const { session } = JSON.parse(stdout);
    assert.deepEqual([session.operator, session.station, session.origin], ["dana", "line-9", `oidc:${idp.issuer}#sub-dana amr=pwd,otp,mfa`]);
    assert.equal(statSync(sessionFile).mode & 0o777, 0o600);
    const issued = runCli([...h.g, "--session-file", sessionFile, "--json", "issue", "device", "--generate", "dev-dana", "--out-dir", join(t.dir, "dana")]);
    expectOk(issued);
    assert.deepEqual([json(issued).operator, json(issued).session, json(issued).origin], ["dana", session.id, session.origin]);
  });

  test("login --oidc for an operator who does not sign in that way is a usage error", () => {
    expectError(runCli([...h.g, "--operator", "alice", "--json", "login", "--oidc"]), 2, "USAGE");
  });
});
