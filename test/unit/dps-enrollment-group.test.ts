/** The exported enrollment group against the DPS 2021-10-01 EnrollmentGroup model, and DPS's own rules. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildEnrollmentGroup, createCa, exportCa, isTrustlineError, type EnrollmentGroupOptions } from "../../ca/index.js";
import { ALLOCATION_POLICY_ENUM, MODELS, PROVISIONING_STATUS_ENUM, validate } from "../helpers/dps-model.js";
import { makeHome, tempDir } from "../helpers/pki.js";

test("the model written from the 2021-10-01 spec: required fields and enums", () => {
  assert.deepEqual(MODELS.EnrollmentGroup.required, ["enrollmentGroupId", "attestation"]);
  assert.deepEqual(MODELS.IndividualEnrollment.required, ["registrationId", "attestation"]);
  assert.deepEqual(MODELS.ReprovisionPolicy.required, ["updateHubAssignment", "migrateDeviceData"]);
  assert.deepEqual(MODELS.DeviceCapabilities.required, ["iotEdge"]);
  assert.deepEqual(MODELS.CustomAllocationDefinition.required, ["webhookUrl", "apiVersion"]);
  assert.deepEqual([...ALLOCATION_POLICY_ENUM], ["hashed", "geoLatency", "static", "custom"]);
  assert.deepEqual([...PROVISIONING_STATUS_ENUM], ["enabled", "disabled"]);
  // The validator itself catches what the service refuses.
  assert.deepEqual(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} } }, "EnrollmentGroup"), []);
  assert.ok(validate({ enrollmentGroupId: "g" }, "EnrollmentGroup").some((p) => p.includes("attestation")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} }, allocationPolicy: "random" }, "EnrollmentGroup").some((p) => p.includes("allocationPolicy")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} }, createdDateTimeUtc: "2026-01-01T00:00:00Z" }, "EnrollmentGroup").some((p) => p.includes("read-only")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: { signingCertificates: { primary: { certificate: "x", info: {} } } } } }, "EnrollmentGroup").some((p) => p.includes("info")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} }, reprovisionPolicy: { updateHubAssignment: true } }, "EnrollmentGroup").some((p) => p.includes("migrateDeviceData")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} }, capabilities: {} }, "EnrollmentGroup").some((p) => p.includes("iotEdge")));
  assert.ok(validate({ enrollmentGroupId: "g", attestation: { type: "x509", x509: {} }, etag: "x" }, "EnrollmentGroup", { create: true }).some((p) => p.includes("etag")));
});

test("enrollment group: valid against the model, attesting with the device CA's PEM byte for byte", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const g = buildEnrollmentGroup(home, { id: "line-7", iotHubs: ["hub1.azure-devices.net"] });
    assert.deepEqual(validate(g.enrollmentGroup, "EnrollmentGroup", { create: true }), []);
    const exported = await exportCa(home, "device");
    assert.equal(g.enrollmentGroup.attestation.x509.signingCertificates?.primary.certificate, exported);
    assert.equal(g.enrollmentGroup.attestation.x509.signingCertificates?.secondary, undefined);
    assert.equal(g.enrollmentGroup.enrollmentGroupId, "line-7");
    assert.equal(g.enrollmentGroup.attestation.type, "x509");
    assert.equal(g.enrollmentGroup.provisioningStatus, "enabled");
    assert.equal(g.enrollmentGroup.allocationPolicy, "hashed");
    assert.deepEqual(g.enrollmentGroup.reprovisionPolicy, { updateHubAssignment: true, migrateDeviceData: true });
    assert.deepEqual(g.enrollmentGroup.capabilities, { iotEdge: false });
    for (const field of ["etag", "createdDateTimeUtc", "lastUpdatedDateTimeUtc"]) assert.ok(!(field in g.enrollmentGroup), field);
    assert.equal(
      g.az.commandLine,
      `az iot dps enrollment-group create --dps-name "$DPS_NAME" --resource-group "$RESOURCE_GROUP" --enrollment-id line-7 --certificate-path device-ca.pem --provisioning-status enabled --allocation-policy hashed --iot-hubs hub1.azure-devices.net --reprovision-policy reprovisionandmigratedata`,
    );
    assert.deepEqual(g.certificateFiles, [{ ca: "device", path: "device-ca.pem" }]);
  } finally {
    cleanup();
  }
});

test("enrollment group: every option maps to its field, and a CA rollover puts the new CA second", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    await createCa(home, { name: "device-2027", profile: "device-ca", parent: "root" });
    const cases: { name: string; options: EnrollmentGroupOptions; check: (g: ReturnType<typeof buildEnrollmentGroup>) => void }[] = [
      {
        name: "static, one hub, reset, edge, twin",
        options: { id: "plant.lyon:1", allocation: "static", iotHubs: ["lyon.azure-devices.net"], reprovision: "reset", edge: true, tags: { site: "lyon" }, desired: { telemetry: { interval: 30 } }, status: "disabled", dpsName: "acme-dps", resourceGroup: "iot-rg" },
        check: (g) => {
          assert.equal(g.enrollmentGroup.allocationPolicy, "static");
          assert.deepEqual(g.enrollmentGroup.iotHubs, ["lyon.azure-devices.net"]);
          assert.deepEqual(g.enrollmentGroup.reprovisionPolicy, { updateHubAssignment: true, migrateDeviceData: false });
          assert.deepEqual(g.enrollmentGroup.capabilities, { iotEdge: true });
          assert.deepEqual(g.enrollmentGroup.initialTwin, { tags: { site: "lyon" }, properties: { desired: { telemetry: { interval: 30 } } } });
          assert.equal(g.enrollmentGroup.provisioningStatus, "disabled");
          assert.match(g.az.commandLine, /--dps-name acme-dps --resource-group iot-rg --enrollment-id plant\.lyon:1 /);
          assert.match(g.az.commandLine, /--reprovision-policy reprovisionandresetdata --edge-enabled true --initial-twin-tags '\{"site":"lyon"\}' --initial-twin-properties '\{"telemetry":\{"interval":30\}\}'$/);
        },
      },
      {
        name: "custom allocation with a webhook",
        options: { id: "custom-1", allocation: "custom", webhookUrl: "https://alloc.example.com/api/allocate?code=x", reprovision: "never" },
        check: (g) => {
          assert.deepEqual(g.enrollmentGroup.customAllocationDefinition, { webhookUrl: "https://alloc.example.com/api/allocate?code=x", apiVersion: "2021-10-01" });
          assert.deepEqual(g.enrollmentGroup.reprovisionPolicy, { updateHubAssignment: false, migrateDeviceData: false });
          assert.match(g.az.commandLine, /--webhook-url 'https:\/\/alloc\.example\.com\/api\/allocate\?code=x' --api-version 2021-10-01/);
        },
      },
      {
        name: "geoLatency across hubs, secondary CA",
        options: { id: "global", allocation: "geoLatency", iotHubs: ["eu.azure-devices.net", "us.azure-devices.net"], secondaryCa: "device-2027" },
        check: (g) => {
          assert.equal(g.enrollmentGroup.attestation.x509.signingCertificates?.secondary?.certificate, home.state.cas["device-2027"]!.certificate);
          assert.match(g.az.commandLine, /--certificate-path device-ca\.pem --secondary-certificate-path device-2027-ca\.pem/);
          assert.match(g.az.commandLine, /--iot-hubs eu\.azure-devices\.net us\.azure-devices\.net/);
        },
      },
    ];
    for (const c of cases) {
      const g = buildEnrollmentGroup(home, c.options);
      assert.deepEqual(validate(g.enrollmentGroup, "EnrollmentGroup", { create: true }), [], c.name);
      c.check(g);
    }
  } finally {
    cleanup();
  }
});

test("enrollment group: refused as DPS would refuse it, every problem at once", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const home = await makeHome(dir);
    const refused: { name: string; options: EnrollmentGroupOptions; want: RegExp }[] = [
      { name: "static without a hub", options: { id: "g", allocation: "static" }, want: /exactly one IoT hub; 0/ },
      { name: "static with two hubs", options: { id: "g", allocation: "static", iotHubs: ["a.azure-devices.net", "b.azure-devices.net"] }, want: /exactly one IoT hub; 2/ },
      { name: "custom without a webhook", options: { id: "g", allocation: "custom" }, want: /needs a webhook/ },
      { name: "webhook without custom", options: { id: "g", webhookUrl: "https://x.example.com" }, want: /only used with the custom/ },
      { name: "http webhook", options: { id: "g", allocation: "custom", webhookUrl: "http://x.example.com" }, want: /must be https/ },
      { name: "id with a space", options: { id: "line 7" }, want: /not valid for DPS/ },
      { name: "id ending in a dot", options: { id: "line7." }, want: /not valid for DPS/ },
      { name: "id of 129 characters", options: { id: "a".repeat(129) }, want: /at most 128/ },
      { name: "bad hub", options: { id: "g", iotHubs: ["not a host"] }, want: /not a host name/ },
      { name: "duplicate hub", options: { id: "g", iotHubs: ["a.azure-devices.net", "A.azure-devices.net"] }, want: /listed twice/ },
      { name: "firmware CA", options: { id: "g", ca: "firmware" }, want: /firmware-ca/ },
    ];
    for (const r of refused) {
      assert.throws(() => buildEnrollmentGroup(home, r.options), (e: unknown) => isTrustlineError(e, "INPUT_INVALID") && r.want.test(e.message), r.name);
    }
    assert.throws(
      () => buildEnrollmentGroup(home, { id: "bad id", allocation: "static" }),
      (e: unknown) => isTrustlineError(e, "INPUT_INVALID") && (e.details.problems as string[]).length === 2,
    );
    assert.throws(() => buildEnrollmentGroup(home, { id: "g", ca: "nope" }), (e: unknown) => isTrustlineError(e, "NOT_FOUND"));
    // The valid edges: 128 characters, a trailing dash, colons and dots inside.
    for (const id of ["a".repeat(128), "line-7-", "acme:plant.lyon_2"]) assert.doesNotThrow(() => buildEnrollmentGroup(home, { id }), id);
  } finally {
    cleanup();
  }
});
