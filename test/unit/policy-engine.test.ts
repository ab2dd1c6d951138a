/** The policy engine: table-driven, one row per rule, each asserting the exact violations or template. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EKU_OIDS, evaluate, type IssuanceRequest, type IssuerFacts, PROFILES, POLICY_OIDS, type ViolationCode } from "../../policy/index.js";

const NOW = new Date("2026-03-01T12:00:00.500Z");
const deviceCa: IssuerFacts = {
  name: "device",
  profile: "device-ca",
  notBefore: new Date("2026-01-01T00:00:00Z"),
  notAfter: new Date("2036-01-01T00:00:00Z"),
  organization: "Acme Devices",
  baseUrl: "http://pki.example.test",
};
const p256 = { type: "ec", curve: "P-256" } as const;

interface Case {
  readonly name: string;
  readonly request: IssuanceRequest;
  readonly profile?: keyof typeof PROFILES;
  readonly issuer?: Partial<IssuerFacts>;
  readonly want: readonly ViolationCode[];
}

const cases: readonly Case[] = [
  { name: "valid registration id", request: { commonName: "dev-0001", publicKey: p256 }, want: [] },
  { name: "id with . _ : inside", request: { commonName: "a.b_c:d-e", publicKey: p256 }, want: [] },
  { name: "single character id", request: { commonName: "x", publicKey: p256 }, want: [] },
  { name: "64 characters", request: { commonName: "a".repeat(64), publicKey: p256 }, want: [] },
  { name: "65 characters", request: { commonName: "a".repeat(65), publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "space in id", request: { commonName: "bad id", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "starts with -", request: { commonName: "-dev", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "ends with .", request: { commonName: "dev.", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "empty id", request: { commonName: "", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "non-ASCII id", request: { commonName: "gerät-1", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "P-384 key", request: { commonName: "dev", publicKey: { type: "ec", curve: "P-384" } }, want: [] },
  { name: "P-521 key refused", request: { commonName: "dev", publicKey: { type: "ec", curve: "P-521" } }, want: ["KEY_NOT_ALLOWED"] },
  { name: "RSA-2048 allowed for devices", request: { commonName: "dev", publicKey: { type: "rsa", bits: 2048 } }, want: [] },
  { name: "RSA-1024 refused", request: { commonName: "dev", publicKey: { type: "rsa", bits: 1024 } }, want: ["KEY_NOT_ALLOWED"] },
  { name: "Ed25519 refused", request: { commonName: "dev", publicKey: { type: "other", name: "ed25519" } }, want: ["KEY_NOT_ALLOWED"] },
  { name: "validity at the cap", request: { commonName: "dev", publicKey: p256, validityDays: 7305 }, want: [] },
  { name: "validity over the cap", request: { commonName: "dev", publicKey: p256, validityDays: 7306 }, want: ["VALIDITY_INVALID"] },
  { name: "zero days", request: { commonName: "dev", publicKey: p256, validityDays: 0 }, want: ["VALIDITY_INVALID"] },
  { name: "fractional days", request: { commonName: "dev", publicKey: p256, validityDays: 1.5 }, want: ["VALIDITY_INVALID"] },
  { name: "wrong issuer kind", request: { commonName: "dev", publicKey: p256 }, issuer: { profile: "firmware-ca", name: "firmware" }, want: ["ISSUER_NOT_ALLOWED"] },
  { name: "expired issuer", request: { commonName: "dev", publicKey: p256 }, issuer: { notAfter: new Date("2026-02-01T00:00:00Z") }, want: ["ISSUER_NOT_VALID"] },
  {
    name: "every violation at once",
    request: { commonName: "bad id", publicKey: { type: "rsa", bits: 1024 }, validityDays: 99999 },
    issuer: { profile: "firmware-ca", notAfter: new Date("2026-02-01T00:00:00Z") },
    want: ["ISSUER_NOT_ALLOWED", "ISSUER_NOT_VALID", "KEY_NOT_ALLOWED", "NAME_INVALID", "VALIDITY_INVALID"],
  },
  { name: "signer name with spaces", profile: "firmware-signer", request: { commonName: "CI release pipeline", publicKey: p256 }, issuer: { profile: "firmware-ca", name: "firmware" }, want: [] },
  { name: "signer refuses RSA-2048", profile: "firmware-signer", request: { commonName: "ci", publicKey: { type: "rsa", bits: 2048 } }, issuer: { profile: "firmware-ca", name: "firmware" }, want: ["KEY_NOT_ALLOWED"] },
  { name: "dps verification code", profile: "dps-verification", request: { commonName: "3F8A0B2C9D", publicKey: p256 }, want: [] },
  { name: "dps verification code with a dash", profile: "dps-verification", request: { commonName: "3F8A-0B2C", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "dps verification not from the firmware CA", profile: "dps-verification", request: { commonName: "ABC", publicKey: p256 }, issuer: { profile: "firmware-ca" }, want: ["ISSUER_NOT_ALLOWED"] },
  { name: "station name", profile: "station", request: { commonName: "plant.lyon.line-7", publicKey: p256 }, want: [] },
  { name: "station name in upper case", profile: "station", request: { commonName: "Line-7", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "station refuses RSA-2048", profile: "station", request: { commonName: "line-7", publicKey: { type: "rsa", bits: 2048 } }, want: ["KEY_NOT_ALLOWED"] },
  { name: "station validity 825 days", profile: "station", request: { commonName: "line-7", publicKey: p256, validityDays: 825 }, want: [] },
  { name: "station validity 826 days", profile: "station", request: { commonName: "line-7", publicKey: p256, validityDays: 826 }, want: ["VALIDITY_INVALID"] },
  { name: "station hosts refused", profile: "station", request: { commonName: "line-7", publicKey: p256, hosts: ["line-7.example"] }, want: ["NAME_INVALID"] },
  { name: "station not from the root", profile: "station", request: { commonName: "line-7", publicKey: p256 }, issuer: { profile: "root-ca", name: "root" }, want: ["ISSUER_NOT_ALLOWED"] },
  { name: "tls-server hosts", profile: "tls-server", request: { commonName: "est.acme.example", hosts: ["est.acme.example", "10.0.0.1", "::1"], publicKey: p256 }, want: [] },
  { name: "tls-server: one address in two spellings", profile: "tls-server", request: { commonName: "::1", hosts: ["::1", "0:0:0:0:0:0:0:1"], publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "tls-server CN other than the first host", profile: "tls-server", request: { commonName: "other.example", hosts: ["est.acme.example"], publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "tls-server without hosts", profile: "tls-server", request: { commonName: "est.acme.example", publicKey: p256 }, want: ["NAME_INVALID"] },
  { name: "tls-server refuses RSA", profile: "tls-server", request: { commonName: "a.example", hosts: ["a.example"], publicKey: { type: "rsa", bits: 3072 } }, want: ["KEY_NOT_ALLOWED"] },
  { name: "tls-server validity 398 days", profile: "tls-server", request: { commonName: "a.example", hosts: ["a.example"], publicKey: p256, validityDays: 398 }, want: ["VALIDITY_INVALID"] },
  { name: "tls-server first host over 64 characters", profile: "tls-server", request: { commonName: `${"a".repeat(60)}.example`, hosts: [`${"a".repeat(60)}.example`], publicKey: p256 }, want: ["NAME_INVALID"] },
  {
    name: "CA common name over 64 characters",
    profile: "device-ca",
    request: { commonName: "plant-lyon-line-7-with-a-long-name", publicKey: p256 },
    issuer: { profile: "root-ca", name: "root", organization: "Acme Industrial Devices International Holding" },
    want: ["NAME_INVALID"],
  },
];

for (const c of cases) {
  test(`policy engine: ${c.name}`, () => {
    const decision = evaluate(c.request, PROFILES[c.profile ?? "device"], { ...deviceCa, ...c.issuer }, NOW);
    const got = decision.ok ? [] : decision.violations.map((v) => v.code);
    assert.deepEqual([...got].sort(), [...c.want].sort());
    if (!decision.ok) for (const v of decision.violations) assert.ok(v.message.length > 20, `message too terse: ${v.message}`);
  });
}

test("device template: fields from the profile, second-aligned validity, URLs of the issuer", () => {
  const decision = evaluate({ commonName: "dev-0001", publicKey: p256 }, PROFILES.device, deviceCa, NOW);
  assert.ok(decision.ok);
  const t = decision.template;
  assert.deepEqual(t.subject, { commonName: "dev-0001" });
  assert.equal(t.notBefore.toISOString(), "2026-03-01T12:00:00.000Z");
  assert.equal(t.notAfter.toISOString(), "2036-01-01T00:00:00.000Z", "clamped to the issuer's notAfter");
  assert.deepEqual(t.basicConstraints, { ca: false });
  assert.deepEqual(t.keyUsage, ["digitalSignature"]);
  assert.deepEqual(t.extendedKeyUsage, [EKU_OIDS.clientAuth]);
  assert.deepEqual(t.policyOids, [POLICY_OIDS.deviceIdentity]);
  assert.deepEqual(t.crlDistributionPoints, ["http://pki.example.test/crl/device.crl"]);
  assert.deepEqual(t.ocspUrls, ["http://pki.example.test/ocsp/device"]);
  assert.deepEqual(t.caIssuersUrls, ["http://pki.example.test/ca/device.cer"]);
});

test("station and tls-server templates: O and CN, the hosts as SAN entries in order, DNS names lower-cased", () => {
  const station = evaluate({ commonName: "line-7", publicKey: p256 }, PROFILES.station, deviceCa, NOW);
  assert.ok(station.ok);
  assert.deepEqual(station.template.subject, { commonName: "line-7", organization: deviceCa.organization });
  assert.deepEqual(station.template.extendedKeyUsage, [EKU_OIDS.clientAuth]);
  assert.equal(station.template.subjectAltNameHosts, undefined);
  assert.equal(station.template.subjectAltNameUris, undefined);
  const tls = evaluate({ commonName: "EST.acme.example", hosts: ["EST.acme.example", "10.0.0.1", "FD00::1"], publicKey: p256 }, PROFILES["tls-server"], deviceCa, NOW);
  assert.ok(tls.ok);
  assert.deepEqual(tls.template.subject, { commonName: "est.acme.example", organization: deviceCa.organization });
  assert.deepEqual(tls.template.subjectAltNameHosts, [{ type: "dns", value: "est.acme.example" }, { type: "ip", value: "10.0.0.1" }, { type: "ip", value: "fd00::1" }]);
  assert.deepEqual(tls.template.extendedKeyUsage, [EKU_OIDS.serverAuth]);
  assert.deepEqual(tls.template.keyUsage, ["digitalSignature"]);
  assert.equal(tls.template.crlDistributionPoints.length, 1);
});

test("short validity is not clamped; default validity is the profile's", () => {
  const d = evaluate({ commonName: "dev", publicKey: p256, validityDays: 30 }, PROFILES.device, deviceCa, NOW);
  assert.ok(d.ok);
  assert.equal(d.template.notAfter.toISOString(), "2026-03-31T12:00:00.000Z");
  const s = evaluate({ commonName: "ci", publicKey: p256 }, PROFILES["firmware-signer"], { ...deviceCa, profile: "firmware-ca", name: "firmware" }, NOW);
  assert.ok(s.ok);
  assert.equal((s.template.notAfter.getTime() - s.template.notBefore.getTime()) / 86_400_000, 730);
  assert.deepEqual(s.template.subject, { commonName: "ci", organization: "Acme Devices" });
  assert.deepEqual(s.template.extendedKeyUsage, [EKU_OIDS.codeSigning]);
});

test("root template: self-signed, no revocation pointers, CA name subject", () => {
  const root: IssuerFacts = { ...deviceCa, name: "root", profile: undefined };
  const d = evaluate({ commonName: "root", publicKey: p256 }, PROFILES["root-ca"], root, NOW);
  assert.ok(d.ok);
  assert.deepEqual(d.template.subject, { commonName: "Acme Devices root CA", organization: "Acme Devices" });
  assert.deepEqual(d.template.basicConstraints, { ca: true, pathLen: 1 });
  assert.deepEqual(d.template.crlDistributionPoints, []);
  assert.deepEqual(d.template.policyOids, []);
  const notRoot = evaluate({ commonName: "root2", publicKey: p256 }, PROFILES["root-ca"], deviceCa, NOW);
  assert.ok(!notRoot.ok);
  assert.deepEqual(notRoot.violations.map((v) => v.code), ["ISSUER_NOT_ALLOWED"]);
});

test("profiles are frozen values", () => {
  assert.ok(Object.isFrozen(PROFILES));
  assert.throws(() => {
    (PROFILES as unknown as Record<string, unknown>).device = {};
  });
});
