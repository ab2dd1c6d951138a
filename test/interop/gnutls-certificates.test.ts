/**
 * GnuTLS (certtool 3.7) as the second referee for certificates and CRLs, on a home made without
 * --policy-arc (the default arc): `certtool -i` prints every certificate kind with no error or
 * warning (RFC 5280 §4: every extension decodes, certificatePolicies included, which a 2.25 UUID arc
 * breaks); `certtool --verify` accepts the device and signer chains for their purposes (RFC 5280
 * §4.2.1.12) and refuses them for another purpose and, with the CRLs, after revocation (§6.3);
 * `certtool --verify-crl` accepts every CRL under its issuer and refuses it under another (§6.3.3).
 *
 * certtool has no -attime: the home's clock is the real time (15 minutes back), fixed when the file starts.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  createCsr,
  ensureResponders,
  exportCa,
  generateDeviceCertificate,
  type Home,
  type IssuedCertificate,
  addStation,
  issueCrl,
  issueTlsCertificate,
  issueSignerCertificate,
  issueVerificationCertificate,
  revokeCertificate,
  signReport,
  toPem,
} from "../../ca/index.js";
import { DEFAULT_POLICY_ARC, EKU_OIDS, LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { ecKey, makeHome, REPO_ROOT, reopen, tempDir } from "../helpers/pki.js";
import { GNUTLS_MISSING, gnutls, verdictLine } from "./gnutls.js";

/** Real time, a quarter of an hour back: the revocations a minute later are still in the past for GnuTLS. */
const START = new Date(Math.floor(Date.now() / 1000) * 1000 - 15 * 60_000);
const VERIFIED = "Verified. The certificate is trusted.";

describe("GnuTLS certtool as referee: certificates and CRLs", { skip: GNUTLS_MISSING, timeout: 120_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let home: Home;
  let device: IssuedCertificate;
  let signer: IssuedCertificate;
  let now = START.getTime();
  const path = (name: string) => join(t.dir, name);
  const certtool = (args: readonly string[]) => gnutls("certtool", args, { cwd: t.dir });

  before(async () => {
    t = tempDir("trustline-gnutls-certs-");
    const clock = () => new Date(now);
    home = await reopen(await makeHome(t.dir, { clock }), { clock });
    for (const ca of ["root", "device", "firmware"]) writeFileSync(path(`${ca}-ca.pem`), await exportCa(home, ca));
    device = await generateDeviceCertificate(home, "dev-gnutls-0001");
    signer = await issueSignerCertificate(home, createCsr(ecKey().privateKey, "x"), "ci-pipeline");
    const verification = await issueVerificationCertificate(home, "0A1B2C3D4E5F");
    const responders = await ensureResponders(home);
    writeFileSync(path("device.pem"), device.pem);
    writeFileSync(path("device-chain.pem"), device.pem + device.chain.join(""));
    writeFileSync(path("signer.pem"), signer.pem);
    writeFileSync(path("signer-chain.pem"), signer.pem + signer.chain.join(""));
    writeFileSync(path("dps-verification.pem"), verification.pem);
    writeFileSync(path("ocsp-responder.pem"), responders.find((r) => r.ca === "device")!.certificate);
    writeFileSync(path("audit-signer.pem"), home.state.auditKey.certificate!);
    writeFileSync(path("report.json"), "{}\n");
    await signReport(home, path("report.json"));
    writeFileSync(path("report-signer.pem"), home.state.reportSigner!.certificate);
    const station = await addStation(home, "line-7");
    writeFileSync(path("station.pem"), station.certificatePem);
    writeFileSync(path("station-chain.pem"), station.certificatePem + station.chainPem.join(""));
    const tls = await issueTlsCertificate(home, { hosts: ["est.acme.example", "10.0.7.1", "fd00::7:1"] });
    writeFileSync(path("tls-server.pem"), tls.record.certificate);
    writeFileSync(path("tls-server-chain.pem"), tls.record.certificate + tls.chainPem.join(""));
    for (const ca of ["root", "device", "firmware"]) writeFileSync(path(`${ca}.crl`), toPem((await issueCrl(home, ca)).der, "X509 CRL"));
  });
  after(() => t?.cleanup());

  const KINDS: readonly (readonly [file: string, policies: readonly string[]])[] = [
    ["root-ca.pem", []],
    ["device-ca.pem", [`${DEFAULT_POLICY_ARC}.1.1`, `${DEFAULT_POLICY_ARC}.1.3`]],
    ["firmware-ca.pem", [`${DEFAULT_POLICY_ARC}.1.2`]],
    ["device.pem", [`${DEFAULT_POLICY_ARC}.1.1`]],
    ["signer.pem", [`${DEFAULT_POLICY_ARC}.1.2`]],
    ["dps-verification.pem", [`${DEFAULT_POLICY_ARC}.1.3`]],
    ["ocsp-responder.pem", []],
    ["audit-signer.pem", []],
    ["report-signer.pem", []],
    ["station.pem", []],
    ["tls-server.pem", []],
  ];

  for (const [file, policies] of KINDS) {
    test(`certtool -i prints ${file} with no error or warning, policies ${policies.join(", ") || "none"}`, () => {
      const r = certtool(["-i", "--infile", file]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "", `certtool wrote to stderr:\n${r.stderr}`);
      assert.doesNotMatch(r.stdout, /error|warning/i);
      assert.match(r.stdout, /X\.509 Certificate Information:/);
      const printed = /Certificate Policies \(not critical\):\n((?:\t\t\t.*\n)+)/.exec(r.stdout)?.[1]?.trim().split(/\s+/) ?? [];
      assert.deepEqual(printed, policies);
    });
  }

  test("refusing case: certtool -i reports an error for a certificate under the legacy 2.25 arc", () => {
    const legacy = join(REPO_ROOT, "test", "fixtures", "firmware-v1", "signer.pem");
    assert.match(readFileSync(legacy, "utf8"), /BEGIN CERTIFICATE/);
    const r = certtool(["-i", "--infile", legacy]);
    assert.match(r.stdout + r.stderr, /error: certificate policies import: ASN1 parser: Error in DER parsing/);
    assert.ok(LEGACY_TRUSTLINE_ARC.startsWith("2.25."));
  });

  test("certtool --verify-crl accepts each CRL under its issuer, and refuses it under another CA", () => {
    for (const ca of ["root", "device", "firmware"]) {
      const r = certtool(["--verify-crl", "--infile", `${ca}.crl`, "--load-ca-certificate", `${ca}-ca.pem`]);
      assert.equal(verdictLine(r.stdout), VERIFIED, `${ca}.crl:\n${r.stdout}${r.stderr}`);
      assert.equal(r.status, 0);
    }
    const wrong = certtool(["--verify-crl", "--infile", "root.crl", "--load-ca-certificate", "device-ca.pem"]);
    assert.notEqual(wrong.status, 0);
    assert.match(verdictLine(wrong.stdout), /^Not verified\..*issuer is unknown/);
  });

  describe("certtool --verify: chains, purposes, revocation", () => {
    const verify = (chain: string, purpose: string, crls?: string) =>
      certtool(["--verify", "--infile", chain, "--load-ca-certificate", "root-ca.pem", "--verify-purpose", purpose, ...(crls ? ["--load-crl", crls] : [])]);

    test("the device chain verifies for clientAuth, with and without the CRLs; not for codeSigning", () => {
      writeFileSync(path("crls-before.pem"), ["root", "device", "firmware"].map((ca) => readFileSync(path(`${ca}.crl`), "utf8")).join(""));
      for (const crls of [undefined, "crls-before.pem"]) {
        const ok = verify("device-chain.pem", EKU_OIDS.clientAuth, crls);
        assert.equal(verdictLine(ok.stdout), VERIFIED, ok.stdout + ok.stderr);
        assert.equal(ok.status, 0);
      }
      const wrong = verify("device-chain.pem", EKU_OIDS.codeSigning);
      assert.equal(wrong.status, 1);
      assert.match(verdictLine(wrong.stdout), /does not match the intended purpose/);
    });

    test("the signer chain verifies for codeSigning, with and without the CRLs; not for clientAuth", () => {
      for (const crls of [undefined, "crls-before.pem"]) {
        const ok = verify("signer-chain.pem", EKU_OIDS.codeSigning, crls);
        assert.equal(verdictLine(ok.stdout), VERIFIED, ok.stdout + ok.stderr);
        assert.equal(ok.status, 0);
      }
      const wrong = verify("signer-chain.pem", EKU_OIDS.clientAuth);
      assert.equal(wrong.status, 1);
      assert.match(verdictLine(wrong.stdout), /does not match the intended purpose/);
    });

    test("the station chain verifies for clientAuth, not serverAuth; the TLS server chain for serverAuth at each host, not another host, not clientAuth", () => {
      const station = verify("station-chain.pem", EKU_OIDS.clientAuth);
      assert.equal(verdictLine(station.stdout), VERIFIED, station.stdout + station.stderr);
      const notServer = verify("station-chain.pem", EKU_OIDS.serverAuth);
      assert.equal(notServer.status, 1);
      assert.match(verdictLine(notServer.stdout), /does not match the intended purpose/);
      for (const host of ["est.acme.example", "10.0.7.1", "fd00::7:1"]) {
        const r = certtool(["--verify", "--infile", "tls-server-chain.pem", "--load-ca-certificate", "root-ca.pem", "--verify-purpose", EKU_OIDS.serverAuth, "--verify-hostname", host]);
        assert.equal(verdictLine(r.stdout), VERIFIED, `${host}: ${r.stdout}${r.stderr}`);
      }
      const otherHost = certtool(["--verify", "--infile", "tls-server-chain.pem", "--load-ca-certificate", "root-ca.pem", "--verify-purpose", EKU_OIDS.serverAuth, "--verify-hostname", "evil.acme.example"]);
      assert.equal(otherHost.status, 1);
      assert.match(verdictLine(otherHost.stdout), /The name in the certificate does not match the expected/);
      const notClient = verify("tls-server-chain.pem", EKU_OIDS.clientAuth);
      assert.equal(notClient.status, 1);
      assert.match(verdictLine(notClient.stdout), /does not match the intended purpose/);
    });

    test("after revocation, the CRLs make certtool refuse both chains; without them it cannot know", async () => {
      now += 60_000;
      await revokeCertificate(home, device.record.serial, { reason: "keyCompromise" });
      await revokeCertificate(home, signer.record.serial, { reason: "superseded" });
      const crls = ["root", "device", "firmware"];
      writeFileSync(path("crls-after.pem"), (await Promise.all(crls.map(async (ca) => toPem((await issueCrl(home, ca)).der, "X509 CRL")))).join(""));
      for (const [chain, purpose] of [
        ["device-chain.pem", EKU_OIDS.clientAuth],
        ["signer-chain.pem", EKU_OIDS.codeSigning],
      ] as const) {
        const revoked = verify(chain, purpose, "crls-after.pem");
        assert.equal(revoked.status, 1, revoked.stdout);
        assert.match(verdictLine(revoked.stdout), /^Not verified\..*The certificate chain is revoked\.$/);
        assert.equal(verdictLine(verify(chain, purpose).stdout), VERIFIED);
      }
    });
  });
});
