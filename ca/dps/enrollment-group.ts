/**
 * The DPS enrollment group for an issuing CA: the body of PUT /enrollmentGroups/{id} (API
 * 2021-10-01) attesting with the CA certificate (signingCertificates), validated as the service
 * validates it, and the equivalent `az iot dps enrollment-group create` command line.
 */
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { getCa } from "../issue.js";
import type { CaRecord } from "../store/state.js";
import {
  ALLOCATION_POLICIES,
  type AllocationPolicy,
  DPS_API_VERSION,
  type EnrollmentGroup,
  enrollmentGroupIdProblems,
  type InitialTwin,
  type ProvisioningStatus,
  type ReprovisionPolicy,
} from "./model.js";

/** How a device that provisions again is treated (az CLI: reprovisionandmigratedata, reprovisionandresetdata, never). */
export type ReprovisionChoice = "migrate" | "reset" | "never";
export const REPROVISION_CHOICES: readonly ReprovisionChoice[] = ["migrate", "reset", "never"];

const REPROVISION: Readonly<Record<ReprovisionChoice, ReprovisionPolicy & { az: string }>> = {
  migrate: { updateHubAssignment: true, migrateDeviceData: true, az: "reprovisionandmigratedata" },
  reset: { updateHubAssignment: true, migrateDeviceData: false, az: "reprovisionandresetdata" },
  never: { updateHubAssignment: false, migrateDeviceData: false, az: "never" },
};

export interface EnrollmentGroupOptions {
  /** The enrollment group ID. */
  readonly id: string;
  /** The CA whose certificate the group attests with (default "device"). */
  readonly ca?: string;
  /** A second CA certificate, while a CA is rolled over (signingCertificates.secondary). */
  readonly secondaryCa?: string;
  readonly iotHubs?: readonly string[];
  /** Default "hashed". `static` takes exactly one hub; `custom` a webhook. */
  readonly allocation?: AllocationPolicy;
  readonly webhookUrl?: string;
  /** API version of the types DPS sends the custom-allocation webhook (default 2021-10-01). */
  readonly webhookApiVersion?: string;
  /** Default "migrate". */
  readonly reprovision?: ReprovisionChoice;
  readonly edge?: boolean;
  readonly tags?: Readonly<Record<string, unknown>>;
  readonly desired?: Readonly<Record<string, unknown>>;
  /** Default "enabled". */
  readonly status?: ProvisioningStatus;
  /** For the az command line only. */
  readonly dpsName?: string;
  readonly resourceGroup?: string;
}

export interface EnrollmentGroupExport {
  readonly enrollmentGroup: EnrollmentGroup;
  /** The equivalent az CLI call (argv, and one shell-quoted line). */
  readonly az: { readonly argv: readonly string[]; readonly commandLine: string };
  /** The CA certificate files the az line names, and the CA each must hold (`trustline ca export <ca> --out <path>`). */
  readonly certificateFiles: readonly { readonly ca: string; readonly path: string }[];
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

function attestingCa(home: Home, name: string, role: string, problems: string[]): CaRecord | undefined {
  const ca = getCa(home, name);
  if (ca.profile !== "device-ca" && ca.profile !== "root-ca") {
    problems.push(`the ${role} CA "${name}" is a ${ca.profile}; a DPS enrollment group attests with a device CA or the root`);
    return undefined;
  }
  return ca;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Every problem with the options, as DPS would refuse them (empty when the group is acceptable). */
export function enrollmentGroupProblems(options: EnrollmentGroupOptions): string[] {
  const problems = [...enrollmentGroupIdProblems(options.id)];
  const allocation = options.allocation ?? "hashed";
  if (!ALLOCATION_POLICIES.includes(allocation)) problems.push(`allocation policy "${String(allocation)}" is not one of ${ALLOCATION_POLICIES.join(", ")}`);
  const hubs = options.iotHubs ?? [];
  for (const hub of hubs) if (!HOST_NAME.test(hub)) problems.push(`IoT hub "${hub.slice(0, 80)}" is not a host name (e.g. my-hub.azure-devices.net)`);
  const lower = hubs.map((h) => h.toLowerCase());
  if (new Set(lower).size !== lower.length) problems.push("an IoT hub is listed twice");
  if (allocation === "static" && hubs.length !== 1) problems.push(`the static allocation policy takes exactly one IoT hub; ${hubs.length} given`);
  if (allocation === "custom") {
    if (!options.webhookUrl) problems.push("the custom allocation policy needs a webhook URL (customAllocationDefinition.webhookUrl)");
  } else if (options.webhookUrl !== undefined) {
    problems.push(`a webhook URL is only used with the custom allocation policy, not ${allocation}`);
  }
  if (options.webhookUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(options.webhookUrl);
    } catch {
      problems.push(`the webhook URL "${options.webhookUrl.slice(0, 80)}" is not a URL`);
    }
    if (url && url.protocol !== "https:") problems.push("the webhook URL must be https (DPS calls it with the device's registration data)");
  }
  if (options.webhookApiVersion !== undefined && !API_VERSION.test(options.webhookApiVersion)) problems.push(`webhook API version "${options.webhookApiVersion}" is not an API version like ${DPS_API_VERSION}`);
  if (options.reprovision !== undefined && !REPROVISION_CHOICES.includes(options.reprovision)) problems.push(`reprovision policy "${String(options.reprovision)}" is not one of ${REPROVISION_CHOICES.join(", ")}`);
  if (options.status !== undefined && options.status !== "enabled" && options.status !== "disabled") problems.push(`provisioning status "${String(options.status)}" is not enabled or disabled`);
  if (options.tags !== undefined && !isPlainObject(options.tags)) problems.push("the initial twin tags must be a JSON object");
  if (options.desired !== undefined && !isPlainObject(options.desired)) problems.push("the initial twin desired properties must be a JSON object");
  if (options.secondaryCa !== undefined && options.secondaryCa === (options.ca ?? "device")) problems.push("the secondary CA is the primary CA");
  return problems;
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The enrollment group body for a CA, and the az command that would create the same group. */
export function buildEnrollmentGroup(home: Home, options: EnrollmentGroupOptions): EnrollmentGroupExport {
  const problems = enrollmentGroupProblems(options);
  const caName = options.ca ?? "device";
  const primary = attestingCa(home, caName, "primary", problems);
  const secondary = options.secondaryCa !== undefined ? attestingCa(home, options.secondaryCa, "secondary", problems) : undefined;
  if (problems.length > 0 || !primary) {
    throw new TrustlineError("INPUT_INVALID", `DPS would refuse this enrollment group:\n${problems.map((p) => `  - ${p}`).join("\n")}`, { details: { problems } });
  }
  const allocation = options.allocation ?? "hashed";
  const reprovision = REPROVISION[options.reprovision ?? "migrate"];
  const initialTwin: InitialTwin | undefined =
    options.tags !== undefined || options.desired !== undefined
      ? { ...(options.tags !== undefined ? { tags: options.tags } : {}), ...(options.desired !== undefined ? { properties: { desired: options.desired } } : {}) }
      : undefined;
  const group: EnrollmentGroup = {
    enrollmentGroupId: options.id,
    attestation: {
      type: "x509",
      x509: {
        signingCertificates: {
          primary: { certificate: primary.certificate },
          ...(secondary ? { secondary: { certificate: secondary.certificate } } : {}),
        },
      },
    },
    provisioningStatus: options.status ?? "enabled",
    allocationPolicy: allocation,
    ...(options.iotHubs && options.iotHubs.length > 0 ? { iotHubs: [...options.iotHubs] } : {}),
    ...(allocation === "custom" ? { customAllocationDefinition: { webhookUrl: options.webhookUrl!, apiVersion: options.webhookApiVersion ?? DPS_API_VERSION } } : {}),
    reprovisionPolicy: { updateHubAssignment: reprovision.updateHubAssignment, migrateDeviceData: reprovision.migrateDeviceData },
    ...(initialTwin ? { initialTwin } : {}),
    capabilities: { iotEdge: options.edge === true },
  };

  const certificateFiles = [{ ca: primary.name, path: `${primary.name}-ca.pem` }, ...(secondary ? [{ ca: secondary.name, path: `${secondary.name}-ca.pem` }] : [])];
  const argv = [
    "az", "iot", "dps", "enrollment-group", "create",
    "--dps-name", options.dpsName ?? "$DPS_NAME",
    "--resource-group", options.resourceGroup ?? "$RESOURCE_GROUP",
    "--enrollment-id", options.id,
    "--certificate-path", certificateFiles[0]!.path,
    ...(secondary ? ["--secondary-certificate-path", certificateFiles[1]!.path] : []),
    "--provisioning-status", group.provisioningStatus!,
    "--allocation-policy", allocation,
    ...(group.iotHubs ? ["--iot-hubs", ...group.iotHubs] : []),
    ...(allocation === "custom" ? ["--webhook-url", options.webhookUrl!, "--api-version", group.customAllocationDefinition!.apiVersion] : []),
    "--reprovision-policy", reprovision.az,
    ...(options.edge ? ["--edge-enabled", "true"] : []),
    ...(options.tags !== undefined ? ["--initial-twin-tags", JSON.stringify(options.tags)] : []),
    ...(options.desired !== undefined ? ["--initial-twin-properties", JSON.stringify(options.desired)] : []),
  ];
  // $DPS_NAME and $RESOURCE_GROUP stay expandable (double quotes); everything else is quoted literally.
  const commandLine = argv.map((a) => (a === "$DPS_NAME" || a === "$RESOURCE_GROUP" ? `"${a}"` : shellQuote(a))).join(" ");
  return { enrollmentGroup: group, az: { argv, commandLine }, certificateFiles };
}
