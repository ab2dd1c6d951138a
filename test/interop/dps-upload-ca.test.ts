/**
 * `uploadCaToDps` through Azure's ARM client (@azure/arm-deviceprovisioningservices) against a
 * loopback Resource Manager that checks the paths, the api-version, the bearer token and the
 * etags, and verifies the proof of possession for real (CN = code, signed by the uploaded CA).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { type AuditEntry, createCa, type Home, isTrustlineError, normalizeSerial, pemBlocks, readAuditLog, showCertificate, uploadCaToDps } from "../../ca/index.js";
import { ARM_DPS_API_VERSION, type FakeArm, startFakeArm } from "../helpers/fake-arm.js";
import { makeHome, tempDir } from "../helpers/pki.js";

function caDerForTests(home: Home, name: string): Uint8Array {
  return pemBlocks(home.state.cas[name]!.certificate)[0]!.der;
}

async function withArm(fn: (home: Home, arm: FakeArm) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  const arm = await startFakeArm();
  try {
    await fn(await makeHome(dir), arm);
  } finally {
    await arm.close();
    cleanup();
  }
}

const target = (arm: FakeArm) => ({ subscriptionId: arm.subscriptionId, resourceGroup: arm.resourceGroup, dpsName: arm.dpsName, credential: arm.credential, endpoint: arm.endpoint, agent: arm.agent });

async function audit(home: Home): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditLog(home)) if (e.action === "dps.upload-ca") out.push(e);
  return out;
}

test("upload-ca: upload, verification code, proof of possession, verified; each request as ARM expects it", async () => {
  await withArm(async (home, arm) => {
    const r = await uploadCaToDps(home, target(arm));
    const der = caDerForTests(home, "device");
    const thumbprint = createHash("sha1").update(der).digest("hex").toUpperCase();
    assert.equal(r.verified, true);
    assert.equal(r.uploaded, true);
    assert.equal(r.alreadyVerified, false);
    assert.equal(r.certificateName, "device");
    assert.equal(r.thumbprint, thumbprint);
    assert.ok(arm.certificates.get("device")!.isVerified);

    const base = `/subscriptions/${arm.subscriptionId}/resourceGroups/${arm.resourceGroup}/providers/Microsoft.Devices/provisioningServices/${arm.dpsName}/certificates/device`;
    assert.deepEqual(
      arm.requests.map((q) => [q.method, q.path, q.status]),
      [
        ["GET", base, 404],
        ["PUT", base, 200],
        ["POST", `${base}/generateVerificationCode`, 200],
        ["POST", `${base}/verify`, 200],
      ],
    );
    for (const q of arm.requests) {
      assert.equal(q.query["api-version"], ARM_DPS_API_VERSION);
      assert.equal(q.headers.authorization, `Bearer ${arm.token}`);
    }
    assert.deepEqual([...new Set(arm.credential.scopes)], ["https://management.azure.com/.default"]);
    const put = arm.requests[1]!;
    assert.equal(put.headers["if-match"], undefined);
    assert.deepEqual(Buffer.from((put.body as { properties: { certificate: string } }).properties.certificate, "base64"), Buffer.from(der));
    // Each POST carries the etag of the previous answer.
    assert.ok(arm.requests[2]!.headers["if-match"]);
    assert.notEqual(arm.requests[3]!.headers["if-match"], arm.requests[2]!.headers["if-match"]);
    // The proof: CN = the code, issued through the pipeline (profile dps-verification), and kept in the inventory.
    const proof = new X509Certificate((arm.requests[3]!.body as { certificate: string }).certificate);
    const trace = await showCertificate(home, { serial: r.verificationCertificate!.serial });
    assert.equal(trace.profile, "dps-verification");
    assert.equal(proof.subject, `CN=${trace.commonName}`);
    // Whole bytes only: a serial whose first byte is below 0x10 starts with "0" in hex.
    assert.equal(normalizeSerial(proof.serialNumber), r.verificationCertificate!.serial);

    // Again: DPS already holds this certificate, verified: nothing uploaded, nothing issued.
    const n = arm.requests.length;
    const again = await uploadCaToDps(home, target(arm));
    assert.equal(again.alreadyVerified, true);
    assert.equal(again.verificationCertificate, undefined);
    assert.deepEqual(arm.requests.slice(n).map((q) => q.method), ["GET"]);
    assert.deepEqual((await audit(home)).map((e) => [e.outcome, e.details!.alreadyVerified]), [["ok", false], ["ok", true]]);
    assert.ok(!JSON.stringify(await audit(home)).includes(arm.token), "no token in the audit log");
  });
});

test("upload-ca: a rolled-over CA replaces the certificate with its etag", async () => {
  await withArm(async (home, arm) => {
    await uploadCaToDps(home, target(arm));
    await createCa(home, { name: "device-2027", profile: "device-ca", parent: "root" });
    const n = arm.requests.length;
    const r = await uploadCaToDps(home, { ...target(arm), ca: "device-2027", certificateName: "device" });
    assert.equal(r.uploaded, true);
    const put = arm.requests.slice(n).find((q) => q.method === "PUT")!;
    assert.ok(put.headers["if-match"], "replacing needs If-Match");
    assert.deepEqual(Buffer.from(arm.certificates.get("device")!.der), Buffer.from(caDerForTests(home, "device-2027")));
  });
});

test("upload-ca: a refused token is a 401: AUTH_REQUIRED, the token in no message, audited as failed", async () => {
  await withArm(async (home, arm) => {
    const stale = "stale-token-0123456789abcdef";
    const credential = { getToken: async () => ({ token: stale, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    await assert.rejects(uploadCaToDps(home, { ...target(arm), credential }), (e: unknown) => {
      assert.ok(isTrustlineError(e, "AUTH_REQUIRED"), String(e));
      assert.equal(e.details.httpStatus, 401);
      assert.ok(!e.message.includes(stale) && !JSON.stringify(e.details).includes(stale));
      return true;
    });
    const entries = await audit(home);
    assert.deepEqual(entries.map((e) => e.outcome), ["failed"]);
    assert.ok(!JSON.stringify(entries).includes(stale));
  });
});

test("upload-ca: the certificate changed after the code was issued: 412 etag conflict, STORE_CONFLICT", async () => {
  await withArm(async (home, arm) => {
    arm.bumpEtagAfterCode = true;
    await assert.rejects(uploadCaToDps(home, target(arm)), (e: unknown) => {
      assert.ok(isTrustlineError(e, "STORE_CONFLICT"), String(e));
      assert.equal(e.details.httpStatus, 412);
      assert.match(e.message, /etag conflict/);
      return true;
    });
    assert.equal(arm.requests.at(-1)!.path.endsWith("/verify"), true);
    assert.equal(arm.certificates.get("device")!.isVerified, false);
  });
});

test("upload-ca: bad names are refused before any request; the firmware CA is not for DPS", async () => {
  await withArm(async (home, arm) => {
    await assert.rejects(uploadCaToDps(home, { ...target(arm), subscriptionId: "not-a-guid" }), (e: unknown) => isTrustlineError(e, "USAGE"));
    await assert.rejects(uploadCaToDps(home, { ...target(arm), certificateName: "no spaces allowed" }), (e: unknown) => isTrustlineError(e, "USAGE"));
    await assert.rejects(uploadCaToDps(home, { ...target(arm), ca: "firmware" }), (e: unknown) => isTrustlineError(e, "INPUT_INVALID"));
    assert.equal(arm.requests.length, 0);
  });
});
