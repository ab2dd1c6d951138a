/**
 * The organisation's OID arc (issue 14): `init --policy-arc` records it, every policy OID the home
 * writes sits under it, a malformed or GnuTLS-unreadable arc is refused with USAGE, the default is
 * one whose components all fit 64 bits, and a home made before the arc existed keeps its 2.25 arc.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createCsr, Home, issueDeviceCertificate, issueSignerCertificate, listCas, parseCertificate, showCertificate, TrustlineError } from "../../ca/index.js";
import {
  DEFAULT_POLICY_ARC,
  evaluate,
  type IssuerFacts,
  LEGACY_TRUSTLINE_ARC,
  MAX_OID_COMPONENT,
  oidUnderArc,
  POLICY_OIDS,
  policyArcProblems,
  policyOidsUnder,
  PROFILES,
} from "../../policy/index.js";
import { ecKey, FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";

const ARC = "1.3.6.1.4.1.32473.42";

/** The certificatePolicies OIDs of a certificate, read back from its DER. */
async function policiesOf(der: Uint8Array): Promise<string[]> {
  const cert = await parseCertificate(der);
  const ext = cert.getExtension("2.5.29.32");
  if (!ext) return [];
  const text = Buffer.from(ext.value).toString("hex");
  // SEQUENCE OF PolicyInformation { OID }: collect the OIDs with the library's own reader.
  const { children, readRoot, content, oidText } = await import("../../ca/x509/der.js");
  const v = new Uint8Array(ext.value);
  assert.ok(text.length > 0);
  return children(v, readRoot(v)).map((pi) => oidText(content(v, children(v, pi)[0]!)));
}

describe("policyArcProblems", () => {
  const cases: { name: string; arc: string; want: RegExp | null }[] = [
    { name: "the default arc", arc: DEFAULT_POLICY_ARC, want: null },
    { name: "a PEN arc", arc: "1.3.6.1.4.1.32473", want: null },
    { name: "a national arc", arc: "2.16.840.1.999999", want: null },
    { name: "components at 2^63 - 1", arc: `1.3.${MAX_OID_COMPONENT}`, want: null },
    { name: "a component at 2^63", arc: `1.3.${MAX_OID_COMPONENT + 1n}`, want: /component 3 .* exceeds 2\^63 - 1/ },
    { name: "the legacy 128-bit UUID arc", arc: LEGACY_TRUSTLINE_ARC, want: /component 3 .*exceeds 2\^63 - 1.*Private Enterprise Number/ },
    { name: "empty", arc: "", want: /empty/ },
    { name: "one component", arc: "1", want: /not an OID/ },
    { name: "a leading zero", arc: "1.3.06", want: /not an OID/ },
    { name: "letters", arc: "1.3.6.x", want: /not an OID/ },
    { name: "a trailing dot", arc: "1.3.6.", want: /not an OID/ },
    { name: "first component 3", arc: "3.1", want: /starts with 0, 1 or 2/ },
    { name: "second component 40 under 1", arc: "1.40", want: /below 40/ },
    { name: "too long", arc: `1.3.${"1.".repeat(40)}1`, want: /at most 64/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const problems = policyArcProblems(c.arc);
      if (c.want === null) assert.deepEqual(problems, []);
      else {
        assert.equal(problems.length, 1, problems.join("\n"));
        assert.match(problems[0]!, c.want);
      }
    });
  }
  test("the default arc is the documentation PEN's (RFC 5612), and POLICY_OIDS sit under it", () => {
    assert.equal(DEFAULT_POLICY_ARC, "1.3.6.1.4.1.32473.1");
    assert.equal(POLICY_OIDS.deviceIdentity, `${DEFAULT_POLICY_ARC}.1.1`);
    assert.deepEqual(policyOidsUnder(ARC), { certificatePolicy: `${ARC}.1`, deviceIdentity: `${ARC}.1.1`, firmwareSigning: `${ARC}.1.2`, dpsVerification: `${ARC}.1.3` });
    assert.equal(oidUnderArc("1.3.6.1.5.5.7.3.2", ARC), "1.3.6.1.5.5.7.3.2", "OIDs outside the arc are left alone");
  });
});

test("the policy engine mints the profile's policy OIDs under the issuer's arc", () => {
  const issuer: IssuerFacts = { name: "device", profile: "device-ca", notBefore: new Date(0), notAfter: new Date("2040-01-01"), organization: "Acme", baseUrl: "http://x.test" };
  const key = { type: "ec", curve: "P-256" } as const;
  const byDefault = evaluate({ commonName: "dev-1", publicKey: key }, PROFILES.device, issuer, FIXED_NOW);
  const own = evaluate({ commonName: "dev-1", publicKey: key }, PROFILES.device, { ...issuer, policyArc: ARC }, FIXED_NOW);
  const legacy = evaluate({ commonName: "dev-1", publicKey: key }, PROFILES.device, { ...issuer, policyArc: LEGACY_TRUSTLINE_ARC }, FIXED_NOW);
  assert.ok(byDefault.ok && own.ok && legacy.ok);
  assert.deepEqual(byDefault.template.policyOids, [`${DEFAULT_POLICY_ARC}.1.1`]);
  assert.deepEqual(own.template.policyOids, [`${ARC}.1.1`]);
  assert.deepEqual(legacy.template.policyOids, [`${LEGACY_TRUSTLINE_ARC}.1.1`]);
  const ca = evaluate({ commonName: "device", publicKey: key }, PROFILES["device-ca"], { ...issuer, profile: "root-ca", policyArc: ARC }, FIXED_NOW);
  assert.ok(ca.ok);
  assert.deepEqual(ca.template.policyOids, [`${ARC}.1.1`, `${ARC}.1.3`]);
});

describe("a home with its own arc", () => {
  let dir: string;
  let cleanup: () => void;
  let home: Home;
  before(async () => {
    ({ dir, cleanup } = tempDir("trustline-arc-"));
    home = await makeHome(dir, { policyArc: ARC });
  });
  after(() => cleanup());

  test("records the arc, and every certificate it issues carries policies under it", async () => {
    assert.equal(home.state.policyArc, ARC);
    assert.equal(home.policyArc, ARC);
    assert.deepEqual(
      listCas(home).map((c) => [c.name, c.policyArc]),
      [
        ["root", ARC],
        ["device", ARC],
        ["firmware", ARC],
      ],
    );
    const pem = (name: string) => new Uint8Array(Buffer.from(home.state.cas[name]!.certificate.replace(/-----[^-]+-----|\s/g, ""), "base64"));
    assert.deepEqual(await policiesOf(pem("root")), []);
    assert.deepEqual(await policiesOf(pem("device")), [`${ARC}.1.1`, `${ARC}.1.3`]);
    assert.deepEqual(await policiesOf(pem("firmware")), [`${ARC}.1.2`]);
    const device = await issueDeviceCertificate(home, createCsr(ecKey().privateKey, "dev-arc-1"));
    assert.deepEqual(await policiesOf(device.der), [`${ARC}.1.1`]);
    assert.deepEqual(device.record.policyOids, [`${ARC}.1.1`]);
    const signer = await issueSignerCertificate(home, createCsr(ecKey().privateKey, "x"), "ci");
    assert.deepEqual(await policiesOf(signer.der), [`${ARC}.1.2`]);
    const trace = await showCertificate(home, { serial: device.record.serial });
    assert.equal(trace.policyArc, ARC);
  });

  test("init without --policy-arc records the default arc", async () => {
    const other = await makeHome(join(dir, "default"));
    assert.equal(other.state.policyArc, DEFAULT_POLICY_ARC);
    const device = await issueDeviceCertificate(other, createCsr(ecKey().privateKey, "dev-default-1"));
    assert.deepEqual(await policiesOf(device.der), [POLICY_OIDS.deviceIdentity]);
  });

  test("init refuses an arc GnuTLS cannot read, with USAGE and the reason, and leaves no home", async () => {
    for (const bad of [LEGACY_TRUSTLINE_ARC, "1.3.6.01", "banana"]) {
      await assert.rejects(makeHome(join(dir, "bad"), { policyArc: bad }), (e: unknown) => e instanceof TrustlineError && e.code === "USAGE" && /--policy-arc/.test(e.message));
    }
    assert.throws(() => readFileSync(join(dir, "bad", "pki", "state.json")), /ENOENT/);
  });

  test("a home made before the arc existed (none recorded) keeps the legacy 2.25 arc", async () => {
    const old = await makeHome(join(dir, "old"));
    const statePath = join(old.dir, "state.json");
    const state = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
    delete state.policyArc;
    writeFileSync(statePath, JSON.stringify(state));
    const reopened = await reopen(old);
    assert.equal(reopened.policyArc, LEGACY_TRUSTLINE_ARC);
    const device = await issueDeviceCertificate(reopened, createCsr(ecKey().privateKey, "dev-old-1"));
    assert.deepEqual(device.record.policyOids, [`${LEGACY_TRUSTLINE_ARC}.1.1`]);
  });
});
