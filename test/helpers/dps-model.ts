/**
 * The DPS data-plane models of service API 2021-10-01 (Azure/azure-rest-api-specs,
 * DeviceProvisioningServices/stable/2021-10-01/service.json), written down independently of the
 * library: properties, required fields, enums and read-only fields. `validate` checks a body we
 * would SEND: unknown or read-only properties are errors, and so are the service's own rules that
 * the schema cannot say (static takes one hub, custom a webhook, signingCertificates and
 * caReferences exclusive). The fake DPS server uses it on every request body.
 */

export type ModelName =
  | "EnrollmentGroup"
  | "IndividualEnrollment"
  | "DeviceRegistrationState"
  | "AttestationMechanism"
  | "TpmAttestation"
  | "SymmetricKeyAttestation"
  | "X509Attestation"
  | "X509Certificates"
  | "X509CertificateWithInfo"
  | "X509CertificateInfo"
  | "X509CAReferences"
  | "ReprovisionPolicy"
  | "DeviceCapabilities"
  | "CustomAllocationDefinition"
  | "InitialTwin"
  | "InitialTwinProperties"
  | "BulkEnrollmentOperation";

type Prop =
  | { readonly kind: "string"; readonly enum?: readonly string[]; readonly readOnly?: true }
  | { readonly kind: "boolean" }
  | { readonly kind: "integer" }
  | { readonly kind: "array"; readonly items: Prop }
  | { readonly kind: "ref"; readonly ref: ModelName; readonly readOnly?: true }
  | { readonly kind: "any-object" }; // TwinCollection: additional properties allowed

interface Model {
  readonly properties: Readonly<Record<string, Prop>>;
  readonly required: readonly string[];
}

export const ALLOCATION_POLICY_ENUM = ["hashed", "geoLatency", "static", "custom"] as const;
export const PROVISIONING_STATUS_ENUM = ["enabled", "disabled"] as const;
export const ATTESTATION_TYPE_ENUM = ["none", "tpm", "x509", "symmetricKey"] as const;
export const OPERATION_MODE_ENUM = ["create", "update", "updateIfMatchETag", "delete"] as const;

const str = (e?: readonly string[]): Prop => ({ kind: "string", ...(e ? { enum: e } : {}) });
const ro: Prop = { kind: "string", readOnly: true };
const ref = (r: ModelName): Prop => ({ kind: "ref", ref: r });

const ENROLLMENT_COMMON: Record<string, Prop> = {
  attestation: ref("AttestationMechanism"),
  capabilities: ref("DeviceCapabilities"),
  iotHubHostName: str(),
  initialTwin: ref("InitialTwin"),
  etag: str(),
  provisioningStatus: str(PROVISIONING_STATUS_ENUM),
  reprovisionPolicy: ref("ReprovisionPolicy"),
  createdDateTimeUtc: ro,
  lastUpdatedDateTimeUtc: ro,
  allocationPolicy: str(ALLOCATION_POLICY_ENUM),
  iotHubs: { kind: "array", items: str() },
  customAllocationDefinition: ref("CustomAllocationDefinition"),
};

export const MODELS: Readonly<Record<ModelName, Model>> = {
  EnrollmentGroup: { required: ["enrollmentGroupId", "attestation"], properties: { enrollmentGroupId: str(), ...ENROLLMENT_COMMON } },
  IndividualEnrollment: {
    required: ["registrationId", "attestation"],
    properties: { registrationId: str(), deviceId: str(), registrationState: { kind: "ref", ref: "DeviceRegistrationState", readOnly: true }, optionalDeviceInformation: { kind: "any-object" }, ...ENROLLMENT_COMMON },
  },
  DeviceRegistrationState: { required: [], properties: {} },
  AttestationMechanism: { required: ["type"], properties: { type: str(ATTESTATION_TYPE_ENUM), tpm: ref("TpmAttestation"), x509: ref("X509Attestation"), symmetricKey: ref("SymmetricKeyAttestation") } },
  TpmAttestation: { required: ["endorsementKey"], properties: { endorsementKey: str(), storageRootKey: str() } },
  SymmetricKeyAttestation: { required: [], properties: { primaryKey: str(), secondaryKey: str() } },
  X509Attestation: { required: [], properties: { clientCertificates: ref("X509Certificates"), signingCertificates: ref("X509Certificates"), caReferences: ref("X509CAReferences") } },
  X509Certificates: { required: [], properties: { primary: ref("X509CertificateWithInfo"), secondary: ref("X509CertificateWithInfo") } },
  // `info` is what the service computes and returns: never sent.
  X509CertificateWithInfo: { required: [], properties: { certificate: str(), info: { kind: "ref", ref: "X509CertificateInfo", readOnly: true } } },
  X509CertificateInfo: { required: [], properties: {} },
  X509CAReferences: { required: [], properties: { primary: str(), secondary: str() } },
  ReprovisionPolicy: { required: ["updateHubAssignment", "migrateDeviceData"], properties: { updateHubAssignment: { kind: "boolean" }, migrateDeviceData: { kind: "boolean" } } },
  DeviceCapabilities: { required: ["iotEdge"], properties: { iotEdge: { kind: "boolean" } } },
  CustomAllocationDefinition: { required: ["webhookUrl", "apiVersion"], properties: { webhookUrl: str(), apiVersion: str() } },
  InitialTwin: { required: [], properties: { tags: { kind: "any-object" }, properties: ref("InitialTwinProperties") } },
  InitialTwinProperties: { required: [], properties: { desired: { kind: "any-object" } } },
  BulkEnrollmentOperation: { required: ["enrollments", "mode"], properties: { enrollments: { kind: "array", items: ref("IndividualEnrollment") }, mode: str(OPERATION_MODE_ENUM) } },
};

function check(value: unknown, prop: Prop, path: string, out: string[]): void {
  switch (prop.kind) {
    case "string":
      if (typeof value !== "string") out.push(`${path}: expected a string`);
      else if (prop.enum && !prop.enum.includes(value)) out.push(`${path}: "${value}" is not one of ${prop.enum.join(", ")}`);
      return;
    case "boolean":
      if (typeof value !== "boolean") out.push(`${path}: expected a boolean`);
      return;
    case "integer":
      if (!Number.isInteger(value)) out.push(`${path}: expected an integer`);
      return;
    case "array":
      if (!Array.isArray(value)) out.push(`${path}: expected an array`);
      else value.forEach((v, i) => check(v, prop.items, `${path}[${i}]`, out));
      return;
    case "any-object":
      if (typeof value !== "object" || value === null || Array.isArray(value)) out.push(`${path}: expected an object`);
      return;
    case "ref":
      validateModel(value, prop.ref, path, out);
      return;
  }
}

function validateModel(value: unknown, name: ModelName, path: string, out: string[]): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    out.push(`${path}: expected a ${name} object`);
    return;
  }
  const model: Model = MODELS[name];
  const obj = value as Record<string, unknown>;
  for (const r of model.required) if (!(r in obj)) out.push(`${path}.${r}: required by ${name}`);
  for (const [k, v] of Object.entries(obj)) {
    const prop = model.properties[k];
    if (!prop) {
      out.push(`${path}.${k}: not a property of ${name}`);
      continue;
    }
    if ("readOnly" in prop && prop.readOnly) {
      out.push(`${path}.${k}: read-only in ${name}; the service sets it`);
      continue;
    }
    check(v, prop, `${path}.${k}`, out);
  }
}

/** The service's rules beyond the schema, for groups and individual enrollments. */
function serviceRules(body: Record<string, unknown>, out: string[]): void {
  const att = body.attestation as { type?: string; x509?: Record<string, unknown> } | undefined;
  if (att?.type === "x509") {
    if (!att.x509) out.push("attestation.x509: required for type x509");
    else if (att.x509.signingCertificates && att.x509.caReferences) out.push("attestation.x509: signingCertificates and caReferences are mutually exclusive");
  }
  const hubs = (body.iotHubs as unknown[] | undefined) ?? [];
  if (body.allocationPolicy === "static" && hubs.length !== 1) out.push(`iotHubs: the static allocation policy takes exactly one hub (${hubs.length})`);
  if (body.allocationPolicy === "custom" && !body.customAllocationDefinition) out.push("customAllocationDefinition: required by the custom allocation policy");
}

export interface ValidateOptions {
  /** A first create: an etag is an error too. */
  readonly create?: boolean;
}

/** Every problem with a body of the given model, as sent to the service (empty: valid). */
export function validate(body: unknown, name: ModelName, options: ValidateOptions = {}): string[] {
  const out: string[] = [];
  validateModel(body, name, "$", out);
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (name === "EnrollmentGroup" || name === "IndividualEnrollment") serviceRules(b, out);
    if (name === "BulkEnrollmentOperation" && Array.isArray(b.enrollments)) b.enrollments.forEach((e) => typeof e === "object" && e && serviceRules(e as Record<string, unknown>, out));
    if (options.create && "etag" in b) out.push("$.etag: strip the etag before a first create");
  }
  return out;
}
