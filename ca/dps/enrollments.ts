/**
 * Revocations mirrored into DPS. DPS reads no CRL, so a revoked device is blocked by an individual
 * enrollment holding its leaf certificate with provisioningStatus "disabled" (DPS looks for an
 * individual enrollment before the group, and a disabled one refuses the device). A certificate
 * released from hold gets its individual enrollment deleted, so the group applies again.
 *
 * Exports are incremental: each mirror target ("files", or one DPS instance) keeps a mark in the
 * home's state, the byte offset in the append-only revocation log up to which it was mirrored.
 * The mark is read and moved under the home lock, and only after the bodies were written (or
 * accepted by DPS): a crash in between re-exports, it never skips.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { toPem } from "../pem.js";
import { writeFileAtomic } from "../store/atomic.js";
import { foldRevocations } from "../store/file-inventory.js";
import { type CertificateRecord, type CertificateStatus, type RevocationEntry, statusAt } from "../store/types.js";
import { normalizeSerial } from "../x509/serial.js";
import { type BulkEnrollmentOperation, bulkBodies, type IndividualEnrollment, type ProvisioningStatus } from "./model.js";

/** The individual enrollment that pins one device certificate (registrationId = its CN). */
export function enrollmentForRecord(record: CertificateRecord, status: ProvisioningStatus): IndividualEnrollment {
  return {
    registrationId: record.commonName,
    deviceId: record.commonName,
    attestation: { type: "x509", x509: { clientCertificates: { primary: { certificate: toPem(Buffer.from(record.der, "base64"), "CERTIFICATE") } } } },
    provisioningStatus: status,
  };
}

export interface IndividualEnrollmentExport {
  readonly serial: string;
  readonly certificateStatus: CertificateStatus;
  readonly enrollment: IndividualEnrollment;
}

/**
 * The individual enrollment for one device certificate. The status defaults to disabled for a
 * revoked or suspended certificate and enabled otherwise; enabling a revoked one is refused.
 */
export async function individualEnrollment(home: Home, serialInput: string, options: { status?: ProvisioningStatus } = {}): Promise<IndividualEnrollmentExport> {
  const serial = normalizeSerial(serialInput);
  const record = await home.inventory.getCertificate(serial);
  if (!record) throw new TrustlineError("NOT_FOUND", `no certificate with serial ${serial} was issued by this home`, { details: { serial } });
  if (record.profile !== "device") {
    throw new TrustlineError("INPUT_INVALID", `certificate ${serial} is a ${record.profile} certificate; DPS enrollments are for device certificates`, { details: { serial, profile: record.profile } });
  }
  const revocation = (await home.inventory.revocations(record.ca)).get(serial);
  const certificateStatus = statusAt(record, home.clock(), revocation);
  const blocked = certificateStatus === "revoked" || certificateStatus === "on-hold";
  const status = options.status ?? (blocked ? "disabled" : "enabled");
  if (status === "enabled" && blocked) {
    throw new TrustlineError("POLICY_DENIED", `certificate ${serial} (${record.commonName}) is ${certificateStatus}; an enabled enrollment would let that device provision`, { details: { serial, certificateStatus } });
  }
  return { serial, certificateStatus, enrollment: enrollmentForRecord(record, status) };
}

export interface MirrorItem {
  readonly serial: string;
  readonly registrationId: string;
  readonly reason: RevocationEntry["reason"];
  readonly revokedAt: string;
  readonly enrollment: IndividualEnrollment;
}

export interface MirrorSkip {
  readonly serial: string;
  readonly registrationId: string;
  readonly why: string;
}

/** What a mirror target has not seen yet. */
export interface MirrorPlan {
  readonly key: string;
  readonly ca: string;
  readonly all: boolean;
  /** Revocation-log byte offsets: mirrored up to `from`; this plan brings it to `to`. */
  readonly from: number;
  readonly to: number;
  /** Newly revoked or suspended devices: disabled enrollments (bulk mode create/update). */
  readonly disable: readonly MirrorItem[];
  /** Devices released from hold: their enrollments are deleted (bulk mode delete). */
  readonly release: readonly MirrorItem[];
  readonly skipped: readonly MirrorSkip[];
}

export interface MirrorOptions {
  /** The issuing CA whose device certificates are mirrored (default "device"). */
  readonly ca?: string;
  /** Everything currently revoked, not only what changed since the last export. */
  readonly all?: boolean;
}

export function mirrorKey(target: string, ca: string): string {
  return `${target}|${ca}`;
}

/** Plan a mirror (caller holds the home lock, so the log does not move between the two reads). */
export async function planMirror(home: Home, target: string, options: MirrorOptions = {}): Promise<MirrorPlan> {
  const ca = options.ca ?? "device";
  if (!Object.hasOwn(home.state.cas, ca)) throw new TrustlineError("NOT_FOUND", `there is no CA named "${ca}" in this home`);
  const key = mirrorKey(target, ca);
  const state = await home.refresh();
  const all = await home.inventory.revocationEventsSince(0);
  let from = options.all ? 0 : (state.dpsMirrors?.[key]?.offset ?? 0);
  if (from > all.next) from = 0; // the log was replaced: start over
  const tail = from === 0 ? all : await home.inventory.revocationEventsSince(from);
  const prefix = all.entries.slice(0, all.entries.length - tail.entries.length);
  const now = foldRevocations(all.entries, ca);
  const before = options.all ? new Map<string, RevocationEntry>() : foldRevocations(prefix, ca);
  const changed = options.all ? [...now.keys()] : [...new Set(tail.entries.filter((e) => e.ca === ca).map((e) => e.serial))];

  const disable: MirrorItem[] = [];
  const release: MirrorItem[] = [];
  const skipped: MirrorSkip[] = [];
  for (const serial of changed) {
    const current = now.get(serial);
    const previous = before.get(serial);
    if (Boolean(current) === Boolean(previous)) continue; // nothing DPS needs to know (e.g. hold -> keyCompromise)
    const record = await home.inventory.getCertificate(serial);
    if (!record || record.profile !== "device") continue;
    const item = (entry: RevocationEntry, status: ProvisioningStatus): MirrorItem => ({
      serial,
      registrationId: record.commonName,
      reason: entry.reason,
      revokedAt: entry.revokedAt,
      enrollment: enrollmentForRecord(record, status),
    });
    if (current) disable.push(item(current, "disabled"));
    else release.push(item(previous!, "disabled"));
  }

  // One enrollment per registration ID (DPS IDs are case-insensitive): the latest revocation wins.
  const byId = new Map<string, MirrorItem>();
  for (const d of disable) {
    const id = d.registrationId.toLowerCase();
    const seen = byId.get(id);
    if (seen) skipped.push({ serial: seen.serial, registrationId: seen.registrationId, why: `registration ID also revoked under serial ${d.serial}, which this export blocks instead` });
    byId.set(id, d);
  }
  const blocked = new Set(byId.keys());
  const releaseKept = release.filter((r) => {
    if (!blocked.has(r.registrationId.toLowerCase())) return true;
    skipped.push({ serial: r.serial, registrationId: r.registrationId, why: "released from hold, but another certificate with this registration ID is revoked: its enrollment stays" });
    return false;
  });
  return { key, ca, all: options.all === true, from, to: all.next, disable: [...byId.values()], release: releaseKept, skipped };
}

/** The bulk-operation bodies of a plan: disables first, then deletes; at most 10 items each. */
export function mirrorBodies(plan: MirrorPlan, disableMode: "create" | "update"): BulkEnrollmentOperation[] {
  return [...bulkBodies(disableMode, plan.disable.map((d) => d.enrollment)), ...bulkBodies("delete", plan.release.map((r) => r.enrollment))];
}

/** Move the target's mark to the end of the plan (caller holds the home lock). Never moves it back. */
export async function commitMirror(home: Home, plan: MirrorPlan): Promise<void> {
  await home.updateState((s) => {
    const current = s.dpsMirrors?.[plan.key]?.offset ?? 0;
    if (!plan.all && current > plan.to) return s;
    return { ...s, dpsMirrors: { ...(s.dpsMirrors ?? {}), [plan.key]: { offset: plan.to, at: home.clock().toISOString() } } };
  });
}

export interface DisabledEnrollmentsExport {
  readonly ca: string;
  readonly all: boolean;
  readonly disabled: readonly Omit<MirrorItem, "enrollment">[];
  readonly released: readonly Omit<MirrorItem, "enrollment">[];
  readonly skipped: readonly MirrorSkip[];
  /** The files written, in the order to send them. Empty when nothing changed. */
  readonly files: readonly { readonly path: string; readonly mode: string; readonly items: number }[];
}

const BODY_FILE = /^enrollments-(\d+)\.json$/;

/**
 * Write the bulk-operation bodies that block every device certificate revoked since the last
 * export (or all of them) into `outDir`, numbered after any bodies already there, and move the
 * "files" mark. Disables use mode "create", as a first import does.
 */
export async function exportDisabledEnrollments(home: Home, outDir: string, options: MirrorOptions = {}): Promise<DisabledEnrollmentsExport> {
  await home.authorize("dps.export");
  const dir = resolve(outDir);
  return home.transaction(async () => {
    const plan = await planMirror(home, "files", options);
    const bodies = mirrorBodies(plan, "create");
    const files: { path: string; mode: string; items: number }[] = [];
    if (bodies.length > 0) {
      try {
        mkdirSync(dir, { recursive: true });
      } catch (e) {
        throw new TrustlineError("INPUT_INVALID", `cannot create the folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      let n = Math.max(0, ...readdirSync(dir).map((f) => BODY_FILE.exec(f)?.[1]).filter((m): m is string => m !== undefined).map(Number));
      for (const body of bodies) {
        const path = join(dir, `enrollments-${String(++n).padStart(4, "0")}.json`);
        try {
          writeFileAtomic(path, `${JSON.stringify(body, null, 2)}\n`, { exclusive: true });
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw new TrustlineError(code === "EEXIST" ? "ALREADY_EXISTS" : "INPUT_INVALID", `cannot write ${path}: ${code ?? (e as Error).message}`);
        }
        files.push({ path, mode: body.mode, items: body.enrollments.length });
      }
    }
    await commitMirror(home, plan);
    if (files.length > 0) {
      await home.record([
        {
          action: "dps.export",
          outcome: "ok",
          ...home.who,
          ca: plan.ca,
          details: { target: "files", all: plan.all, disabled: plan.disable.map((d) => d.serial), released: plan.release.map((r) => r.serial), files: files.map((f) => f.path), from: plan.from, to: plan.to },
        },
      ]);
    }
    const strip = ({ enrollment: _e, ...rest }: MirrorItem) => (void _e, rest);
    return { ca: plan.ca, all: plan.all, disabled: plan.disable.map(strip), released: plan.release.map(strip), skipped: plan.skipped, files };
  });
}
