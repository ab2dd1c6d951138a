/**
 * `pushToDps` through Azure's own client (azure-iot-provisioning-service 1.11.2) against a loopback
 * DPS that checks the exact requests: paths, api-version 2021-10-01, SAS signature, bodies, If-Match.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  type AuditEntry,
  exportCa,
  generateDeviceCertificate,
  type GeneratedDevice,
  type Home,
  isTrustlineError,
  pushToDps,
  readAuditLog,
  revokeCertificate,
} from "../../ca/index.js";
import { validate } from "../helpers/dps-model.js";
import { DPS_API_VERSION, type FakeDps, startFakeDps } from "../helpers/fake-dps.js";
import { makeHome, tempDir } from "../helpers/pki.js";

async function withDps(fn: (home: Home, dps: FakeDps, devices: GeneratedDevice[]) => Promise<void>, deviceCount = 12): Promise<void> {
  const { dir, cleanup } = tempDir();
  const dps = await startFakeDps();
  try {
    const home = await makeHome(dir);
    const devices: GeneratedDevice[] = [];
    for (let i = 0; i < deviceCount; i++) devices.push(await generateDeviceCertificate(home, `dev-${String(i).padStart(4, "0")}`));
    await fn(home, dps, devices);
  } finally {
    await dps.close();
    cleanup();
  }
}

async function audit(home: Home, action: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditLog(home)) if (e.action === action) out.push(e);
  return out;
}

test("push: the group then the disabled enrollments, exactly as the service expects them", async () => {
  await withDps(async (home, dps, devices) => {
    for (const d of devices.slice(0, 11)) await revokeCertificate(home, d.record.serial, { reason: "keyCompromise" });
    const r = await pushToDps(home, { connectionString: dps.connectionString, group: { id: "line-7", iotHubs: ["hub1.azure-devices.net"] }, transport: { agent: dps.agent } });
    assert.deepEqual(r.group, { id: "line-7", action: "created", etag: dps.groups.get("line-7")!.etag });
    assert.equal(r.bodies, 2);
    assert.equal(r.disabled.length, 11);
    assert.equal(r.hostName, "localhost");

    assert.deepEqual(
      dps.requests.map((q) => [q.method, q.path, q.status]),
      [
        ["GET", "/enrollmentGroups/line-7", 404],
        ["PUT", "/enrollmentGroups/line-7", 200],
        ["POST", "/enrollments/", 200],
        ["POST", "/enrollments/", 200],
      ],
    );
    for (const q of dps.requests) {
      assert.deepEqual(q.query, { "api-version": DPS_API_VERSION });
      assert.match(String(q.headers.authorization), /^SharedAccessSignature sr=localhost&sig=[^&]+&skn=provisioningserviceowner&se=\d+$/);
    }
    const put = dps.requests[1]!;
    assert.equal(put.headers["if-match"], undefined, "a first create carries no If-Match");
    assert.deepEqual(validate(put.body, "EnrollmentGroup", { create: true }), []);
    assert.equal((put.body as { attestation: { x509: { signingCertificates: { primary: { certificate: string } } } } }).attestation.x509.signingCertificates.primary.certificate, await exportCa(home, "device"));
    const bulks = dps.requests.slice(2).map((q) => q.body as { mode: string; enrollments: { registrationId: string; provisioningStatus: string }[] });
    assert.deepEqual(bulks.map((b) => [b.mode, b.enrollments.length]), [["update", 10], ["update", 1]]);
    for (const b of bulks) assert.deepEqual(validate(b, "BulkEnrollmentOperation", { create: true }), []);
    assert.deepEqual([...dps.enrollments.keys()].sort(), devices.slice(0, 11).map((d) => d.record.commonName).sort());
    assert.ok(bulks.every((b) => b.enrollments.every((e) => e.provisioningStatus === "disabled")));

    // Second push: the group is updated with the etag just read; no enrollment is sent again.
    const etag = dps.groups.get("line-7")!.etag;
    const again = await pushToDps(home, { connectionString: dps.connectionString, group: { id: "line-7", iotHubs: ["hub1.azure-devices.net", "hub2.azure-devices.net"] }, transport: { agent: dps.agent } });
    assert.equal(again.group?.action, "updated");
    assert.equal(again.bodies, 0);
    const update = dps.requests.at(-1)!;
    assert.equal(update.method, "PUT");
    assert.equal(update.headers["if-match"], etag);
    assert.deepEqual((dps.groups.get("line-7")!.body as { iotHubs: string[] }).iotHubs, ["hub1.azure-devices.net", "hub2.azure-devices.net"]);

    // A new revocation: only it goes.
    await revokeCertificate(home, devices[11]!.record.serial, { reason: "superseded" });
    const third = await pushToDps(home, { connectionString: dps.connectionString, transport: { agent: dps.agent } });
    assert.equal(third.bodies, 1);
    assert.deepEqual(third.disabled.map((d) => d.registrationId), [devices[11]!.record.commonName]);
    const pushes = await audit(home, "dps.push");
    assert.deepEqual(pushes.map((p) => p.outcome), ["ok", "ok", "ok"]);
    const auditText = JSON.stringify(pushes);
    assert.ok(!auditText.includes(dps.key) && !auditText.includes("SharedAccessSignature"), "no secret in the audit log");
  });
});

test("push: a wrong key is a 401 from DPS: AUTH_REQUIRED, no secret in the message, nothing marked as sent", async () => {
  await withDps(async (home, dps, devices) => {
    await revokeCertificate(home, devices[0]!.record.serial, { reason: "keyCompromise" });
    const wrongKey = randomBytes(32).toString("base64");
    const cs = `HostName=localhost;SharedAccessKeyName=${dps.keyName};SharedAccessKey=${wrongKey}`;
    await assert.rejects(pushToDps(home, { connectionString: cs, transport: { agent: dps.agent } }), (e: unknown) => {
      assert.ok(isTrustlineError(e, "AUTH_REQUIRED"), String(e));
      assert.equal(e.details.httpStatus, 401);
      assert.match(e.message, /HTTP 401/);
      assert.ok(!e.message.includes(wrongKey) && !JSON.stringify(e.details).includes(wrongKey));
      assert.ok(!/sig=|SharedAccessSignature sr/.test(e.message));
      return true;
    });
    assert.equal(dps.requests.at(-1)!.status, 401);
    // The right key later: the revocation is still pending, so it is sent.
    const r = await pushToDps(home, { connectionString: dps.connectionString, transport: { agent: dps.agent } });
    assert.equal(r.disabled.length, 1);
    const pushes = await audit(home, "dps.push");
    assert.deepEqual(pushes.map((p) => p.outcome), ["failed", "ok"]);
    assert.ok(!JSON.stringify(pushes).includes(wrongKey));
  }, 1);
});

test("push: the group changed in DPS between our read and our write: 412 etag conflict, STORE_CONFLICT", async () => {
  await withDps(async (home, dps) => {
    await pushToDps(home, { connectionString: dps.connectionString, group: { id: "line-7" }, transport: { agent: dps.agent } });
    // Another writer updates the group right after we read it.
    dps.afterGroupGet = (id) => {
      const g = dps.groups.get(id.toLowerCase())!;
      g.etag = `"concurrent-${randomBytes(4).toString("hex")}"`;
    };
    await assert.rejects(pushToDps(home, { connectionString: dps.connectionString, group: { id: "line-7", edge: true }, transport: { agent: dps.agent } }), (e: unknown) => {
      assert.ok(isTrustlineError(e, "STORE_CONFLICT"), String(e));
      assert.equal(e.details.httpStatus, 412);
      assert.match(e.message, /etag conflict/);
      return true;
    });
    assert.deepEqual(dps.requests.slice(-2).map((q) => [q.method, q.status]), [["GET", 200], ["PUT", 412]]);
  }, 0);
});

test("push: a bulk result with errors is REMOTE_REJECTED listing each refused enrollment; a retry sends them again", async () => {
  await withDps(async (home, dps, devices) => {
    for (const d of devices.slice(0, 3)) await revokeCertificate(home, d.record.serial, { reason: "keyCompromise" });
    // DPS already holds dev-0001's certificate under another registration ID: a certificate may be in one enrollment only.
    dps.enrollments.set("someone-else", { etag: '"x"', created: new Date().toISOString(), body: { thumb: await thumbOf(devices[1]!) } });
    await assert.rejects(pushToDps(home, { connectionString: dps.connectionString, transport: { agent: dps.agent } }), (e: unknown) => {
      assert.ok(isTrustlineError(e, "REMOTE_REJECTED"), String(e));
      assert.deepEqual((e.details.errors as { registrationId: string; errorCode: number }[]).map((x) => [x.registrationId, x.errorCode]), [["dev-0001", 409203]]);
      assert.match(e.message, /refused 1 enrollment/);
      assert.match(e.message, /dev-0001: The certificate is already used by enrollment someone-else/);
      return true;
    });
    const last = dps.requests.at(-1)!;
    assert.equal(last.status, 200);
    assert.deepEqual(last.body && (last.body as { enrollments: unknown[] }).enrollments.length, 3);
    // Fixed in DPS: the next push sends the same three again (mode update: the two accepted ones are harmless).
    dps.enrollments.delete("someone-else");
    const r = await pushToDps(home, { connectionString: dps.connectionString, transport: { agent: dps.agent } });
    assert.equal(r.disabled.length, 3);
    assert.equal(dps.enrollments.size, 3);
  }, 3);
});

test("push: connection strings are checked before anything is sent, without echoing the key", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const key = randomBytes(32).toString("base64");
    for (const cs of ["nonsense", `HostName=x.azure-devices-provisioning.net;SharedAccessKey=${key}`, `HostName=localhost:8443;SharedAccessKeyName=p;SharedAccessKey=${key}`, "HostName=h.example;SharedAccessKeyName=p;SharedAccessKey=not base64!"]) {
      await assert.rejects(pushToDps(home, { connectionString: cs }), (e: unknown) => isTrustlineError(e, "INPUT_INVALID") && !e.message.includes(key), cs.slice(0, 30));
    }
    await assert.rejects(pushToDps(home, { connectionString: `HostName=localhost;SharedAccessKeyName=p;SharedAccessKey=${key}`, group: { id: "bad id" } }), (e: unknown) => isTrustlineError(e, "INPUT_INVALID"));
  } finally {
    cleanup();
  }
});

test("push: an unreachable DPS is REMOTE_UNAVAILABLE", async () => {
  const dps = await startFakeDps();
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const port = dps.port;
    await dps.close();
    await assert.rejects(pushToDps(home, { connectionString: dps.connectionString, group: { id: "g" }, transport: { endpoint: `127.0.0.1:${port}`, trustedCa: dps.certificate } }), (e: unknown) => isTrustlineError(e, "REMOTE_UNAVAILABLE") && /ECONNREFUSED/.test(e.message));
  } finally {
    cleanup();
  }
});

async function thumbOf(d: GeneratedDevice): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("sha256").update(d.der).digest("hex");
}
