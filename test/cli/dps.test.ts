/**
 * `trustline dps ...` as a cloud team runs it: the built CLI in a child process, against loopback
 * DPS and ARM services (and a loopback managed-identity endpoint for DefaultAzureCredential).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describeRun, expectError, expectOk, initCliHome, json, runCliAsync, type TestHome } from "./cli-helpers.js";
import { startFakeDps, type FakeDps } from "../helpers/fake-dps.js";
import { startFakeArm, type FakeArm } from "../helpers/fake-arm.js";
import { validate } from "../helpers/dps-model.js";
import { runCli, tempDir, writeTemp } from "../helpers/pki.js";

let dir: string;
let cleanup: () => void;
let h: TestHome;
const serials: string[] = [];

before(async () => {
  ({ dir, cleanup } = tempDir());
  h = initCliHome(dir);
  for (let i = 0; i < 12; i++) {
    const r = runCli([...h.g, "--json", "issue", "device", "--generate", `dev-${String(i).padStart(4, "0")}`, "--out-dir", join(dir, "devices", String(i))]);
    assert.equal(r.status, 0, describeRun(r));
    serials.push(json<{ serial: string }>(r).serial);
  }
});

after(() => cleanup());

test("dps --help lists the commands; each has examples", () => {
  const top = runCli(["dps", "--help"]);
  assert.equal(top.status, 0);
  for (const c of ["enrollment-group", "verification-cert", "disabled-enrollments", "individual-enrollment", "push", "upload-ca"]) {
    assert.match(top.stdout, new RegExp(`\\b${c}\\b`));
    const help = runCli(["dps", c, "--help"]);
    assert.equal(help.status, 0, c);
    assert.match(help.stdout, /Examples:\n {2}\$ trustline dps /, c);
  }
});

test("dps enrollment-group: the body (valid, the device CA byte for byte) and the az command", async () => {
  const r = await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "line-7", "--iot-hub", "hub1.azure-devices.net", "hub2.azure-devices.net", "--tags", '{"line":7}']);
  expectOk(r);
  const doc = json<{ enrollmentGroup: any; az: { commandLine: string } }>(r);
  assert.deepEqual(validate(doc.enrollmentGroup, "EnrollmentGroup", { create: true }), []);
  const ca = await runCliAsync([...h.gNoPass, "ca", "export", "device"]);
  expectOk(ca);
  assert.equal(doc.enrollmentGroup.attestation.x509.signingCertificates.primary.certificate, ca.stdout);
  assert.deepEqual(doc.enrollmentGroup.iotHubs, ["hub1.azure-devices.net", "hub2.azure-devices.net"]);
  assert.match(doc.az.commandLine, /^az iot dps enrollment-group create .*--enrollment-id line-7 .*--iot-hubs hub1\.azure-devices\.net hub2\.azure-devices\.net .*--initial-twin-tags '\{"line":7\}'$/);

  const out = join(dir, "group.json");
  const w = await runCliAsync([...h.gNoPass, "dps", "enrollment-group", "--id", "line-7", "--out", out]);
  expectOk(w);
  assert.match(w.stdout, /Wrote enrollment group line-7 to .*group\.json\nEquivalent az command:\n {2}az iot dps enrollment-group create /);
  assert.equal(JSON.parse(readFileSync(out, "utf8")).enrollmentGroupId, "line-7");
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "line-7", "--out", out]), 4, "ALREADY_EXISTS");

  const plain = await runCliAsync([...h.gNoPass, "dps", "enrollment-group", "--id", "line-7"]);
  expectOk(plain);
  assert.equal(JSON.parse(plain.stdout).enrollmentGroupId, "line-7", "stdout is the body alone");
  assert.match(plain.stderr, /Equivalent az command/);

  const e = expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "g", "--allocation", "static"]), 3, "INPUT_INVALID");
  assert.match(e.message, /exactly one IoT hub/);
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "g", "--allocation", "custom"]), 3, "INPUT_INVALID");
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "g", "--tags", "{nope"]), 2, "USAGE");
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group", "--id", "g", "--allocation", "random"]), 2, "USAGE");
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "enrollment-group"]), 2, "USAGE");
});

test("dps verification-cert: CN = the code, signed by the CA; needs the passphrase", async () => {
  const out = join(dir, "verify.pem");
  const r = await runCliAsync([...h.g, "--json", "dps", "verification-cert", "--code", "0A1B2C3D4E5F", "--out", out]);
  expectOk(r);
  const doc = json<{ commonName: string; profile: string; ca: string; pem: string }>(r);
  assert.equal(doc.commonName, "0A1B2C3D4E5F");
  assert.equal(doc.profile, "dps-verification");
  assert.equal(readFileSync(out, "utf8"), doc.pem);
  const pem = await runCliAsync([...h.g, "dps", "verification-cert", "--code", "FFEE", "--ca", "root"]);
  expectOk(pem);
  assert.match(pem.stdout, /^-----BEGIN CERTIFICATE-----\n/);
  expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "verification-cert", "--code", "ABCD"]), 4, "PASSPHRASE_REQUIRED");
  expectError(await runCliAsync([...h.g, "--json", "dps", "verification-cert", "--code", "no spaces"]), 3, "POLICY_DENIED");
  expectError(await runCliAsync([...h.g, "--json", "dps", "verification-cert", "--code", "ABCD", "--out", join(dir, "missing", "v.pem")]), 3, "INPUT_INVALID");
});

test("dps disabled-enrollments and individual-enrollment", async () => {
  const home = join(dir, "h2");
  mkdirSync(home);
  const h2 = initCliHome(home);
  const mine: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await runCliAsync([...h2.g, "--json", "issue", "device", "--generate", `unit-${i}`, "--out-dir", join(home, "d", String(i))]);
    expectOk(r);
    mine.push(json<{ serial: string }>(r).serial);
  }
  for (const s of mine.slice(0, 11)) expectOk(await runCliAsync([...h2.g, "revoke", s, "--reason", "keyCompromise"]));
  const outDir = join(home, "dps");
  const r = await runCliAsync([...h2.g, "--json", "dps", "disabled-enrollments", "--out-dir", outDir]);
  expectOk(r);
  const doc = json<{ files: { path: string; items: number }[]; disabled: unknown[] }>(r);
  assert.deepEqual(doc.files.map((f) => f.items), [10, 1]);
  assert.deepEqual(readdirSync(outDir).sort(), ["enrollments-0001.json", "enrollments-0002.json"]);
  const again = await runCliAsync([...h2.g, "dps", "disabled-enrollments", "--out-dir", outDir]);
  expectOk(again);
  assert.match(again.stdout, /Nothing to export/);

  const one = await runCliAsync([...h2.gNoPass, "dps", "individual-enrollment", mine[0]!]);
  expectOk(one);
  assert.equal(JSON.parse(one.stdout).provisioningStatus, "disabled");
  const valid = await runCliAsync([...h2.gNoPass, "--json", "dps", "individual-enrollment", mine[11]!]);
  expectOk(valid);
  assert.equal(json<{ enrollment: { provisioningStatus: string } }>(valid).enrollment.provisioningStatus, "enabled");
  expectError(await runCliAsync([...h2.gNoPass, "--json", "dps", "individual-enrollment", mine[0]!, "--status", "enabled"]), 3, "POLICY_DENIED");
  expectError(await runCliAsync([...h2.gNoPass, "--json", "dps", "individual-enrollment", "abcdef"]), 3, "NOT_FOUND");
});

test("dps push: through the real client to a loopback DPS; 401, 412 and bulk errors give their exit statuses", async () => {
  const dps: FakeDps = await startFakeDps();
  try {
    const csFile = writeTemp(dir, "dps-cs.txt", `${dps.connectionString}\n`);
    const caFile = writeTemp(dir, "dps-tls.pem", dps.certificate);
    const net = ["--endpoint", `127.0.0.1:${dps.port}`, "--trusted-ca", caFile];
    for (const s of serials.slice(0, 3)) expectOk(await runCliAsync([...h.g, "revoke", s, "--reason", "keyCompromise"]));

    expectError(await runCliAsync([...h.gNoPass, "--json", "dps", "push", ...net]), 2, "USAGE");

    const wrong = writeTemp(dir, "dps-cs-wrong.txt", `HostName=localhost;SharedAccessKeyName=${dps.keyName};SharedAccessKey=${randomBytes(32).toString("base64")}`);
    const unauthorized = await runCliAsync([...h.g, "--json", "dps", "push", "--connection-string-file", wrong, ...net]);
    const e401 = expectError(unauthorized, 4, "AUTH_REQUIRED");
    assert.equal(e401.details.httpStatus, 401);

    const ok = await runCliAsync([...h.g, "--json", "dps", "push", "--connection-string-file", csFile, "--group-id", "line-7", "--iot-hub", "hub1.azure-devices.net", ...net]);
    expectOk(ok);
    const doc = json<{ group: { id: string; action: string }; disabled: unknown[]; bodies: number }>(ok);
    assert.deepEqual(doc.group.action, "created");
    assert.equal(doc.disabled.length, 3);
    assert.equal(dps.enrollments.size, 3);
    assert.ok(dps.groups.has("line-7"));
    for (const run of [unauthorized, ok]) assert.ok(!(run.stdout + run.stderr).includes(dps.key), "the key is never printed");

    // The same with the connection string from the environment, human output.
    const env = await runCliAsync([...h.g, "dps", "push", ...net], { env: { TRUSTLINE_DPS_CONNECTION_STRING: dps.connectionString } });
    expectOk(env);
    assert.match(env.stdout, /Pushed to DPS localhost:\n {2}0 disabled enrollments/);

    dps.afterGroupGet = (id) => (dps.groups.get(id.toLowerCase())!.etag = '"changed-meanwhile"');
    const e412 = expectError(await runCliAsync([...h.g, "--json", "dps", "push", "--connection-string-file", csFile, "--group-id", "line-7", "--no-enrollments", ...net]), 4, "STORE_CONFLICT");
    assert.equal(e412.details.httpStatus, 412);
    dps.afterGroupGet = undefined;

    expectOk(await runCliAsync([...h.g, "revoke", serials[3]!, "--reason", "keyCompromise"]));
    dps.enrollments.set("taken", { etag: '"t"', created: "", body: { thumb: thumbOfDevice(3) } });
    const bulk = expectError(await runCliAsync([...h.g, "--json", "dps", "push", "--connection-string-file", csFile, ...net]), 3, "REMOTE_REJECTED");
    assert.deepEqual(bulk.details.errors.map((x: { registrationId: string }) => x.registrationId), ["dev-0003"]);
  } finally {
    await dps.close();
  }
});

test("dps upload-ca: DefaultAzureCredential (managed identity) and the ARM client against loopback ARM", async () => {
  const arm: FakeArm = await startFakeArm();
  const identityHeader = randomBytes(8).toString("hex");
  let issued = arm.token;
  const msi: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.headers["x-identity-header"] !== identityHeader) {
      res.writeHead(401).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ access_token: issued, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: url.searchParams.get("resource"), token_type: "Bearer" }));
  });
  await new Promise<void>((resolve) => msi.listen(0, "127.0.0.1", resolve));
  try {
    const env = { IDENTITY_ENDPOINT: `http://127.0.0.1:${(msi.address() as AddressInfo).port}/msi/token`, IDENTITY_HEADER: identityHeader };
    const caFile = writeTemp(dir, "arm-tls.pem", arm.certificate);
    const args = ["dps", "upload-ca", "--subscription", arm.subscriptionId, "--resource-group", arm.resourceGroup, "--dps", arm.dpsName, "--arm-endpoint", arm.endpoint, "--trusted-ca", caFile];
    const ok = await runCliAsync([...h.g, "--json", ...args], { env });
    expectOk(ok);
    const doc = json<{ verified: boolean; certificateName: string; verificationCertificate: { serial: string } }>(ok);
    assert.equal(doc.verified, true);
    assert.equal(doc.certificateName, "device");
    assert.ok(arm.certificates.get("device")!.isVerified);
    assert.ok(!(ok.stdout + ok.stderr).includes(arm.token));

    issued = "a-token-arm-refuses";
    const e401 = expectError(await runCliAsync([...h.g, "--json", ...args, "--name", "other"], { env }), 4, "AUTH_REQUIRED");
    assert.ok(!JSON.stringify(e401).includes(issued));
    expectError(await runCliAsync([...h.gNoPass, "--json", ...args], { env }), 4, "PASSPHRASE_REQUIRED");
    expectError(await runCliAsync([...h.g, "--json", "dps", "upload-ca", "--subscription", arm.subscriptionId, "--dps", arm.dpsName]), 2, "USAGE");
  } finally {
    await new Promise<void>((resolve) => msi.close(() => resolve()));
    await arm.close();
  }
});

/** SHA-256 of device i's certificate, as the fake DPS indexes certificates. */
function thumbOfDevice(i: number): string {
  const folder = join(dir, "devices", String(i));
  const certFile = readdirSync(folder).find((f) => f === `dev-${String(i).padStart(4, "0")}.cert.pem`);
  assert.ok(certFile, `no certificate in ${folder}: ${readdirSync(folder).join(", ")}`);
  return createHash("sha256").update(new X509Certificate(readFileSync(join(folder, certFile))).raw).digest("hex");
}
