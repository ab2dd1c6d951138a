/**
 * Stations and the EST server's TLS certificate (the `station` and `tls-server` profiles,
 * certificate-policy.md §7.1.10 and §7.1.11): real certificates, judged by OpenSSL (and GnuTLS
 * where installed), and every refusal identifyStation can give.
 */
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  addOperator,
  type AuditEntry,
  addStation,
  disableStation,
  enableStation,
  exportCa,
  generateDeviceCertificate,
  Home,
  identifyStation,
  isTrustlineError,
  issueTlsCertificate,
  listStations,
  readAuditLog,
  revokeCertificate,
  tlsServerIdentity,
  TrustlineError,
} from "../../ca/index.js";
import { FIXED_NOW, fixedClock, makeHome, openssl, PASSPHRASE, reopen, tempDir } from "../helpers/pki.js";
import { GNUTLS_MISSING, gnutls } from "../interop/gnutls.js";

async function audit(home: Home): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditLog(home)) out.push(e);
  return out;
}

const der = (pem: string) => new Uint8Array(new X509Certificate(pem).raw);

async function rejects(p: Promise<unknown>, code: string): Promise<TrustlineError> {
  try {
    await p;
  } catch (e) {
    assert.ok(isTrustlineError(e), `not a TrustlineError: ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

function opensslText(pem: string, dir: string, name: string): string {
  const file = join(dir, `${name}.pem`);
  writeFileSync(file, pem);
  const r = openssl(["x509", "-in", file, "-noout", "-text"]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe("the station profile: addStation, listStations, disable/enable, identifyStation", { timeout: 120_000 }, () => {
  const t = tempDir("trustline-stations-");
  let home: Home;
  before(async () => {
    home = await makeHome(t.dir);
  });
  after(async () => {
    await home.close();
    t.cleanup();
  });

  test("a station certificate: CN = name, O = organisation, clientAuth only, digitalSignature, CRL DP and AIA, from the device CA; OpenSSL verifies it as sslclient", async () => {
    const added = await addStation(home, "line-7");
    assert.deepEqual(added.station, {
      name: "line-7",
      status: "active",
      ca: "device",
      serial: added.station.serial,
      notAfter: new Date(FIXED_NOW.getTime() + 397 * 86_400_000).toISOString(),
      createdAt: FIXED_NOW.toISOString(),
      createdBy: "alice",
    });
    assert.equal(added.chainPem.length, 2, "device CA and root");
    assert.equal(added.chainPem[1], await exportCa(home, "root"));
    assert.equal(added.chainPem[0], await exportCa(home, "device"));
    // The key is the certificate's, and is not anywhere in the home.
    const key = createPrivateKey(added.privateKeyPem);
    const cert = new X509Certificate(added.certificatePem);
    assert.ok(cert.checkPrivateKey(key));
    const sig = sign("sha256", Buffer.from("x"), key);
    assert.ok(verify("sha256", Buffer.from("x"), createPublicKey(cert.publicKey.export({ type: "spki", format: "pem" })), sig));
    assert.deepEqual(readdirSync(join(home.dir, "keys")).filter((f) => f.includes("line-7")), []);

    const text = opensslText(added.certificatePem, t.dir, "line-7");
    assert.match(text, /Subject: O ?= ?Acme Devices, CN ?= ?line-7\n/);
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:8080\/crl\/device\.crl|URI:.*\/crl\/device\.crl/);
    assert.match(text, /OCSP - URI:.*\/ocsp\/device\n/);
    assert.doesNotMatch(text, /Subject Alternative Name|Certificate Policies/);
    assert.match(text, /ASN1 OID: prime256v1/);

    writeFileSync(join(t.dir, "chain.pem"), added.chainPem[0]!);
    writeFileSync(join(t.dir, "root.pem"), added.chainPem[1]!);
    const at = String(Math.floor(FIXED_NOW.getTime() / 1000) + 60);
    const client = openssl(["verify", "-attime", at, "-x509_strict", "-purpose", "sslclient", "-CAfile", join(t.dir, "root.pem"), "-untrusted", join(t.dir, "chain.pem"), join(t.dir, "line-7.pem")]);
    assert.equal(client.status, 0, client.stdout + client.stderr);
    const server = openssl(["verify", "-attime", at, "-purpose", "sslserver", "-CAfile", join(t.dir, "root.pem"), "-untrusted", join(t.dir, "chain.pem"), join(t.dir, "line-7.pem")]);
    assert.notEqual(server.status, 0, "a station certificate is no server certificate");
    assert.match(server.stdout + server.stderr, /unsuitable certificate purpose/);

    const added_ = (await audit(home)).filter((e) => e.action === "station.add");
    assert.equal(added_.length, 1);
    assert.deepEqual([added_[0]!.operator, added_[0]!.serial, added_[0]!.profile, added_[0]!.details], ["alice", added.station.serial, "station", { station: "line-7", replaced: null, notAfter: added.station.notAfter }]);
    const identified = await identifyStation(home, der(added.certificatePem), new Date(FIXED_NOW.getTime() + 1000));
    assert.deepEqual(identified, { ok: true, station: added.station });
  });

  test("GnuTLS certtool -i prints the station certificate without a warning", { skip: GNUTLS_MISSING }, async () => {
    const added = await addStation(home, "gnutls-station");
    writeFileSync(join(t.dir, "gnutls-station.pem"), added.certificatePem);
    const r = gnutls("certtool", ["-i", "--infile", join(t.dir, "gnutls-station.pem")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.doesNotMatch(r.stdout, /error|warning/i);
    assert.match(r.stdout, /TLS WWW Client\./);
  });

  test("an active name is ALREADY_EXISTS; replace gives a new serial, and the old certificate is superseded", async () => {
    const first = await addStation(home, "line-8", { algorithm: "p384", days: 30 });
    assert.match(opensslText(first.certificatePem, t.dir, "line-8-a"), /ASN1 OID: secp384r1/);
    const e = await rejects(addStation(home, "line-8"), "ALREADY_EXISTS");
    assert.deepEqual(e.details, { station: "line-8", serial: first.station.serial });
    const second = await addStation(home, "line-8", { replace: true });
    assert.notEqual(second.station.serial, first.station.serial);
    assert.equal(listStations(home).find((s) => s.name === "line-8")!.serial, second.station.serial);
    const now = new Date(FIXED_NOW.getTime() + 1000);
    assert.deepEqual(await identifyStation(home, der(first.certificatePem), now), { ok: false, reason: "superseded", station: "line-8" });
    assert.equal((await identifyStation(home, der(second.certificatePem), now)).ok, true);
    const replaced = (await audit(home)).filter((x) => x.action === "station.add").at(-1)!;
    assert.equal((replaced.details as { replaced: string }).replaced, first.station.serial);
  });

  test("disable → \"disabled\" (audited), enable → accepted again; an unknown name is NOT_FOUND", async () => {
    const added = await addStation(home, "line-9");
    const now = new Date(FIXED_NOW.getTime() + 1000);
    const disabled = await disableStation(home, "line-9");
    assert.deepEqual(disabled, { ...added.station, status: "disabled", disabledAt: FIXED_NOW.toISOString(), disabledBy: "alice" });
    assert.deepEqual(await identifyStation(home, der(added.certificatePem), now), { ok: false, reason: "disabled", station: "line-9" });
    // Another Home object reads the same state from the file.
    const other = await reopen(home);
    assert.deepEqual(await identifyStation(other, der(added.certificatePem), now), { ok: false, reason: "disabled", station: "line-9" });
    await other.close();
    const enabled = await enableStation(home, "line-9");
    assert.deepEqual(enabled, added.station);
    assert.equal((await identifyStation(home, der(added.certificatePem), now)).ok, true);
    const actions = (await audit(home)).slice(-2).map((x) => [x.action, x.serial, x.details]);
    assert.deepEqual(actions, [
      ["station.disable", added.station.serial, { station: "line-9", changed: true }],
      ["station.enable", added.station.serial, { station: "line-9", changed: true }],
    ]);
    const e = await rejects(disableStation(home, "no-such-station"), "NOT_FOUND");
    assert.deepEqual(e.details, { station: "no-such-station" });
    await rejects(enableStation(home, "no-such-station"), "NOT_FOUND");
  });

  test("revoked → \"revoked\" (the revocation log is followed by the same Home)", async () => {
    const added = await addStation(home, "line-10");
    const now = new Date(FIXED_NOW.getTime() + 1000);
    assert.equal((await identifyStation(home, der(added.certificatePem), now)).ok, true);
    await revokeCertificate(home, added.station.serial, { reason: "keyCompromise" });
    assert.deepEqual(await identifyStation(home, der(added.certificatePem), now), { ok: false, reason: "revoked", station: "line-10" });
  });

  test("expired at `now` → \"expired\" (and not yet valid too)", async () => {
    const added = await addStation(home, "line-11", { days: 1 });
    assert.deepEqual(await identifyStation(home, der(added.certificatePem), new Date(FIXED_NOW.getTime() + 86_400_000)), { ok: false, reason: "expired", station: "line-11" });
    assert.deepEqual(await identifyStation(home, der(added.certificatePem), new Date(FIXED_NOW.getTime() - 1000)), { ok: false, reason: "expired", station: "line-11" });
    assert.equal((await identifyStation(home, der(added.certificatePem), new Date(FIXED_NOW.getTime() + 86_399_000))).ok, true);
  });

  test("a device certificate → \"not-a-station\"; a station certificate of another home → \"unknown-station\"", async () => {
    const device = await generateDeviceCertificate(home, "dev-0001");
    const now = new Date(FIXED_NOW.getTime() + 1000);
    assert.deepEqual(await identifyStation(home, device.der, now), { ok: false, reason: "not-a-station" });
    const t2 = tempDir("trustline-stations-other-");
    try {
      const otherHome = await makeHome(t2.dir);
      const foreign = await addStation(otherHome, "line-7");
      await otherHome.close();
      assert.deepEqual(await identifyStation(home, der(foreign.certificatePem), now), { ok: false, reason: "unknown-station" });
      // Same serial, other bytes: still not this home's certificate.
      const mine = listStations(home).find((s) => s.name === "line-7")!;
      assert.ok(mine);
      assert.deepEqual(await identifyStation(home, Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), now), { ok: false, reason: "unknown-station" });
    } finally {
      t2.cleanup();
    }
  });

  test("policy: a bad station name, a validity over 825 days or a wrong CA is POLICY_DENIED with each violation", async () => {
    const bad = await rejects(addStation(home, "Line_7"), "POLICY_DENIED");
    assert.deepEqual((bad.details.violations as { code: string }[]).map((v) => v.code), ["NAME_INVALID"]);
    assert.match(bad.message, /station name "Line_7" must be lowercase letters, digits, - and \. only/);
    const both = await rejects(addStation(home, "-x", { days: 826, ca: "firmware" }), "POLICY_DENIED");
    assert.deepEqual((both.details.violations as { code: string }[]).map((v) => v.code), ["ISSUER_NOT_ALLOWED", "NAME_INVALID", "VALIDITY_INVALID"]);
    const rsa2048 = await rejects(addStation(home, "line-12", { algorithm: "rsa2048" }), "POLICY_DENIED");
    assert.deepEqual((rsa2048.details.violations as { code: string }[]).map((v) => v.code), ["KEY_NOT_ALLOWED"]);
    assert.equal(listStations(home).some((s) => s.name === "line-12" || s.name === "-x"), false);
  });
});

describe("the tls-server profile: issueTlsCertificate and tlsServerIdentity", { timeout: 120_000 }, () => {
  const t = tempDir("trustline-tls-server-");
  let home: Home;
  before(async () => {
    home = await makeHome(t.dir);
    writeFileSync(join(t.dir, "root.pem"), await exportCa(home, "root"));
    writeFileSync(join(t.dir, "device-ca.pem"), await exportCa(home, "device"));
  });
  after(async () => {
    await home.close();
    t.cleanup();
  });
  const at = String(Math.floor(FIXED_NOW.getTime() / 1000) + 60);
  const verifyArgs = (file: string) => ["verify", "-attime", at, "-x509_strict", "-CAfile", join(t.dir, "root.pem"), "-untrusted", join(t.dir, "device-ca.pem"), file];

  test("hosts become dNSName and iPAddress entries (4 and 16 octets), CN = first host; OpenSSL verifies it as sslserver for each host, not another", async () => {
    const hosts = ["est.line7.acme.example", "EST-2.acme.example", "10.0.7.1", "fd00::7:1", "::ffff:192.0.2.1"];
    const { record, chainPem } = await issueTlsCertificate(home, { hosts });
    assert.deepEqual(record.hosts, ["est.line7.acme.example", "est-2.acme.example", "10.0.7.1", "fd00::7:1", "::ffff:192.0.2.1"]);
    assert.equal(record.ca, "device");
    assert.equal(record.keyAlgorithm, "p256");
    assert.match(record.keyUri, /^file:keys\/tls-server-[a-z0-9]+-[0-9a-f]{6}\.key\.pem$/);
    assert.equal(record.notAfter, new Date(FIXED_NOW.getTime() + 397 * 86_400_000).toISOString());
    assert.deepEqual(chainPem, [await exportCa(home, "device"), await exportCa(home, "root")]);
    assert.deepEqual(home.state.tlsServer, record);

    const text = opensslText(record.certificate, t.dir, "tls");
    assert.match(text, /Subject: O ?= ?Acme Devices, CN ?= ?est\.line7\.acme\.example\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature\n/);
    assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication\n/);
    assert.match(text, /X509v3 Subject Alternative Name: \n\s+DNS:est\.line7\.acme\.example, DNS:est-2\.acme\.example, IP Address:10\.0\.7\.1, IP Address:FD00:0:0:0:0:0:7:1, IP Address:0:0:0:0:0:FFFF:C000:201\n/);
    // The exact octets: iPAddress [7] with 4 and 16 octets.
    const raw = Buffer.from(der(record.certificate));
    assert.ok(raw.includes(Buffer.from("87040a000701", "hex")));
    assert.ok(raw.includes(Buffer.from("8710fd000000000000000000000000070001", "hex")));
    assert.ok(raw.includes(Buffer.from("871000000000000000000000ffffc0000201", "hex")));

    const file = join(t.dir, "tls.pem");
    const server = openssl([...verifyArgs(file).slice(0, -1), "-purpose", "sslserver", "-verify_hostname", "est-2.acme.example", file]);
    assert.equal(server.status, 0, server.stdout + server.stderr);
    const ip = openssl([...verifyArgs(file).slice(0, -1), "-purpose", "sslserver", "-verify_ip", "10.0.7.1", file]);
    assert.equal(ip.status, 0, ip.stdout + ip.stderr);
    const otherHost = openssl([...verifyArgs(file).slice(0, -1), "-purpose", "sslserver", "-verify_hostname", "evil.acme.example", file]);
    assert.notEqual(otherHost.status, 0);
    assert.match(otherHost.stdout + otherHost.stderr, /hostname mismatch/);
    const client = openssl([...verifyArgs(file).slice(0, -1), "-purpose", "sslclient", file]);
    assert.notEqual(client.status, 0);
    assert.match(client.stdout + client.stderr, /unsuitable certificate purpose/);

    const issued = (await audit(home)).filter((e) => e.action === "tls.issue");
    assert.deepEqual(issued.map((e) => [e.operator, e.serial, e.profile, e.details]), [["alice", record.serial, "tls-server", { hosts: record.hosts, keyUri: record.keyUri, replaced: null, notAfter: record.notAfter }]]);
  });

  test("GnuTLS certtool -i prints the TLS certificate without a warning", { skip: GNUTLS_MISSING }, () => {
    const r = gnutls("certtool", ["-i", "--infile", join(t.dir, "tls.pem")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.doesNotMatch(r.stdout, /error|warning/i);
    assert.match(r.stdout, /DNSname: est-2\.acme\.example/);
    assert.match(r.stdout, /IPAddress: 10\.0\.7\.1/);
  });

  test("the key is an encrypted file key in the home (never plain), and tlsServerIdentity decrypts it in memory", async () => {
    const record = home.state.tlsServer!;
    const keyFile = join(home.dir, record.keyUri.slice("file:".length));
    const text = readFileSync(keyFile, "utf8");
    assert.match(text, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    assert.doesNotMatch(text, /BEGIN PRIVATE KEY|BEGIN EC PRIVATE KEY/);
    const identity = await tlsServerIdentity(home);
    assert.equal(identity.certificatePem, record.certificate);
    assert.equal(identity.chainPem.length, 2);
    assert.ok(new X509Certificate(record.certificate).checkPrivateKey(identity.key));
    // A Home opened with the wrong passphrase cannot have it.
    const wrong = await Home.open({ home: home.dir, passphrase: async () => "wrong passphrase", clock: fixedClock });
    const e = await rejects(tlsServerIdentity(wrong), "KEY_UNAVAILABLE");
    assert.equal(e.details.reason, "wrong-passphrase");
    await wrong.close();
  });

  test("issuing again replaces it: the newest wins, with a new key", async () => {
    const before = home.state.tlsServer!;
    const { record } = await issueTlsCertificate(home, { hosts: ["est.acme.example"], days: 90 });
    assert.notEqual(record.serial, before.serial);
    assert.notEqual(record.keyUri, before.keyUri);
    assert.deepEqual(home.state.tlsServer, record);
    const identity = await tlsServerIdentity(home);
    assert.ok(new X509Certificate(identity.certificatePem).checkPrivateKey(identity.key));
    assert.equal(((await audit(home)).filter((e) => e.action === "tls.issue").at(-1)!.details as { replaced: string }).replaced, before.serial);
  });

  test("policy: bad hosts, too many hosts, no host, a wrong key or too long a validity are POLICY_DENIED with every violation; no key file is left", async () => {
    const keysBefore = readdirSync(join(home.dir, "keys")).sort();
    const bad = await rejects(issueTlsCertificate(home, { hosts: ["*.acme.example", "under_score.example", "a..b", "1.2.3.256", "[::1]", "fe80::1%eth0", "host.", "example.123", "-lead.example"] }), "POLICY_DENIED");
    assert.deepEqual(
      (bad.details.violations as { code: string; message: string }[]).map((v) => v.message),
      [
        'the host "*.acme.example" is a wildcard; a tls-server certificate names each host',
        'the host name "under_score.example" is not a DNS host name: each label is 1 to 63 letters, digits and -, not starting or ending with - (label "under_score")',
        'the host name "a..b" is not a DNS host name: each label is 1 to 63 letters, digits and -, not starting or ending with - (label "")',
        'the host "1.2.3.256" is not an IP address literal (IPv4 a.b.c.d without leading zeros, or IPv6 without brackets or a zone)',
        'the host "[::1]" is not an IP address literal (IPv4 a.b.c.d without leading zeros, or IPv6 without brackets or a zone)',
        'the host "fe80::1%eth0" is not an IP address literal (IPv4 a.b.c.d without leading zeros, or IPv6 without brackets or a zone)',
        'the host name "host." ends with a dot; give it without the trailing dot',
        'the host name "example.123" ends in an all-numeric label; a DNS host name does not (an IP address is written a.b.c.d)',
        'the host name "-lead.example" is not a DNS host name: each label is 1 to 63 letters, digits and -, not starting or ending with - (label "-lead")',
      ],
    );
    const many = await rejects(issueTlsCertificate(home, { hosts: Array.from({ length: 17 }, (_, i) => `h${i}.acme.example`) }), "POLICY_DENIED");
    assert.deepEqual((many.details.violations as { message: string }[]).map((v) => v.message), ["17 hosts requested; a TLS server certificate names at most 16"]);
    const none = await rejects(issueTlsCertificate(home, { hosts: [] }), "POLICY_DENIED");
    assert.deepEqual((none.details.violations as { message: string }[]).map((v) => v.message), ["a TLS server certificate names at least one host (a DNS name or an IP address)"]);
    const twice = await rejects(issueTlsCertificate(home, { hosts: ["a.example", "A.example"] }), "POLICY_DENIED");
    assert.deepEqual((twice.details.violations as { message: string }[]).map((v) => v.message), ['the host "A.example" is named twice']);
    const longDays = await rejects(issueTlsCertificate(home, { hosts: ["a.example"], days: 398 }), "POLICY_DENIED");
    assert.deepEqual((longDays.details.violations as { code: string }[]).map((v) => v.code), ["VALIDITY_INVALID"]);
    const wrongCa = await rejects(issueTlsCertificate(home, { hosts: ["a.example"], ca: "firmware" }), "POLICY_DENIED");
    assert.deepEqual((wrongCa.details.violations as { code: string }[]).map((v) => v.code), ["ISSUER_NOT_ALLOWED"]);
    assert.deepEqual(readdirSync(join(home.dir, "keys")).sort(), keysBefore, "a refused request leaves no key file");
    const rejected = (await audit(home)).filter((e) => e.action === "certificate.reject" && e.profile === "tls-server");
    assert.equal(rejected.length, 6);
  });
});

describe("station.manage is an admin's: an issuer is FORBIDDEN, audited, nothing changes", { timeout: 120_000 }, () => {
  const t = tempDir("trustline-stations-roles-");
  let admin: Home;
  let issuer: Home;
  before(async () => {
    admin = await makeHome(t.dir);
    const token = (await addOperator(admin, { id: "ivan", roles: ["issuer"], authenticator: { kind: "service" } })).token!;
    issuer = await Home.open({ home: admin.dir, passphrase: async () => PASSPHRASE, clock: fixedClock, operator: "ivan", credential: { kind: "service-token", token } });
  });
  after(async () => {
    await issuer.close();
    await admin.close();
    t.cleanup();
  });

  test("station add, disable, enable and issue-tls: FORBIDDEN with the action; no station, no certificate, no key file", async () => {
    await addStation(admin, "line-1");
    const keysBefore = readdirSync(join(admin.dir, "keys")).sort();
    const state = JSON.stringify(await admin.refresh());
    for (const attempt of [() => addStation(issuer, "line-2"), () => disableStation(issuer, "line-1"), () => enableStation(issuer, "line-1"), () => issueTlsCertificate(issuer, { hosts: ["est.acme.example"] })]) {
      const e = await rejects(attempt(), "FORBIDDEN");
      assert.equal(e.details.action, "station.manage");
      assert.deepEqual(e.details.needs, ["admin"]);
    }
    assert.equal(JSON.stringify(await admin.refresh()), state, "the state is unchanged");
    assert.deepEqual(readdirSync(join(admin.dir, "keys")).sort(), keysBefore);
    const forbidden = (await audit(admin)).filter((e) => e.action === "auth.forbidden");
    assert.deepEqual(forbidden.map((e) => [e.operator, e.reason]), Array.from({ length: 4 }, () => ["ivan", "station.manage"]));
    assert.equal(existsSync(join(admin.dir, "keys", "line-2.key.pem")), false);
  });
});
