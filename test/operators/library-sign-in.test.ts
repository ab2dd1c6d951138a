/**
 * Sign-in through the library (the CLI is one caller): a home made before operators were enrolled
 * keeps working with a warning until its first admin is enrolled, then refuses the unsigned; a
 * shift session works until it expires; an OpenID Connect identity maps to its operator only with
 * the MFA the operator requires; the data key is what seals, and a wrong passphrase does not open it.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { addOperator, generateDeviceCertificate, Home, openSession, showCertificate, TrustlineError } from "../../ca/index.js";
import { FIXED_NOW, makeHome, PASSPHRASE, reopen, tempDir } from "../helpers/pki.js";
import { secretOf } from "../helpers/totp.js";
import { totp } from "../../ca/index.js";

const refusedWith = (code: string, reason?: string) => (e: unknown) => e instanceof TrustlineError && e.code === code && (reason === undefined || e.details.reason === reason);

describe("a home made before sign-in existed", { timeout: 60_000 }, () => {
  const t = tempDir();
  after(() => t.cleanup());

  test("writes work with a warning until the first admin is enrolled; from then on they need a signed-in operator", async () => {
    const made = await makeHome(t.dir);
    // Take it back to the shape homes had before issue 16: one unenforced operator record, no data key.
    const statePath = join(made.dir, "state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8"));
    state.operators = { alice: { id: "alice", role: "admin", createdAt: FIXED_NOW.toISOString() } };
    delete state.dataKey;
    delete state.sessions;
    writeFileSync(statePath, JSON.stringify(state));
    const warnings: string[] = [];
    const legacy = await Home.open({ home: made.dir, passphrase: async () => PASSPHRASE, clock: () => new Date(FIXED_NOW), operator: "alice", station: "line-1", warn: (m) => warnings.push(m) });
    const issued = await generateDeviceCertificate(legacy, "dev-legacy-1");
    assert.deepEqual([issued.record.operator, issued.record.origin, issued.record.session], ["alice", "unauthenticated", null]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no enrolled admin.*operator add <id> --role admin/);
    // The first enrolment turns sign-in on, so it must be an admin's.
    await assert.rejects(addOperator(legacy, { id: "ivo", roles: ["issuer"], authenticator: { kind: "totp" } }), refusedWith("USAGE"));
    const enrolled = await addOperator(legacy, { id: "hana", roles: ["admin", "issuer"], authenticator: { kind: "totp" } });
    assert.ok(enrolled.otpauthUri);
    // Now enforced: no credential is refused, a code of hana's signs in.
    const anonymous = await Home.open({ home: made.dir, passphrase: async () => PASSPHRASE, clock: () => new Date(FIXED_NOW), operator: "alice" });
    await assert.rejects(generateDeviceCertificate(anonymous, "dev-legacy-2"), refusedWith("AUTH_FAILED", "no-credential"));
    const code = totp(secretOf(enrolled.otpauthUri!), FIXED_NOW);
    const hana = await Home.open({ home: made.dir, passphrase: async () => PASSPHRASE, clock: () => new Date(FIXED_NOW), operator: "hana", station: "line-2", credential: { kind: "totp", operator: "hana", code } });
    const second = await generateDeviceCertificate(hana, "dev-legacy-3");
    assert.deepEqual([second.record.operator, second.record.station, second.record.origin], ["hana", "line-2", "totp"]);
    // The record made before enrolment still reads.
    assert.equal((await showCertificate(hana, { serial: issued.record.serial })).origin, "unauthenticated");
  });
});

describe("shift sessions and OpenID Connect identities", { timeout: 60_000 }, () => {
  const t = tempDir();
  let home: Home;
  let ivyUri: string;
  const ISSUER = "https://login.example.test/tenant/v2.0";
  before(async () => {
    home = await makeHome(t.dir);
    ivyUri = (await addOperator(home, { id: "ivy", roles: ["issuer"], authenticator: { kind: "totp" } })).otpauthUri!;
    await addOperator(home, { id: "jo", roles: ["issuer"], authenticator: { kind: "oidc", issuer: ISSUER, subject: "sub-jo", clientId: "trustline" } });
    await addOperator(home, { id: "kim", roles: ["issuer"], authenticator: { kind: "oidc", issuer: ISSUER, subject: "sub-kim", clientId: "trustline", requireMfa: false } });
    await addOperator(home, { id: "lee", roles: ["issuer"], authenticator: { kind: "oidc", issuer: ISSUER, subject: "sub-lee", clientId: "trustline", acr: ["urn:acme:loa:high"] } });
  });
  after(() => t.cleanup());

  const at = (ms: number) => () => new Date(FIXED_NOW.getTime() + ms);
  const open = (clock: () => Date, extra: Partial<Parameters<typeof Home.open>[0]> = {}) => Home.open({ home: home.dir, passphrase: async () => PASSPHRASE, clock, station: "line-4", ...extra });

  test("a session issues without a code until it expires, then is refused", async () => {
    const opener = await open(at(0), { operator: "ivy" });
    const { session, token } = await openSession(opener, { kind: "totp", operator: "ivy", code: totp(secretOf(ivyUri), FIXED_NOW) }, { ttlMs: 3_600_000 });
    assert.deepEqual([session.operator, session.station, session.origin, session.expiresAt], ["ivy", "line-4", "totp", new Date(FIXED_NOW.getTime() + 3_600_000).toISOString()]);
    const during = await generateDeviceCertificate(await open(at(59 * 60_000), { credential: { kind: "session", token } }), "dev-shift");
    assert.deepEqual([during.record.operator, during.record.station, during.record.session, during.record.origin], ["ivy", "line-4", session.id, "totp"]);
    await assert.rejects(generateDeviceCertificate(await open(at(60 * 60_000), { credential: { kind: "session", token } }), "dev-late"), refusedWith("AUTH_FAILED", "expired-session"));
  });

  test("an identity maps to its operator; unknown subjects and missing MFA are refused; the origin names issuer, subject and amr", async () => {
    const signIn = async (subject: string, amr: string[], acr?: string) => openSession(await open(at(0)), { kind: "oidc", identity: { issuer: ISSUER, subject, amr, ...(acr ? { acr } : {}) } });
    const jo = await signIn("sub-jo", ["pwd", "mfa"]);
    assert.deepEqual([jo.session.operator, jo.session.origin], ["jo", `oidc:${ISSUER}#sub-jo amr=pwd,mfa`]);
    const issued = await generateDeviceCertificate(await open(at(1000), { credential: { kind: "session", token: jo.token } }), "dev-oidc");
    assert.equal(issued.record.origin, `oidc:${ISSUER}#sub-jo amr=pwd,mfa`);
    await assert.rejects(signIn("sub-jo", ["pwd"]), refusedWith("AUTH_FAILED", "mfa-required"));
    await assert.rejects(signIn("sub-nobody", ["pwd", "mfa"]), refusedWith("AUTH_FAILED", "unknown-subject"));
    await assert.rejects(openSession(await open(at(0)), { kind: "oidc", identity: { issuer: "https://other.example.test", subject: "sub-jo", amr: ["mfa"] } }), refusedWith("AUTH_FAILED", "unknown-subject"));
    assert.equal((await signIn("sub-kim", ["pwd"])).session.operator, "kim", "kim's policy does not require MFA");
    assert.equal((await signIn("sub-lee", ["pwd"], "urn:acme:loa:high")).session.operator, "lee", "an acr the operator accepts counts as MFA");
    await assert.rejects(signIn("sub-lee", ["pwd"], "urn:acme:loa:low"), refusedWith("AUTH_FAILED", "mfa-required"));
  });

  test("a wrong passphrase does not open the data key: KEY_UNAVAILABLE, not a sign-in", async () => {
    const wrong = await reopen(home, { passphrase: "not the passphrase" });
    await assert.rejects(generateDeviceCertificate(wrong, "dev-wrong"), (e: unknown) => e instanceof TrustlineError && e.code === "KEY_UNAVAILABLE" && e.details.reason === "wrong-passphrase");
  });
});
