/**
 * A firmware signature made before issue 14 (manifest under the legacy 2.25 arc, signer certified
 * under the legacy firmware policy) still verifies, with its manifest checks: the fixture in
 * test/fixtures/firmware-v1 was made by that code and is never regenerated.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { verifyFirmware } from "../../ca/index.js";
import { LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { REPO_ROOT, runCli } from "../helpers/pki.js";

const FIXTURE = join(REPO_ROOT, "test", "fixtures", "firmware-v1");
const file = (name: string) => readFileSync(join(FIXTURE, name));
/** Within the fixture CRLs' validity (firmware CRL: 2026-03-01T12:00Z to 2026-03-08T12:00Z). */
const NOW = new Date("2026-03-02T12:00:00.000Z");

function verifyLegacy(extra: { minSecurityVersion?: number; hardware?: string; image?: string } = {}) {
  return verifyFirmware({
    image: extra.image ?? join(FIXTURE, "fw.bin"),
    signature: file("fw.bin.p7s"),
    trust: [file("root.pem")],
    crls: [file("firmware.crl"), file("root.crl")],
    now: NOW,
    ...(extra.minSecurityVersion !== undefined ? { minSecurityVersion: extra.minSecurityVersion } : {}),
    ...(extra.hardware !== undefined ? { hardware: extra.hardware } : {}),
  });
}

test("a signature made before the change verifies, with its manifest and the legacy firmware policy", async () => {
  const v = await verifyLegacy({ minSecurityVersion: 7, hardware: "tc-100" });
  assert.equal(v.valid, true, v.valid ? "" : `${v.check}: ${v.reason}`);
  assert.equal(v.evidence.manifest?.format, "trustline-firmware-manifest/1");
  assert.equal(v.evidence.manifest?.version, "1.4.2");
  assert.equal(v.evidence.manifest?.securityVersion, 7);
  assert.deepEqual(v.evidence.policies, [`${LEGACY_TRUSTLINE_ARC}.1.2`]);
  assert.equal(v.evidence.crls?.length, 2);
});

test("--min-security-version still refuses the old format below the minimum, and --hardware another model", async () => {
  const low = await verifyLegacy({ minSecurityVersion: 8 });
  assert.equal(low.valid, false);
  assert.equal(!low.valid && low.check, "manifest");
  assert.match(!low.valid ? low.reason : "", /security version 7 is below the minimum 8/);
  const other = await verifyLegacy({ hardware: "tc-200" });
  assert.equal(!other.valid && other.check, "manifest");
});

test("the old signature over another image is refused (message-digest)", async () => {
  const v = await verifyLegacy({ image: join(FIXTURE, "root.pem") });
  assert.equal(!v.valid && v.check, "message-digest");
});

test("trustline firmware verify (CLI) on the old format: --min-security-version 7 passes, 8 refuses (exit 1, check manifest)", () => {
  const args = ["firmware", "verify", join(FIXTURE, "fw.bin"), "--signature", join(FIXTURE, "fw.bin.p7s"), "--trust", join(FIXTURE, "root.pem"), "--no-revocation", "--hardware", "tc-100", "--json"];
  const ok = runCli([...args, "--min-security-version", "7"]);
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  const low = runCli([...args, "--min-security-version", "8"]);
  assert.equal(low.status, 1);
  assert.deepEqual([JSON.parse(low.stdout).check, JSON.parse(low.stdout).reason], ["manifest", "security version 7 is below the minimum 8 (anti-rollback)"]);
});
