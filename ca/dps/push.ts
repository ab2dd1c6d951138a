/**
 * `dps push`: send the enrollment group and the disabled enrollments to a DPS instance with
 * Azure's own client.
 *
 * The group is read first: created without a precondition when DPS has none, otherwise replaced
 * with If-Match set to the etag just read, so a concurrent change shows up as an etag conflict
 * (412) instead of being overwritten. Enrollments go in bulk bodies of at most 10, disables in
 * mode "update" (create or replace: a retry after a partial failure is harmless), releases in mode
 * "delete". The mirror mark for this DPS instance moves only when every item was accepted.
 */
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { buildEnrollmentGroup, type EnrollmentGroupOptions } from "./enrollment-group.js";
import { commitMirror, type MirrorItem, type MirrorOptions, type MirrorSkip, mirrorBodies, planMirror } from "./enrollments.js";
import type { BulkEnrollmentOperationError } from "./model.js";
import { DpsService, type DpsTransport } from "./service-client.js";

export interface PushOptions extends MirrorOptions {
  /** "HostName=...;SharedAccessKeyName=...;SharedAccessKey=..." (read it from a file or a secret store). */
  readonly connectionString: string;
  /** The enrollment group to create or update; none: only enrollments are sent. Its CA defaults to `ca`. */
  readonly group?: EnrollmentGroupOptions;
  /** Send the disabled enrollments (default true). */
  readonly enrollments?: boolean;
  readonly transport?: DpsTransport;
}

export interface PushResult {
  readonly hostName: string;
  readonly group?: { readonly id: string; readonly action: "created" | "updated"; readonly etag?: string };
  readonly bodies: number;
  readonly disabled: readonly Omit<MirrorItem, "enrollment">[];
  readonly released: readonly Omit<MirrorItem, "enrollment">[];
  readonly skipped: readonly MirrorSkip[];
}

export async function pushToDps(home: Home, options: PushOptions): Promise<PushResult> {
  await home.authorize("dps.push");
  const ca = options.ca ?? "device";
  // Validate everything local before any request leaves.
  const group = options.group ? buildEnrollmentGroup(home, { ...options.group, ca: options.group.ca ?? ca }).enrollmentGroup : undefined;
  const dps = await DpsService.connect(options.connectionString, options.transport);
  const sendEnrollments = options.enrollments !== false;
  const plan = sendEnrollments ? await home.transaction(() => planMirror(home, `dps:${dps.hostName.toLowerCase()}`, { ca, ...(options.all ? { all: true } : {}) })) : undefined;
  const strip = ({ enrollment: _e, ...rest }: MirrorItem) => (void _e, rest);
  const audit = (outcome: "ok" | "failed", details: Record<string, unknown>, reason?: string) =>
    home.transaction(() => home.record([{ action: "dps.push", outcome, ...home.who, ca, ...(reason ? { reason } : {}), details: { dps: dps.hostName, ...details } }]));

  let groupResult: PushResult["group"];
  let sent = 0;
  try {
    if (group) {
      const existing = await dps.getEnrollmentGroup(group.enrollmentGroupId);
      const stored = await dps.putEnrollmentGroup(existing?.etag ? { ...group, etag: existing.etag } : group);
      groupResult = { id: group.enrollmentGroupId, action: existing ? "updated" : "created", ...(stored?.etag ? { etag: stored.etag } : {}) };
    }
    const errors: BulkEnrollmentOperationError[] = [];
    for (const body of plan ? mirrorBodies(plan, "update") : []) {
      const result = await dps.bulk(body);
      sent++;
      // Deleting an enrollment that is already gone is what a release wants.
      const real = (result.errors ?? []).filter((e) => !(body.mode === "delete" && Math.floor(e.errorCode / 1000) === 404));
      if (!result.isSuccessful && real.length === 0 && (result.errors ?? []).length === 0) {
        errors.push({ registrationId: "(unknown)", errorCode: 0, errorStatus: "DPS reported the bulk operation unsuccessful without naming an enrollment" });
      }
      errors.push(...real);
    }
    if (errors.length > 0) {
      const list = errors.slice(0, 10).map((e) => `  - ${e.registrationId}: ${e.errorStatus} (${e.errorCode})`);
      throw new TrustlineError(
        "REMOTE_REJECTED",
        `DPS ${dps.hostName} refused ${errors.length} enrollment${errors.length === 1 ? "" : "s"}; nothing is marked as mirrored, so the next push sends them again:\n${list.join("\n")}${errors.length > 10 ? `\n  ... and ${errors.length - 10} more` : ""}`,
        { details: { errors: errors.map((e) => ({ registrationId: e.registrationId, errorCode: e.errorCode, errorStatus: dps.secrets.redact(String(e.errorStatus)) })) } },
      );
    }
  } catch (e) {
    const reason = e instanceof Error ? dps.secrets.redact(e.message) : String(e);
    await audit("failed", { group: group?.enrollmentGroupId ?? null, bodiesSent: sent, ...(e instanceof TrustlineError ? { code: e.code } : {}) }, reason);
    throw e;
  }
  if (plan) await home.transaction(() => commitMirror(home, plan));
  await audit("ok", {
    group: groupResult ?? null,
    bodies: sent,
    disabled: plan?.disable.map((d) => d.serial) ?? [],
    released: plan?.release.map((r) => r.serial) ?? [],
    ...(plan ? { from: plan.from, to: plan.to, all: plan.all } : {}),
  });
  return {
    hostName: dps.hostName,
    ...(groupResult ? { group: groupResult } : {}),
    bodies: sent,
    disabled: plan?.disable.map(strip) ?? [],
    released: plan?.release.map(strip) ?? [],
    skipped: plan?.skipped ?? [],
  };
}
