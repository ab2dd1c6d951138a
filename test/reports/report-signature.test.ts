/**
 * Signed reports: `report --sign` writes a detached CMS signature by the home's report signer (the
 * root certifies it, EKU documentSigning). OpenSSL's `cms -verify` and our `verifyReport` accept
 * it, and both refuse it after one byte of the report changes; a signature by a certificate of
 * the same root that is not a report signer is refused; signing is a write the roles decide.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  addOperator,
  buildReport,
  generateDeviceCertificate,
  Home,
  readAuditLog,
  signReport,
  TrustlineError,
  verifyReport,
} from "../../ca/index.js";
import { PROFILES } from "../../policy/index.js";
import { FIXED_NOW, makeHome, openssl, PASSPHRASE, runCli, tempDir, writeTemp } from "../helpers/pki.js";
import { expectError, expectOk, initCliHome, json } from "../cli/cli-helpers.js";

const DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36";

function flipOneByte(path: string, at: number): void {
  const bytes = readFileSync(path);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(path, bytes);
}

function opensslVerify(report: string, signature: string, root: string) {
  return openssl(["cms", "-verify", "-binary", "-inform", "DER", "-in", signature, "-content", report, "-CAfile", root, "-purpose", "any", "-out", "/dev/null"]);
}

describe("signed reports (library)", { timeout: 120_000 }, () => {
  const t = tempDir();
  let home: Home;
  let rootPem: string;
  let reportPath: string;
  before(async () => {
    home = await makeHome(t.dir);
    await generateDeviceCertificate(home, "dev-signed-1");
    rootPem = writeTemp(t.dir, "root.pem", home.state.cas.root!.certificate);
    reportPath = join(t.dir, "report.json");
    writeFileSync(reportPath, `${JSON.stringify(await buildReport(home, {}), null, 2)}\n`);
  });
  after(() => t.cleanup());

  test("the first signed report makes the report signer: the root certifies it, EKU documentSigning only, recorded and audited", async () => {
    const signed = await signReport(home, reportPath);
    assert.equal(signed.signature, `${reportPath}.p7s`);
    const record = home.state.reportSigner!;
    assert.equal(record.serial, signed.signer.serial);
    const text = openssl(["x509", "-noout", "-text"], record.certificate).stdout;
    assert.match(text, /Issuer: CN ?= ?Acme Devices root CA, O ?= ?Acme Devices|Issuer: O ?= ?Acme Devices, CN ?= ?Acme Devices root CA/);
    assert.match(text, /Subject: .*CN ?= ?Acme Devices report signer|Subject: .*report signer/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, new RegExp(`X509v3 Extended Key Usage: \\s*\\n\\s*(${DOCUMENT_SIGNING.replace(/\./g, "\\.")}|Document Signing)\\n`));
    assert.match(text, /CA:FALSE/);
    assert.equal(PROFILES["report-signer"].cpSection, "7.1.9");
    const entries = [];
    for await (const e of readAuditLog(home)) if (e.action === "report.signer" || e.action === "report.sign") entries.push(e);
    assert.deepEqual(entries.map((e) => [e.action, e.operator, e.serial]), [["report.signer", "alice", record.serial], ["report.sign", "alice", record.serial]]);
    assert.equal((entries[1]!.details as { sha256: string }).sha256, signed.sha256);
    // A second report reuses the signer.
    const second = writeTemp(t.dir, "second.json", "{}\n");
    assert.equal((await signReport(home, second)).signer.serial, record.serial);
  });

  test("OpenSSL and verifyReport accept the signature; both refuse it after one byte of the report changes", async () => {
    const sig = `${reportPath}.p7s`;
    const ok = opensslVerify(reportPath, sig, rootPem);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /Verification successful/);
    const verdict = await verifyReport({ report: reportPath, signature: readFileSync(sig), trust: [readFileSync(rootPem)], now: FIXED_NOW });
    assert.equal(verdict.valid, true, JSON.stringify(verdict));
    assert.equal(verdict.evidence.signer?.serial, home.state.reportSigner!.serial);

    const copy = writeTemp(t.dir, "edited.json", readFileSync(reportPath));
    flipOneByte(copy, 100);
    const bad = opensslVerify(copy, sig, rootPem);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /digest failure|content verify error/i);
    const refused = await verifyReport({ report: copy, signature: readFileSync(sig), trust: [readFileSync(rootPem)], now: FIXED_NOW });
    assert.equal(refused.valid, false);
    assert.equal(!refused.valid && refused.check, "message-digest");
  });

  test("refused: a flipped byte in the signature, another root, a certificate of the same root that is not a report signer", async () => {
    const sig = readFileSync(`${reportPath}.p7s`);
    const tampered = Buffer.from(sig);
    tampered[tampered.length - 10]! ^= 0x01; // inside the signature value
    const v1 = await verifyReport({ report: reportPath, signature: tampered, trust: [readFileSync(rootPem)], now: FIXED_NOW });
    assert.equal(!v1.valid && ["signature", "format"].includes(v1.check), true, JSON.stringify(v1));

    const other = await makeHome(join(t.dir, "other"));
    const v2 = await verifyReport({ report: reportPath, signature: sig, trust: [Buffer.from(other.state.cas.root!.certificate)], now: FIXED_NOW });
    assert.equal(!v2.valid && v2.check, "chain");

    // A device of the same root signs the report with OpenSSL: a valid CMS, but not a report signer.
    const device = await generateDeviceCertificate(home, "dev-signs-reports");
    const keyFile = writeTemp(t.dir, "dev.key", device.privateKeyPem);
    const certFile = writeTemp(t.dir, "dev.pem", device.pem);
    const chainFile = writeTemp(t.dir, "dev-chain.pem", device.chain.join(""));
    const devSig = join(t.dir, "dev.p7s");
    const made = openssl(["cms", "-sign", "-binary", "-in", reportPath, "-signer", certFile, "-inkey", keyFile, "-certfile", chainFile, "-outform", "DER", "-out", devSig, "-md", "sha256"]);
    assert.equal(made.status, 0, made.stderr);
    const v3 = await verifyReport({ report: reportPath, signature: readFileSync(devSig), trust: [readFileSync(rootPem)], now: FIXED_NOW });
    assert.equal(!v3.valid && v3.check, "signer-usage", JSON.stringify(v3));
    assert.match(!v3.valid ? v3.reason : "", /documentSigning/);
  });

  test("roles: an issuer may not sign; an auditor may sign once an admin made the signer, but not make it", async () => {
    const fresh = await makeHome(join(t.dir, "roles"));
    const enrol = async (id: string, roles: ("auditor" | "issuer")[]) => {
      const { token } = await addOperator(fresh, { id, roles, authenticator: { kind: "service" } });
      return Home.open({ home: fresh.dir, passphrase: async () => PASSPHRASE, clock: () => FIXED_NOW, operator: id, credential: { kind: "service-token", token: token! } });
    };
    const auditor = await enrol("ann", ["auditor"]);
    const issuer = await enrol("ivan", ["issuer"]);
    const file = writeTemp(t.dir, "roles.json", "{}\n");
    const forbidden = (action: string) => (e: unknown) => e instanceof TrustlineError && e.code === "FORBIDDEN" && (e.details as { action?: string }).action === action;
    await assert.rejects(signReport(issuer, file), forbidden("report.sign"));
    await assert.rejects(signReport(auditor, file), forbidden("audit.certify"), "the first signer is an admin's to make");
    assert.equal(fresh.state.reportSigner, undefined);
    await signReport(fresh, file); // alice (admin) makes it
    const byAuditor = await signReport(auditor, file, { force: true });
    assert.equal(byAuditor.signer.serial, (await Home.open({ home: fresh.dir })).state.reportSigner!.serial);
    await assert.rejects(signReport(auditor, file), (e: unknown) => e instanceof TrustlineError && e.code === "ALREADY_EXISTS", "an existing signature is not overwritten without force");
  });
});

describe("trustline report --sign and report verify", { timeout: 120_000 }, () => {
  const t = tempDir();
  after(() => t.cleanup());

  test("an HTML report signed, verified by our verifier and OpenSSL; one changed byte fails both (exit 1)", () => {
    const h = initCliHome(t.dir);
    expectOk(runCli([...h.g, "issue", "device", "--generate", "dev-s1", "--out-dir", join(t.dir, "o")]));
    const out = join(t.dir, "report.html");
    const r = runCli([...h.g, "--json", "report", "--format", "html", "--out", out, "--sign"]);
    expectOk(r);
    assert.equal(json(r).signature, `${out}.p7s`);
    const v = runCli([...h.gNoPass, "--json", "report", "verify", out]);
    expectOk(v);
    assert.equal(json(v).valid, true);
    const root = join(t.dir, "root.pem");
    expectOk(runCli([...h.gNoPass, "ca", "export", "root", "--out", root]));
    assert.equal(opensslVerify(out, `${out}.p7s`, root).status, 0);
    // Away from the home: the auditor pins the root.
    expectOk(runCli(["--home", join(t.dir, "nowhere"), "report", "verify", out, "--root", root]));

    flipOneByte(out, 200);
    const bad = runCli([...h.gNoPass, "--json", "report", "verify", out, "--root", root]);
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.equal(json(bad).check, "message-digest");
    assert.notEqual(opensslVerify(out, `${out}.p7s`, root).status, 0);

    // --force replaces the report and its signature; the new pair verifies again.
    const again = runCli([...h.g, "--json", "report", "--format", "csv", "--out", out, "--force", "--sign"]);
    expectOk(again);
    expectOk(runCli([...h.gNoPass, "report", "verify", out, "--root", root]));
  });

  test("usage: --out is required; a missing signature file is unreadable input (exit 3); no root and no home is a usage error", () => {
    const dir = join(t.dir, "u");
    mkdirSync(dir);
    const h = initCliHome(dir);
    expectError(runCli([...h.gNoPass, "--json", "report"]), 2, "USAGE");
    const file = writeTemp(t.dir, "unsigned.json", "{}\n");
    expectError(runCli([...h.gNoPass, "--json", "report", "verify", file]), 3, "NOT_FOUND");
    expectError(runCli(["--home", join(t.dir, "nowhere"), "--json", "report", "verify", file]), 2, "USAGE");
  });
});
