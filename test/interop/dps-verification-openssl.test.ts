/** DPS proof of possession, with OpenSSL as referee: the verification certificate chains to the root through the CA and names the code. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditEntry, exportCa, issueVerificationCertificate, isTrustlineError, readAuditLog, showCertificate } from "../../ca/index.js";
import { FIXED_NOW, makeHome, tempDir } from "../helpers/pki.js";
import { openssl, opensslOk } from "./openssl.js";

const CODE = "9C2D6E4F0A1B7C3D5E8F20A1B2C3D4E5F6A7B8C9D0E1F2A3";
const at = (ms: number) => String(Math.floor((FIXED_NOW.getTime() + ms) / 1000));

test("verification certificate: openssl verify against root + device CA, CN = the code, short-lived, audited", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const issued = await issueVerificationCertificate(home, CODE);
    writeFileSync(join(dir, "root.pem"), await exportCa(home, "root"));
    writeFileSync(join(dir, "device-ca.pem"), await exportCa(home, "device"));
    writeFileSync(join(dir, "verify.pem"), issued.pem);

    const ok = openssl(["verify", "-attime", at(3_600_000), "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "verify.pem"], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
    assert.match(ok.stdout, /^verify\.pem: OK$/m);
    assert.match(opensslOk(["x509", "-in", "verify.pem", "-noout", "-subject"], { cwd: dir }).trim(), new RegExp(`^subject=\\s*CN\\s*=\\s*${CODE}$`));
    const issuer = opensslOk(["x509", "-in", "verify.pem", "-noout", "-issuer"], { cwd: dir }).trim().replace(/^issuer=/, "");
    const caSubject = opensslOk(["x509", "-in", "device-ca.pem", "-noout", "-subject"], { cwd: dir }).trim().replace(/^subject=/, "");
    assert.equal(issuer, caSubject);
    // Signed by the device CA, not by the root directly: without the intermediate it does not verify.
    assert.notEqual(openssl(["verify", "-attime", at(3_600_000), "-CAfile", "root.pem", "verify.pem"], { cwd: dir }).status, 0);
    // Short-lived: one day by default, so it has expired two days later.
    const late = openssl(["verify", "-attime", at(2 * 86_400_000), "-CAfile", "root.pem", "-untrusted", "device-ca.pem", "verify.pem"], { cwd: dir });
    assert.notEqual(late.status, 0);
    assert.match(late.stdout + late.stderr, /expired/);
    const text = opensslOk(["x509", "-in", "verify.pem", "-noout", "-text"], { cwd: dir });
    assert.match(text, /CA:FALSE/);
    assert.match(text, /Digital Signature/);

    // Through the pipeline: in the inventory with its trace, and audited.
    const trace = await showCertificate(home, { serial: issued.record.serial });
    assert.equal(trace.profile, "dps-verification");
    assert.equal(trace.commonName, CODE);
    assert.equal(trace.keySource, "generated");
    assert.equal(trace.ca, "device");
    const entries: AuditEntry[] = [];
    for await (const e of readAuditLog(home)) entries.push(e);
    const issue = entries.find((e) => e.action === "certificate.issue" && e.serial === issued.record.serial);
    assert.ok(issue, "no certificate.issue entry");
    assert.equal(issue.profile, "dps-verification");
    assert.equal(issue.subject, CODE);
    assert.ok(entries.some((e) => e.action === "certificate.intent" && e.serial === issued.record.serial));
  } finally {
    cleanup();
  }
});

test("verification certificate from the root, for a DPS that trusts the root itself", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const issued = await issueVerificationCertificate(home, "ABCDEF0123", { ca: "root", algorithm: "p384", validityDays: 7 });
    writeFileSync(join(dir, "root.pem"), await exportCa(home, "root"));
    writeFileSync(join(dir, "verify.pem"), issued.pem);
    const ok = openssl(["verify", "-attime", at(6 * 86_400_000), "-CAfile", "root.pem", "verify.pem"], { cwd: dir });
    assert.equal(ok.status, 0, ok.stderr + ok.stdout);
  } finally {
    cleanup();
  }
});

test("verification certificate: the profile refuses a bad code, the firmware CA, and a long life", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    await assert.rejects(issueVerificationCertificate(home, "not a code!"), (e: unknown) => isTrustlineError(e, "POLICY_DENIED"));
    await assert.rejects(issueVerificationCertificate(home, "ABCDEF", { ca: "firmware" }), (e: unknown) => isTrustlineError(e, "POLICY_DENIED"));
    await assert.rejects(issueVerificationCertificate(home, "ABCDEF", { validityDays: 31 }), (e: unknown) => isTrustlineError(e, "POLICY_DENIED"));
  } finally {
    cleanup();
  }
});
