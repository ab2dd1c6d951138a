/**
 * The Azure DPS data-plane models this toolkit writes (service API 2021-10-01), and the naming
 * rules the service applies to them. Only what we send is modelled: read-only fields the service
 * returns (`info` under a certificate, `createdDateTimeUtc`, `lastUpdatedDateTimeUtc`,
 * `registrationState`) never appear in a body we build, and `etag` only as a precondition.
 */

/** The data-plane api-version the Node service client and the az CLI extension use. */
export const DPS_API_VERSION = "2021-10-01";
/** The service refuses bulk operations with more items than this. */
export const DPS_BULK_MAX_ITEMS = 10;

export type ProvisioningStatus = "enabled" | "disabled";
export type AllocationPolicy = "hashed" | "geoLatency" | "static" | "custom";
export const ALLOCATION_POLICIES: readonly AllocationPolicy[] = ["hashed", "geoLatency", "static", "custom"];
export type BulkMode = "create" | "update" | "updateIfMatchETag" | "delete";

export interface X509CertificateWithInfo {
  /** The PEM text, verbatim. */
  readonly certificate: string;
}

export interface X509Certificates {
  readonly primary: X509CertificateWithInfo;
  readonly secondary?: X509CertificateWithInfo;
}

export interface X509Attestation {
  readonly clientCertificates?: X509Certificates;
  readonly signingCertificates?: X509Certificates;
  readonly caReferences?: { readonly primary: string; readonly secondary?: string };
}

export interface AttestationMechanism {
  readonly type: "x509";
  readonly x509: X509Attestation;
}

export interface ReprovisionPolicy {
  readonly updateHubAssignment: boolean;
  readonly migrateDeviceData: boolean;
}

export interface InitialTwin {
  readonly tags?: Readonly<Record<string, unknown>>;
  readonly properties?: { readonly desired?: Readonly<Record<string, unknown>> };
}

export interface CustomAllocationDefinition {
  readonly webhookUrl: string;
  readonly apiVersion: string;
}

/** EnrollmentGroup (required: enrollmentGroupId, attestation). */
export interface EnrollmentGroup {
  readonly enrollmentGroupId: string;
  readonly attestation: AttestationMechanism;
  readonly capabilities?: { readonly iotEdge: boolean };
  readonly initialTwin?: InitialTwin;
  readonly provisioningStatus?: ProvisioningStatus;
  readonly reprovisionPolicy?: ReprovisionPolicy;
  readonly allocationPolicy?: AllocationPolicy;
  readonly iotHubs?: readonly string[];
  readonly customAllocationDefinition?: CustomAllocationDefinition;
  /** Only as a precondition on update (becomes If-Match); never in an exported file. */
  readonly etag?: string;
}

/** IndividualEnrollment (required: registrationId, attestation). */
export interface IndividualEnrollment {
  readonly registrationId: string;
  readonly deviceId?: string;
  readonly attestation: AttestationMechanism;
  readonly provisioningStatus?: ProvisioningStatus;
  readonly etag?: string;
}

/** Body of POST /enrollments (at most DPS_BULK_MAX_ITEMS items). */
export interface BulkEnrollmentOperation {
  readonly mode: BulkMode;
  readonly enrollments: readonly IndividualEnrollment[];
}

export interface BulkEnrollmentOperationError {
  readonly registrationId: string;
  readonly errorCode: number;
  readonly errorStatus: string;
}

export interface BulkEnrollmentOperationResult {
  readonly isSuccessful: boolean;
  readonly errors?: readonly BulkEnrollmentOperationError[];
}

/**
 * Enrollment group IDs and registration IDs, as the service documents them: case-insensitive,
 * up to 128 characters, letters, digits and `- . _ :`, the last one a letter, digit or `-`.
 */
export const DPS_ID_PATTERN = /^[A-Za-z0-9._:-]{0,127}[A-Za-z0-9-]$/;

export function enrollmentGroupIdProblems(id: string): string[] {
  if (id.length === 0) return ["the enrollment group ID is empty"];
  if (id.length > 128) return [`the enrollment group ID is ${id.length} characters; DPS allows at most 128`];
  if (!DPS_ID_PATTERN.test(id)) {
    return [`the enrollment group ID "${id.replace(/[^\x20-\x7e]/g, "?").slice(0, 80)}" is not valid for DPS: use letters, digits and - . _ : only, ending with a letter, digit or -`];
  }
  return [];
}

/** Split a list into bulk-operation bodies of at most DPS_BULK_MAX_ITEMS. */
export function bulkBodies(mode: BulkMode, enrollments: readonly IndividualEnrollment[]): BulkEnrollmentOperation[] {
  const bodies: BulkEnrollmentOperation[] = [];
  for (let i = 0; i < enrollments.length; i += DPS_BULK_MAX_ITEMS) bodies.push({ mode, enrollments: enrollments.slice(i, i + DPS_BULK_MAX_ITEMS) });
  return bodies;
}
