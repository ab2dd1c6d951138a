import { Agent } from "node:https";
import { rootCertificates } from "node:tls";
import { Command, Option } from "commander";
import {
  ALLOCATION_POLICIES,
  type AllocationPolicy,
  buildEnrollmentGroup,
  type EnrollmentGroupOptions,
  exportDisabledEnrollments,
  individualEnrollment,
  issueVerificationCertificate,
  type ProvisioningStatus,
  pushToDps,
  REPROVISION_CHOICES,
  type ReprovisionChoice,
  TrustlineError,
  uploadCaToDps,
  withoutDer,
} from "../../ca/index.js";
import { emit, examples, globals, note, openHome } from "../context.js";
import { assertWritable, readInput, writeOutput } from "../files.js";
import { readSecretFile } from "../passphrase.js";

interface GroupFlags {
  ca: string;
  secondaryCa?: string;
  iotHub?: string[];
  allocation?: AllocationPolicy;
  webhookUrl?: string;
  webhookApiVersion?: string;
  reprovision?: ReprovisionChoice;
  edge?: boolean;
  tags?: string;
  desired?: string;
  status?: ProvisioningStatus;
}

function jsonObject(flag: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new TrustlineError("USAGE", `${flag} is not JSON; give an object such as '{"site":"lyon"}'`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TrustlineError("USAGE", `${flag} must be a JSON object, such as '{"site":"lyon"}'`);
  return v as Record<string, unknown>;
}

/** The enrollment-group options, shared by `enrollment-group` and `push`. */
function addGroupOptions(command: Command): Command {
  return command
    .option("--ca <name>", "the CA the group attests with (signingCertificates.primary)", "device")
    .option("--secondary-ca <name>", "a second CA certificate while a CA is rolled over (signingCertificates.secondary)")
    .option("--iot-hub <host...>", "IoT hub host names devices may be assigned to (repeatable; none: every linked hub)")
    .addOption(new Option("--allocation <policy>", "allocation policy (static: exactly one hub; custom: a webhook)").choices(ALLOCATION_POLICIES as string[]).default("hashed"))
    .option("--webhook-url <url>", "custom allocation: the https webhook DPS calls")
    .option("--webhook-api-version <v>", "custom allocation: API version of the types sent to the webhook (default 2021-10-01)")
    .addOption(new Option("--reprovision <policy>", "on re-provisioning: migrate the device's data, reset it, or never move the device").choices(REPROVISION_CHOICES as string[]).default("migrate"))
    .option("--edge", "the devices are IoT Edge devices")
    .option("--tags <json>", "initial twin tags (a JSON object)")
    .option("--desired <json>", "initial twin desired properties (a JSON object)")
    .addOption(new Option("--status <status>", "provisioning status of the group").choices(["enabled", "disabled"]).default("enabled"));
}

function groupOptions(id: string, f: GroupFlags, extra: Pick<EnrollmentGroupOptions, "dpsName" | "resourceGroup"> = {}): EnrollmentGroupOptions {
  const tags = jsonObject("--tags", f.tags);
  const desired = jsonObject("--desired", f.desired);
  return {
    id,
    ca: f.ca,
    ...(f.secondaryCa ? { secondaryCa: f.secondaryCa } : {}),
    ...(f.iotHub ? { iotHubs: f.iotHub } : {}),
    ...(f.allocation ? { allocation: f.allocation } : {}),
    ...(f.webhookUrl !== undefined ? { webhookUrl: f.webhookUrl } : {}),
    ...(f.webhookApiVersion !== undefined ? { webhookApiVersion: f.webhookApiVersion } : {}),
    ...(f.reprovision ? { reprovision: f.reprovision } : {}),
    ...(f.edge ? { edge: true } : {}),
    ...(tags ? { tags } : {}),
    ...(desired ? { desired } : {}),
    ...(f.status ? { status: f.status } : {}),
    ...extra,
  };
}

function trustedCa(path: string | undefined): string | undefined {
  return path === undefined ? undefined : Buffer.from(readInput(path, "trusted CA certificate")).toString("utf8");
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function dpsCommand(): Command {
  const dps = new Command("dps").description("Azure IoT Hub Device Provisioning Service: enrollment groups, proof of possession, revocations mirrored as disabled enrollments, push");

  addGroupOptions(
    dps
      .command("enrollment-group")
      .description("the enrollment group (DPS API 2021-10-01) attesting with a CA certificate, and the equivalent az command")
      .requiredOption("--id <group-id>", "the enrollment group ID (letters, digits, - . _ :)"),
  )
    .option("--dps-name <name>", "for the az command line (default: $DPS_NAME)")
    .option("--resource-group <name>", "for the az command line (default: $RESOURCE_GROUP)")
    .option("--out <file>", "write the JSON body here (default: stdout)")
    .option("--force", "overwrite --out if it exists")
    .addHelpText(
      "after",
      examples(
        "trustline dps enrollment-group --id line-7 --iot-hub hub1.azure-devices.net --out group.json",
        "trustline dps enrollment-group --id plant-lyon --ca plant-lyon --allocation static --iot-hub lyon.azure-devices.net --tags '{\"site\":\"lyon\"}'",
        "trustline dps enrollment-group --id line-7 --ca device --secondary-ca device-2027 --json   # during a CA rollover",
      ) + "\nThe az line names <ca>-ca.pem: write it with `trustline ca export <ca> --out <ca>-ca.pem`.\n",
    )
    .action(async (opts: GroupFlags & { id: string; dpsName?: string; resourceGroup?: string; out?: string; force?: boolean }, command: Command) => {
      const home = await openHome(command, false);
      const exported = buildEnrollmentGroup(home, groupOptions(opts.id, opts, { ...(opts.dpsName ? { dpsName: opts.dpsName } : {}), ...(opts.resourceGroup ? { resourceGroup: opts.resourceGroup } : {}) }));
      const body = `${JSON.stringify(exported.enrollmentGroup, null, 2)}\n`;
      if (opts.out) writeOutput(opts.out, body, { force: opts.force === true });
      if (globals(command).json) {
        emit(command, { ...exported, ...(opts.out ? { out: opts.out } : {}) }, () => "");
        return;
      }
      if (opts.out) process.stdout.write(`Wrote enrollment group ${opts.id} to ${opts.out}\nEquivalent az command:\n  ${exported.az.commandLine}\n`);
      else {
        process.stdout.write(body);
        note(command, `Equivalent az command:\n  ${exported.az.commandLine}`);
      }
    });

  dps
    .command("verification-cert")
    .description("the proof-of-possession certificate for a CA uploaded to DPS: CN = the verification code, signed by the CA")
    .requiredOption("--code <verification-code>", "the code DPS generated for the CA certificate")
    .option("--ca <name>", "the CA uploaded to DPS", "device")
    .option("--days <n>", "validity in days (default 1, at most 30)", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new TrustlineError("USAGE", `--days must be a whole number of days, not "${v}"`);
      return n;
    })
    .option("--out <file>", "write the PEM here (default: stdout)")
    .option("--force", "overwrite --out if it exists")
    .addHelpText(
      "after",
      examples(
        "trustline dps verification-cert --code 9C2D6E4F0A1B7C3D5E8F --ca device --out verify.pem",
        "az iot dps certificate verify --dps-name my-dps -g my-rg --certificate-name device --path verify.pem --etag <etag>",
      ) + "\nIssued through the normal pipeline (profile dps-verification, audited); its key pair is thrown away.\n",
    )
    .action(async (opts: { code: string; ca: string; days?: number; out?: string; force?: boolean }, command: Command) => {
      if (opts.out) assertWritable(opts.out, opts.force === true); // refuse an unwritable --out before issuing
      const home = await openHome(command, true);
      const issued = await issueVerificationCertificate(home, opts.code, { ca: opts.ca, ...(opts.days !== undefined ? { validityDays: opts.days } : {}) });
      if (opts.out) writeOutput(opts.out, issued.pem, { force: opts.force === true });
      const record = withoutDer(issued.record);
      if (globals(command).json) emit(command, { ...record, pem: issued.pem, ...(opts.out ? { out: opts.out } : {}) }, () => "");
      else if (opts.out) process.stdout.write(`Issued verification certificate CN=${record.commonName} (serial ${record.serial}, CA ${record.ca}, valid until ${record.notAfter})\n  wrote ${opts.out}\n`);
      else process.stdout.write(issued.pem);
    });

  dps
    .command("disabled-enrollments")
    .description("bulk-operation bodies that block every device certificate revoked since the last export (disabled individual enrollments)")
    .option("--ca <name>", "the issuing CA whose devices are mirrored", "device")
    .option("--out-dir <dir>", "where the bodies go (numbered enrollments-NNNN.json, at most 10 enrollments each)", "dps-enrollments")
    .option("--all", "every revoked device, not only what changed since the last export")
    .addHelpText(
      "after",
      examples(
        "trustline dps disabled-enrollments --out-dir ./dps-enrollments",
        "trustline dps disabled-enrollments --ca plant-lyon --all --json",
        "for f in dps-enrollments/enrollments-*.json; do az rest --method post --url \"https://$DPS_HOST/enrollments?api-version=2021-10-01\" --body @\"$f\" ...; done",
      ) + "\nA device released from hold gets a body with mode \"delete\" (its group applies again). Prefer `trustline dps push`.\n",
    )
    .action(async (opts: { ca: string; outDir: string; all?: boolean }, command: Command) => {
      const home = await openHome(command, true);
      const r = await exportDisabledEnrollments(home, opts.outDir, { ca: opts.ca, ...(opts.all ? { all: true } : {}) });
      emit(command, r, () =>
        r.files.length === 0
          ? `Nothing to export: no device of CA ${r.ca} was revoked or released since the last export${r.skipped.length ? ` (${plural(r.skipped.length, "skipped certificate")})` : ""}`
          : [
              `Wrote ${plural(r.files.length, "bulk body")} for CA ${r.ca}: ${plural(r.disabled.length, "disabled enrollment")}, ${plural(r.released.length, "release")}`,
              ...r.files.map((f) => `  ${f.path}  (${f.mode}, ${f.items})`),
              ...r.skipped.map((s) => `  skipped ${s.serial} (${s.registrationId}): ${s.why}`),
            ].join("\n"),
      );
    });

  dps
    .command("individual-enrollment")
    .argument("<serial>", "the device certificate's serial (hex, any case, colons allowed)")
    .description("the individual enrollment (DPS API 2021-10-01) for one device certificate")
    .addOption(new Option("--status <status>", "provisioning status (default: disabled if the certificate is revoked or on hold, else enabled)").choices(["enabled", "disabled"]))
    .option("--out <file>", "write the JSON body here (default: stdout)")
    .option("--force", "overwrite --out if it exists")
    .addHelpText("after", examples("trustline dps individual-enrollment 4F:1A:...:9C --status disabled --out dev-0001.json", "trustline dps individual-enrollment 4f1a...9c --json"))
    .action(async (serial: string, opts: { status?: ProvisioningStatus; out?: string; force?: boolean }, command: Command) => {
      const home = await openHome(command, false);
      const r = await individualEnrollment(home, serial, opts.status ? { status: opts.status } : {});
      const body = `${JSON.stringify(r.enrollment, null, 2)}\n`;
      if (opts.out) writeOutput(opts.out, body, { force: opts.force === true });
      if (globals(command).json) emit(command, { ...r, ...(opts.out ? { out: opts.out } : {}) }, () => "");
      else if (opts.out) process.stdout.write(`Wrote the ${r.enrollment.provisioningStatus} enrollment of ${r.enrollment.registrationId} (certificate ${r.certificateStatus}) to ${opts.out}\n`);
      else process.stdout.write(body);
    });

  addGroupOptions(
    dps
      .command("push")
      .description("send the enrollment group and the disabled enrollments to DPS with Azure's service client (azure-iot-provisioning-service)")
      .option("--connection-string-file <file>", "file holding the DPS connection string (or env TRUSTLINE_DPS_CONNECTION_STRING); never on the command line")
      .option("--group-id <id>", "also create or update this enrollment group (with the options below)"),
  )
    .option("--all", "send every revoked device, not only what changed since the last push to this DPS")
    .option("--no-enrollments", "send only the group")
    .option("--endpoint <host[:port]>", "connect here instead of the connection string's HostName (private endpoint, proxy); TLS still checks HostName")
    .option("--trusted-ca <pem>", "extra trusted root certificate(s) for the TLS connection")
    .addHelpText(
      "after",
      examples(
        "trustline dps push --connection-string-file /run/secrets/dps-cs --group-id line-7 --iot-hub hub1.azure-devices.net",
        "TRUSTLINE_DPS_CONNECTION_STRING=\"$(cat /run/secrets/dps-cs)\" trustline dps push --json    # only the revocations since the last push",
      ) +
        "\nThe connection string needs a shared access policy with Enrollment Write. The group is read first and\nupdated with its etag (a concurrent change fails with an etag conflict, exit 4). Enrollments that DPS\nrefuses are listed (exit 3) and sent again by the next push.\n",
    )
    .action(async (opts: GroupFlags & { connectionStringFile?: string; groupId?: string; all?: boolean; enrollments: boolean; endpoint?: string; trustedCa?: string }, command: Command) => {
      const connectionString = opts.connectionStringFile ? readSecretFile(opts.connectionStringFile, "DPS connection string").trim() : process.env.TRUSTLINE_DPS_CONNECTION_STRING;
      if (!connectionString) throw new TrustlineError("USAGE", "give the DPS connection string with --connection-string-file <file> or TRUSTLINE_DPS_CONNECTION_STRING");
      if (!opts.groupId && !opts.enrollments) throw new TrustlineError("USAGE", "nothing to push: --no-enrollments needs --group-id");
      const ca = trustedCa(opts.trustedCa);
      const home = await openHome(command, true);
      const r = await pushToDps(home, {
        connectionString,
        ca: opts.ca,
        ...(opts.groupId ? { group: groupOptions(opts.groupId, opts) } : {}),
        enrollments: opts.enrollments,
        ...(opts.all ? { all: true } : {}),
        transport: { ...(opts.endpoint ? { endpoint: opts.endpoint } : {}), ...(ca ? { trustedCa: ca } : {}) },
      });
      emit(command, r, () =>
        [
          `Pushed to DPS ${r.hostName}:`,
          r.group ? `  enrollment group ${r.group.id} ${r.group.action}` : "",
          `  ${plural(r.disabled.length, "disabled enrollment")}, ${plural(r.released.length, "release")} in ${plural(r.bodies, "bulk operation")}`,
          ...r.skipped.map((s) => `  skipped ${s.serial} (${s.registrationId}): ${s.why}`),
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });

  dps
    .command("upload-ca")
    .description("upload a CA certificate to DPS and prove possession of its key (Azure Resource Manager, @azure/arm-deviceprovisioningservices)")
    .requiredOption("--subscription <id>", "the Azure subscription ID")
    .requiredOption("--resource-group <name>", "the DPS instance's resource group")
    .requiredOption("--dps <name>", "the DPS instance's name")
    .option("--name <certificate-name>", "the certificate's name in DPS (default: the CA's name)")
    .option("--ca <name>", "the CA to upload", "device")
    .option("--arm-endpoint <url>", "Azure Resource Manager endpoint (default https://management.azure.com)")
    .option("--trusted-ca <pem>", "extra trusted root certificate(s) for the TLS connection")
    .addHelpText(
      "after",
      examples(
        "trustline dps upload-ca --subscription 00000000-0000-0000-0000-000000000000 --resource-group iot-rg --dps acme-dps --ca device   # after az login",
        "trustline dps upload-ca --subscription $AZURE_SUBSCRIPTION_ID --resource-group iot-rg --dps acme-dps --ca plant-lyon --name plant-lyon-2026 --json",
      ) +
        "\nSigns in with DefaultAzureCredential: AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET (or a certificate),\na workload or managed identity, or az login. Opens the CA key (passphrase) to sign the verification certificate.\n",
    )
    .action(async (opts: { subscription: string; resourceGroup: string; dps: string; name?: string; ca: string; armEndpoint?: string; trustedCa?: string }, command: Command) => {
      const ca = trustedCa(opts.trustedCa);
      const home = await openHome(command, true);
      const r = await uploadCaToDps(home, {
        subscriptionId: opts.subscription,
        resourceGroup: opts.resourceGroup,
        dpsName: opts.dps,
        ca: opts.ca,
        ...(opts.name ? { certificateName: opts.name } : {}),
        ...(opts.armEndpoint ? { endpoint: opts.armEndpoint } : {}),
        ...(ca ? { agent: new Agent({ ca: [...rootCertificates, ca] }) } : {}),
      });
      emit(command, r, () =>
        r.alreadyVerified
          ? `CA ${r.ca} is already uploaded to DPS ${opts.dps} as ${r.certificateName} and verified (thumbprint ${r.thumbprint})`
          : `CA ${r.ca} ${r.uploaded ? "uploaded" : "already uploaded"} to DPS ${opts.dps} as ${r.certificateName} and verified (thumbprint ${r.thumbprint}; verification certificate ${r.verificationCertificate?.serial})`,
      );
    });

  return dps;
}
