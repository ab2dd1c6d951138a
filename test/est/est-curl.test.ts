/**
 * The EST service judged by clients that are not ours: curl over mutual TLS posts base64 CSRs,
 * OpenSSL reads the certs-only answers (`openssl pkcs7 -print_certs`) and verifies what they hold
 * (`openssl verify`). Every refusal the service makes is asked for here, with its status and reason.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { disableStation, enableStation, Home, issueDeviceCertificate, revokeCertificate } from "../../ca/index.js";
import { auditEntries } from "./audit-lines.js";
import { estFixture, type EstFixture, type StationFiles } from "./est-fixture.js";
import { makeHome, opensslCsr, PASSPHRASE, reopen, tempDir } from "../helpers/pki.js";
import { addStation } from "../../ca/stations/stations.js";

interface CurlAnswer {
  readonly status: number;
  readonly body: string;
  readonly headers: string;
}

/** curl with the station's (or device's) certificate; the body from a file. (Asynchronous: the server answers from this process.) */
async function curl(f: EstFixture, path: string, options: { client?: { cert: string; key: string }; token?: string; body?: string; type?: string; method?: string; url?: string } = {}): Promise<CurlAnswer> {
  const headersFile = join(f.dir, `headers-${Math.random().toString(36).slice(2)}.txt`);
  const args = ["-sS", "--cacert", f.rootFile, "-D", headersFile, "-o", "-", "-w", "\n%{http_code}"];
  if (options.client) args.push("--cert", options.client.cert, "--key", options.client.key);
  if (options.token) args.push("-H", `Authorization: Bearer ${options.token}`);
  if (options.body !== undefined) {
    const file = join(f.dir, `body-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, options.body);
    args.push("-H", `Content-Type: ${options.type ?? "application/pkcs10"}`, "--data-binary", `@${file}`);
  }
  if (options.method) args.push("-X", options.method);
  args.push(`${options.url ?? f.est.url.replace("127.0.0.1", "localhost")}${path}`);
  const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("curl", args);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
  assert.equal(r.status, 0, `curl failed: ${r.stderr}`);
  const cut = r.stdout.lastIndexOf("\n");
  return { status: Number(r.stdout.slice(cut + 1)), body: r.stdout.slice(0, cut), headers: readFileSync(headersFile, "utf8") };
}

/** base64 of a CSR's DER, made by OpenSSL. */
function csrBase64(dir: string, name: string, subject = `/CN=${name}`, keyArgs?: readonly string[]): { b64: string; keyPath: string } {
  const made = opensslCsr(dir, name, subject, keyArgs);
  const der = spawnSync("openssl", ["req", "-in", made.csrPath, "-outform", "DER"]).stdout;
  return { b64: `${der.toString("base64").replace(/(.{64})/g, "$1\n")}\n`, keyPath: made.keyPath };
}

/** The certificates of a base64 certs-only answer, as `openssl base64 -d | openssl pkcs7 -print_certs` prints them. */
function printCerts(dir: string, body: string): string {
  const b64 = join(dir, `answer-${Math.random().toString(36).slice(2)}.b64`);
  writeFileSync(b64, body);
  const der = spawnSync("openssl", ["base64", "-d", "-in", b64]);
  assert.equal(der.status, 0);
  const r = spawnSync("openssl", ["pkcs7", "-inform", "DER", "-print_certs"], { input: der.stdout, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function verify(f: EstFixture, certPem: string, purpose = "sslclient"): string {
  const file = join(f.dir, `cert-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(file, certPem);
  const r = spawnSync("openssl", ["verify", "-CAfile", f.rootFile, "-untrusted", f.deviceCaFile, "-purpose", purpose, file], { encoding: "utf8" });
  return `${r.stdout}${r.stderr}`.trim();
}

const subjectOf = (pem: string) => spawnSync("openssl", ["x509", "-noout", "-subject", "-nameopt", "RFC2253"], { input: pem, encoding: "utf8" }).stdout.trim();
const serialOf = (pem: string) => spawnSync("openssl", ["x509", "-noout", "-serial"], { input: pem, encoding: "utf8" }).stdout.trim().replace(/^serial=/, "").toLowerCase();

describe("EST over mutual TLS, judged by curl and OpenSSL", () => {
  const { dir, cleanup } = tempDir("trustline-est-");
  let f: EstFixture;
  let line7: StationFiles;
  let shift: { operator: string; token: string; id: string };

  before(async () => {
    f = await estFixture(dir);
    line7 = await f.station("line-7");
    shift = await f.session("line-7");
  });
  after(async () => {
    await f.close();
    cleanup();
  });

  test("simpleenroll: a base64 CSR in, a certs-only CMS out whose certificate OpenSSL verifies; traced to the operator, the station and the service", async () => {
    const csr = csrBase64(dir, "dev-0001");
    const r = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: csr.b64 });
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers, /^content-type: application\/pkcs7-mime; smime-type=certs-only\r$/im);
    const pem = printCerts(dir, r.body);
    assert.equal(pem.match(/BEGIN CERTIFICATE/g)?.length, 1);
    assert.equal(subjectOf(pem), "subject=CN=dev-0001");
    assert.match(verify(f, pem), /: OK$/);
    const record = (await f.admin.inventory.getCertificate(serialOf(pem)))!;
    assert.deepEqual(
      { operator: record.operator, station: record.station, session: record.session, origin: record.origin, via: record.via, profile: record.profile, ca: record.ca },
      { operator: shift.operator, station: "line-7", session: shift.id, origin: "totp", via: "est", profile: "device", ca: "device" },
    );
    const issued = (await auditEntries(f.admin)).find((e) => e.action === "certificate.issue" && e.serial === record.serial)!;
    assert.equal(issued.operator, shift.operator);
    assert.equal(issued.station, "line-7");
    assert.deepEqual(issued.details, { via: "est" });
  });

  test("cacerts: the issuing CA and the root, without a client certificate; with a CA label; an unknown label is 404", async () => {
    const r = await curl(f, "/.well-known/est/cacerts");
    assert.equal(r.status, 200);
    const pem = printCerts(dir, r.body);
    assert.deepEqual(
      [...pem.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]),
      ["O = Acme Devices, CN = Acme Devices device CA", "O = Acme Devices, CN = Acme Devices root CA"],
    );
    assert.equal((await curl(f, "/.well-known/est/device/cacerts")).body, r.body);
    const unknown = await curl(f, "/.well-known/est/nope/cacerts");
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /no device CA "nope"/);
  });

  test("csrattrs: application/csrattrs, a DER SEQUENCE naming ecdsa-with-SHA256 and a P-256 key", async () => {
    const r = await curl(f, "/.well-known/est/csrattrs");
    assert.equal(r.status, 200);
    assert.match(r.headers, /^content-type: application\/csrattrs\r$/im);
    const parsed = spawnSync("openssl", ["asn1parse", "-inform", "DER"], { input: Buffer.from(r.body, "base64"), encoding: "utf8" }).stdout;
    assert.match(parsed, /ecdsa-with-SHA256/);
    assert.match(parsed, /id-ecPublicKey/);
    assert.match(parsed, /prime256v1/);
  });

  test("simplereenroll: a device in its renewal window renews with its own certificate; same subject and SAN, traced to the device and the old certificate", async () => {
    // Issued 25 days ago for 30 days: the last third of its life has begun.
    const issuer = await reopen(f.admin, { clock: () => new Date(Date.now() - 25 * 86_400_000) });
    const keyed = csrBase64(dir, "dev-renew");
    const old = await issueDeviceCertificate(issuer, readFileSync(join(dir, "dev-renew.csr")), { validityDays: 30 });
    await issuer.close();
    const oldFile = join(dir, "dev-renew-old.pem");
    writeFileSync(oldFile, old.pem);
    const next = csrBase64(dir, "dev-renew-next", "/CN=dev-renew");
    const r = await curl(f, "/.well-known/est/simplereenroll", { client: { cert: oldFile, key: keyed.keyPath }, body: next.b64 });
    assert.equal(r.status, 200, r.body);
    const pem = printCerts(dir, r.body);
    assert.match(verify(f, pem), /: OK$/);
    assert.equal(subjectOf(pem), "subject=CN=dev-renew");
    const san = (p: string) => spawnSync("openssl", ["x509", "-noout", "-ext", "subjectAltName"], { input: p, encoding: "utf8" }).stdout.trim();
    assert.equal(san(pem), san(old.pem));
    const record = (await f.admin.inventory.getCertificate(serialOf(pem)))!;
    assert.equal(record.renews, old.record.serial);
    assert.equal(record.operator, "device:dev-renew");
    assert.equal(record.origin, `certificate:${old.record.serial}`);
    const entry = (await auditEntries(f.admin)).find((e) => e.action === "certificate.issue" && e.serial === record.serial)!;
    assert.deepEqual(entry.details, { via: "est", renews: old.record.serial });
  });

  test("simplereenroll refusals: another subject (400), too early (403), a revoked device certificate (403)", async () => {
    const keyed = csrBase64(dir, "dev-young");
    const young = await issueDeviceCertificate(f.admin, readFileSync(join(dir, "dev-young.csr")));
    const youngFile = join(dir, "dev-young.pem");
    writeFileSync(youngFile, young.pem);
    const early = await curl(f, "/.well-known/est/simplereenroll", { client: { cert: youngFile, key: keyed.keyPath }, body: csrBase64(dir, "dev-young-2", "/CN=dev-young").b64 });
    assert.equal(early.status, 403);
    assert.match(early.body, /the renewal window opens at /);

    const issuer = await reopen(f.admin, { clock: () => new Date(Date.now() - 25 * 86_400_000) });
    const oldKey = csrBase64(dir, "dev-old");
    const old = await issueDeviceCertificate(issuer, readFileSync(join(dir, "dev-old.csr")), { validityDays: 30 });
    await issuer.close();
    const oldFile = join(dir, "dev-old.pem");
    writeFileSync(oldFile, old.pem);
    const other = await curl(f, "/.well-known/est/simplereenroll", { client: { cert: oldFile, key: oldKey.keyPath }, body: csrBase64(dir, "dev-other").b64 });
    assert.equal(other.status, 400);
    assert.match(other.body, /a renewal keeps the subject: the request names CN=dev-other, the certificate being renewed CN=dev-old/);

    await revokeCertificate(f.admin, old.record.serial, { reason: "keyCompromise" });
    await f.server.responder.poll(true);
    const revoked = await curl(f, "/.well-known/est/simplereenroll", { client: { cert: oldFile, key: oldKey.keyPath }, body: csrBase64(dir, "dev-old-2", "/CN=dev-old").b64 });
    assert.equal(revoked.status, 403);
    assert.match(revoked.body, /the certificate being renewed is revoked/);
  });

  test("no client certificate: 401 saying one is needed; a certificate from another CA: 401", async () => {
    const csr = csrBase64(dir, "dev-nocert");
    const none = await curl(f, "/.well-known/est/simpleenroll", { token: shift.token, body: csr.b64 });
    assert.equal(none.status, 401);
    assert.match(none.body, /a client certificate is required/);
    assert.match(none.headers, /^www-authenticate: Bearer realm="trustline-est"\r$/im);

    const { dir: otherDir, cleanup: otherCleanup } = tempDir();
    try {
      const other = await makeHome(otherDir);
      const foreign = await addStation(other, "line-7");
      await other.close();
      writeFileSync(join(dir, "foreign.pem"), foreign.certificatePem);
      writeFileSync(join(dir, "foreign.key"), foreign.privateKeyPem, { mode: 0o600 });
      const r = await curl(f, "/.well-known/est/simpleenroll", { client: { cert: join(dir, "foreign.pem"), key: join(dir, "foreign.key") }, token: shift.token, body: csr.b64 });
      assert.equal(r.status, 401);
      assert.match(r.body, /does not chain to this CA home's root/);
    } finally {
      otherCleanup();
    }
  });

  test("a device certificate is not a station (401); a disabled station (403) until enabled; a revoked station (403), audited", async () => {
    const keyed = csrBase64(dir, "dev-as-station");
    const device = await issueDeviceCertificate(f.admin, readFileSync(join(dir, "dev-as-station.csr")));
    writeFileSync(join(dir, "dev-as-station.pem"), device.pem);
    const csr = csrBase64(dir, "dev-x");
    const notStation = await curl(f, "/.well-known/est/simpleenroll", { client: { cert: join(dir, "dev-as-station.pem"), key: keyed.keyPath }, token: shift.token, body: csr.b64 });
    assert.equal(notStation.status, 401);
    assert.match(notStation.body, /not a station certificate/);

    const line8 = await f.station("line-8");
    const shift8 = await f.session("line-8");
    assert.equal((await curl(f, "/.well-known/est/simpleenroll", { client: line8, token: shift8.token, body: csr.b64 })).status, 200);
    // The service re-reads the state every second: the change shows within a second or two, even on a busy machine.
    const within = async (seconds: number, ask: () => Promise<CurlAnswer>, until: (a: CurlAnswer) => boolean): Promise<CurlAnswer> => {
      const deadline = Date.now() + seconds * 1000;
      for (;;) {
        const answer = await ask();
        if (until(answer) || Date.now() > deadline) return answer;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await disableStation(f.admin, "line-8");
    const started = Date.now();
    const disabled = await within(5, () => curl(f, "/.well-known/est/simpleenroll", { client: line8, token: shift8.token, body: csrBase64(dir, "dev-y").b64 }), (a) => a.status !== 200);
    assert.equal(disabled.status, 403);
    assert.match(disabled.body, /the station is disabled/);
    assert.ok(Date.now() - started < 3_000, "refused within about a second");
    await enableStation(f.admin, "line-8");
    const enabled = await within(5, () => curl(f, "/.well-known/est/simpleenroll", { client: line8, token: shift8.token, body: csrBase64(dir, "dev-z").b64 }), (a) => a.status === 200);
    assert.equal(enabled.status, 200);

    await revokeCertificate(f.admin, line8.serial, { reason: "keyCompromise" });
    await f.server.responder.poll(true);
    await new Promise((r) => setTimeout(r, 300));
    const revoked = await curl(f, "/.well-known/est/simpleenroll", { client: line8, token: shift8.token, body: csrBase64(dir, "dev-w").b64 });
    assert.equal(revoked.status, 403);
    assert.match(revoked.body, /revoked/);
    const refusals = (await auditEntries(f.admin)).filter((e) => e.action === "auth.fail" && e.station === "line-8").map((e) => e.reason);
    assert.deepEqual(refusals, ["station-disabled", "station-revoked"]);
  });

  test("the operator's session: missing (401), expired (401), opened at another station (401), a role that may not issue (403)", async () => {
    const csr = csrBase64(dir, "dev-session");
    const missing = await curl(f, "/.well-known/est/simpleenroll", { client: line7, body: csr.b64 });
    assert.equal(missing.status, 401);
    assert.match(missing.body, /an operator's shift session is required/);

    const stale = await f.session("line-7", ["issuer"], { at: new Date(Date.now() - 3 * 3_600_000), ttlMs: 3_600_000 });
    const expired = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: stale.token, body: csr.b64 });
    assert.equal(expired.status, 401);
    assert.match(expired.body, /the session has expired/);

    const elsewhere = await f.session("line-9");
    const wrong = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: elsewhere.token, body: csr.b64 });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /the session was opened at another station/);

    const auditor = await f.session("line-7", ["auditor"]);
    const forbidden = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: auditor.token, body: csr.b64 });
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /may not issue\.device: it needs the issuer role/);
    const reasons = (await auditEntries(f.admin)).filter((e) => (e.action === "auth.fail" || e.action === "auth.forbidden") && [stale.operator, elsewhere.operator, auditor.operator].includes(e.operator)).map((e) => e.reason);
    assert.deepEqual(reasons, ["expired-session", "wrong-station", "issue.device"]);
  });

  test("a session opened just after the server re-read the state is honoured at once", async () => {
    // A token naming a session the server has not seen makes it re-read the state. Each round: a
    // token for an unknown session (its answer comes after that re-read), then a session opened by
    // another process and used at once. The server must read the state again, not trust the
    // re-read it has just made, nor join one begun before the session was written.
    const line10 = await f.station("line-10");
    const unknown = `tl-session.nosuch.${"A".repeat(43)}`;
    for (let round = 0; round < 12; round++) {
      const csr = csrBase64(dir, `dev-fresh-${round}`).b64;
      const opened = await f.session("line-10", ["issuer"], {
        beforeOpen: async () => assert.equal((await curl(f, "/.well-known/est/simpleenroll", { client: line10, token: unknown, body: "AA==" })).status, 401),
      });
      const answer = await curl(f, "/.well-known/est/simpleenroll", { client: line10, token: opened.token, body: csr });
      assert.equal(answer.status, 200, `round ${round}: ${answer.body}`);
    }
    // The unknown token's refusals name nobody (not the server's OS user), at the station that sent them.
    const unknownFails = (await auditEntries(f.admin)).filter((e) => e.action === "auth.fail" && e.reason === "unknown-session");
    assert.ok(unknownFails.length >= 1);
    assert.deepEqual([...new Set(unknownFails.map((e) => `${e.operator} ${e.station} ${e.session}`))], ["unknown line-10 nosuch"]);
  });

  test("a station added by another process just after the server re-read the state is served at once", async () => {
    const unknown = `tl-session.nosuch.${"A".repeat(43)}`;
    for (const name of ["line-11", "line-12", "line-13"]) {
      const opened = await f.session(name);
      // Make the server re-read the state now (the session is then known), then add the station elsewhere.
      assert.equal((await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: unknown, body: "AA==" })).status, 401);
      const admin = await reopen(f.admin, { clock: () => new Date() });
      const added = await addStation(admin, name);
      await admin.close();
      const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
      writeFileSync(files.cert, added.certificatePem);
      writeFileSync(files.key, added.privateKeyPem, { mode: 0o600 });
      const answer = await curl(f, "/.well-known/est/simpleenroll", { client: files, token: opened.token, body: csrBase64(dir, `dev-${name}`).b64 });
      assert.equal(answer.status, 200, `${name}: ${answer.body}`);
    }
  });

  test("bad CSRs are 400 with the reasons, audited as rejections with the same codes as the CLI", async () => {
    const good = csrBase64(dir, "dev-tamper");
    const der = Buffer.from(good.b64, "base64");
    der[der.length - 5]! ^= 0x01; // inside the signature
    const tampered = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: der.toString("base64") });
    assert.equal(tampered.status, 400);
    assert.match(tampered.body, /^CSR_INVALID: /);
    assert.match(tampered.headers, /^trustline-error: CSR_INVALID\r$/im);

    const denied = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: csrBase64(dir, "dev bad name", "/CN=dev bad name").b64 });
    assert.equal(denied.status, 400);
    assert.match(denied.body, /^POLICY_DENIED: the Device identity profile refuses this request:\n {2}- /);

    const notBase64 = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: "not base64 at all!" });
    assert.equal(notBase64.status, 400);
    assert.match(notBase64.body, /the body is not base64/);

    const wrongType = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: good.b64, type: "text/plain" });
    assert.equal(wrongType.status, 415);

    const rejections = (await auditEntries(f.admin)).filter((e) => e.action === "certificate.reject" && e.station === "line-7");
    assert.deepEqual(
      rejections.map((e) => [e.details?.code, e.details?.via, e.operator]),
      [
        ["CSR_INVALID", "est", shift.operator],
        ["POLICY_DENIED", "est", shift.operator],
      ],
    );
  });

  test("an oversized body is 413 and the connection closes; GET on simpleenroll is 405", async () => {
    const big = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: "A".repeat(40 * 1024) });
    assert.equal(big.status, 413);
    assert.match(big.body, /at most 32768 bytes/);
    const get = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, method: "GET" });
    assert.equal(get.status, 405);
    assert.match(get.headers, /^allow: POST\r$/im);
  });

  test("a station past its rate gets 429 with Retry-After", async () => {
    // One request every 20 s at most: the second one, however slow the machine, is over the rate.
    const limited = await f.startEst({ ratePerStation: 0.05, burst: 1 });
    try {
      const url = limited.url.replace("127.0.0.1", "localhost");
      const first = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: csrBase64(dir, "dev-rate-1").b64, url });
      assert.equal(first.status, 200);
      const second = await curl(f, "/.well-known/est/simpleenroll", { client: line7, token: shift.token, body: csrBase64(dir, "dev-rate-2").b64, url });
      assert.equal(second.status, 429);
      const retryAfter = Number(/^retry-after: (\d+)\r$/im.exec(second.headers)?.[1]);
      assert.ok(retryAfter >= 1 && retryAfter <= 20, `Retry-After ${retryAfter}`);
      assert.match(second.body, /too many requests from station line-7/);
    } finally {
      await limited.close();
    }
  });

  test("the audit trail stays intact through all of it", async () => {
    const { verifyAuditLog } = await import("../../ca/index.js");
    const home = await Home.open({ home: f.admin.dir, passphrase: async () => PASSPHRASE });
    try {
      const report = await verifyAuditLog(home);
      assert.equal(report.intact, true, JSON.stringify(report));
    } finally {
      await home.close();
    }
  });
});
