/** Revocations mirrored as disabled individual enrollments: bulk bodies of 10, incremental by watermark, holds and releases. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type BulkEnrollmentOperation,
  exportDisabledEnrollments,
  generateDeviceCertificate,
  individualEnrollment,
  isTrustlineError,
  readAuditLog,
  revokeCertificate,
  type GeneratedDevice,
  type AuditEntry,
} from "../../ca/index.js";
import { validate } from "../helpers/dps-model.js";
import { makeHome, reopen, tempDir } from "../helpers/pki.js";

function bodies(dir: string): { name: string; body: BulkEnrollmentOperation }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((name) => ({ name, body: JSON.parse(readFileSync(join(dir, name), "utf8")) as BulkEnrollmentOperation }));
}

test("25 revoked devices: 3 bodies (10+10+5); a second run writes nothing; a later revocation exports only itself", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const devices: GeneratedDevice[] = [];
    for (let i = 0; i < 27; i++) devices.push(await generateDeviceCertificate(home, `dev-${String(i).padStart(4, "0")}`));
    for (const d of devices.slice(0, 25)) await revokeCertificate(home, d.record.serial, { reason: "keyCompromise" });

    const out = join(dir, "dps");
    const first = await exportDisabledEnrollments(home, out);
    assert.deepEqual(first.files.map((f) => [f.path.slice(out.length + 1), f.mode, f.items]), [
      ["enrollments-0001.json", "create", 10],
      ["enrollments-0002.json", "create", 10],
      ["enrollments-0003.json", "create", 5],
    ]);
    const written = bodies(out);
    assert.equal(written.length, 3);
    const bySerialPem = new Map(devices.map((d) => [d.record.commonName, d.pem]));
    const seen = new Set<string>();
    for (const { body } of written) {
      assert.deepEqual(validate(body, "BulkEnrollmentOperation", { create: true }), []);
      assert.equal(body.mode, "create");
      assert.ok(body.enrollments.length <= 10);
      for (const e of body.enrollments) {
        assert.equal(e.provisioningStatus, "disabled");
        assert.equal(e.attestation.type, "x509");
        assert.equal(e.attestation.x509.clientCertificates?.primary.certificate, bySerialPem.get(e.registrationId), e.registrationId);
        assert.equal(e.deviceId, e.registrationId);
        seen.add(e.registrationId);
      }
    }
    assert.deepEqual([...seen].sort(), devices.slice(0, 25).map((d) => d.record.commonName).sort());
    assert.equal(first.disabled.length, 25);

    const second = await exportDisabledEnrollments(home, out);
    assert.deepEqual(second.files, []);
    assert.equal(bodies(out).length, 3);

    // A revocation later, by another process: only it is exported, numbered after the others.
    const later = await reopen(home);
    await revokeCertificate(later, devices[25]!.record.serial, { reason: "cessationOfOperation" });
    const third = await exportDisabledEnrollments(later, out);
    assert.deepEqual(third.files.map((f) => [f.path.slice(out.length + 1), f.items]), [["enrollments-0004.json", 1]]);
    const last = bodies(out)[3]!.body;
    assert.equal(last.enrollments[0]!.registrationId, devices[25]!.record.commonName);
    assert.equal(last.enrollments[0]!.attestation.x509.clientCertificates?.primary.certificate, devices[25]!.pem);

    // --all: everything revoked, again.
    const all = await exportDisabledEnrollments(later, join(dir, "all"), { all: true });
    assert.deepEqual(all.files.map((f) => f.items), [10, 10, 6]);

    // The watermark lives in the home's state; the audit log records each export that wrote files.
    const state = JSON.parse(readFileSync(join(home.dir, "state.json"), "utf8"));
    assert.ok(state.dpsMirrors["files|device"].offset > 0);
    const exports: AuditEntry[] = [];
    for await (const e of readAuditLog(later)) if (e.action === "dps.export") exports.push(e);
    assert.equal(exports.length, 3);
    assert.equal((exports[0]!.details!.disabled as string[]).length, 25);
  } finally {
    cleanup();
  }
});

test("a hold disables, a release deletes; non-device certificates and other CAs are left out", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const a = await generateDeviceCertificate(home, "dev-a");
    const b = await generateDeviceCertificate(home, "dev-b");
    const out = join(dir, "dps");
    await revokeCertificate(home, a.record.serial, { reason: "certificateHold" });
    const held = await exportDisabledEnrollments(home, out);
    assert.deepEqual(held.disabled.map((d) => [d.registrationId, d.reason]), [["dev-a", "certificateHold"]]);
    // Held, then revoked for good: DPS already blocks it, nothing new to send.
    await revokeCertificate(home, a.record.serial, { reason: "keyCompromise" });
    assert.deepEqual((await exportDisabledEnrollments(home, out)).files, []);

    await revokeCertificate(home, b.record.serial, { reason: "certificateHold" });
    await revokeCertificate(home, b.record.serial, { reason: "removeFromCRL" });
    // Held and released between two exports: DPS never needed to know.
    assert.deepEqual((await exportDisabledEnrollments(home, out)).files, []);

    await revokeCertificate(home, b.record.serial, { reason: "certificateHold" });
    await exportDisabledEnrollments(home, out);
    await revokeCertificate(home, b.record.serial, { reason: "removeFromCRL" });
    const released = await exportDisabledEnrollments(home, out);
    assert.deepEqual(released.released.map((r) => r.registrationId), ["dev-b"]);
    const del = bodies(out).at(-1)!.body;
    assert.equal(del.mode, "delete");
    assert.equal(del.enrollments[0]!.registrationId, "dev-b");

    await assert.rejects(exportDisabledEnrollments(home, out, { ca: "nope" }), (e: unknown) => isTrustlineError(e, "NOT_FOUND"));
    const firmware = await exportDisabledEnrollments(home, join(dir, "fw"), { ca: "firmware", all: true });
    assert.deepEqual(firmware.files, []);
  } finally {
    cleanup();
  }
});

test("one enrollment per registration ID: of two revoked certificates with one CN, the latest blocks it", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const first = await generateDeviceCertificate(home, "dev-twice");
    const second = await generateDeviceCertificate(home, "DEV-TWICE");
    await revokeCertificate(home, first.record.serial, { reason: "superseded" });
    await revokeCertificate(home, second.record.serial, { reason: "keyCompromise" });
    const r = await exportDisabledEnrollments(home, join(dir, "dps"));
    assert.deepEqual(r.disabled.map((d) => d.serial), [second.record.serial]);
    assert.deepEqual(r.skipped.map((s) => s.serial), [first.record.serial]);
  } finally {
    cleanup();
  }
});

test("individual-enrollment: status follows the certificate; enabling a revoked one is refused", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const d = await generateDeviceCertificate(home, "dev-0001");
    const valid = await individualEnrollment(home, d.record.serial.toUpperCase().match(/../g)!.join(":"));
    assert.equal(valid.enrollment.provisioningStatus, "enabled");
    assert.equal(valid.certificateStatus, "valid");
    assert.deepEqual(validate(valid.enrollment, "IndividualEnrollment", { create: true }), []);
    assert.equal(valid.enrollment.attestation.x509.clientCertificates?.primary.certificate, d.pem);
    assert.equal((await individualEnrollment(home, d.record.serial, { status: "disabled" })).enrollment.provisioningStatus, "disabled");
    await revokeCertificate(home, d.record.serial, { reason: "keyCompromise" });
    assert.equal((await individualEnrollment(home, d.record.serial)).enrollment.provisioningStatus, "disabled");
    await assert.rejects(individualEnrollment(home, d.record.serial, { status: "enabled" }), (e: unknown) => isTrustlineError(e, "POLICY_DENIED"));
    await assert.rejects(individualEnrollment(home, "01"), (e: unknown) => isTrustlineError(e, "NOT_FOUND"));
    const ca = home.state.cas.device!;
    await assert.rejects(individualEnrollment(home, ca.serial), (e: unknown) => isTrustlineError(e) && ["INPUT_INVALID", "NOT_FOUND"].includes(e.code));
  } finally {
    cleanup();
  }
});
