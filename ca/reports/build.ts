/**
 * The auditor's report: what was certified in a period, by whom, from where and how they signed
 * in, what was refused and revoked, what expires, what was published, and whether the audit trail
 * holds. One function builds the data (streaming the inventory and the audit log once each, so a
 * home of millions is never held in memory); renderers (json, csv, html) write it.
 */
import { oidUnderArc, policyOidsUnder, PROFILES } from "../../policy/index.js";
import type { AuditEntry } from "../audit/log.js";
import { verifyAuditLog } from "../audit/operations.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { keyScheme } from "../keys/registry.js";
import { statusAt, type CertificateFilter, type RevocationEntry } from "../store/types.js";

export const REPORT_FORMAT = "trustline-report/1";
const DAY = 86_400_000;

export interface ReportOptions {
  /** Start of the period (inclusive); default 30 days before `to`. */
  readonly from?: Date;
  /** End of the period (exclusive); default now. */
  readonly to?: Date;
  /** Only this issuing CA's certificates. */
  readonly ca?: string;
}

export type Counts = Record<string, number>;

export interface Anomaly {
  /** `off-hours`, `new-station-for-operator`, `batch-refusals`, `file-key`. */
  readonly kind: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface ReportData {
  readonly format: typeof REPORT_FORMAT;
  readonly generatedAt: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly filter: { readonly ca: string | null };
  readonly home: {
    readonly organization: string;
    readonly policyArc: string;
    /** The certificate policy the home issues under (certificate-policy.md §1.2: `<arc>.1`). */
    readonly certificatePolicyOid: string;
    readonly cas: readonly { readonly name: string; readonly profile: string; readonly subject: string; readonly keyBackend: string; readonly notBefore: string; readonly notAfter: string; readonly policyOids: readonly string[] }[];
  };
  readonly issuance: {
    readonly total: number;
    readonly byCa: Counts;
    readonly byProfile: Counts;
    readonly byOperator: Counts;
    readonly byStation: Counts;
    readonly byBatch: Counts;
    /** `not recorded` for certificates issued before sign-in existed. */
    readonly byOrigin: Counts;
    /** YYYY-MM-DD (UTC) → station → count: the timeline. */
    readonly byDay: Readonly<Record<string, Counts>>;
  };
  readonly refusals: { readonly total: number; readonly byCode: Counts; readonly byOperator: Counts };
  readonly revocations: {
    readonly total: number;
    readonly byReason: Counts;
    readonly mass: readonly { readonly time: string; readonly operator: string; readonly reason: string; readonly count: number; readonly selector: unknown }[];
  };
  /** Certificates of the period's scope valid now and expiring within 30, 90, 365 days (whatever their issue date). */
  readonly expiring: { readonly within30Days: number; readonly within90Days: number; readonly within365Days: number };
  readonly crls: readonly { readonly ca: string; readonly crlNumber: number; readonly time: string; readonly entries: number }[];
  readonly ocspResponders: readonly { readonly ca: string; readonly serial: string; readonly notAfter: string }[];
  readonly dps: { readonly exports: number; readonly pushes: number; readonly uploads: number };
  readonly firmwareSigners: readonly { readonly serial: string; readonly subject: string; readonly issuedAt: string; readonly notAfter: string; readonly status: string; readonly operator: string }[];
  readonly audit: { readonly intact: boolean; readonly entries: number; readonly signedThrough: number | null; readonly headHash: string | null; readonly problem: string | null };
  readonly anomalies: readonly Anomaly[];
}

/** Business hours of a station: issuance outside 06:00–22:00 UTC is worth a look. */
const QUIET_HOURS = (hour: number) => hour < 6 || hour >= 22;

function bump(counts: Counts, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

export function reportPeriod(options: ReportOptions, now: Date): { from: Date; to: Date } {
  const to = options.to ?? now;
  const from = options.from ?? new Date(to.getTime() - 30 * DAY);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw new TrustlineError("USAGE", "--from and --to must be ISO 8601 dates");
  if (from >= to) throw new TrustlineError("USAGE", "--from must be before --to");
  return { from, to };
}

export async function buildReport(home: Home, options: ReportOptions = {}): Promise<ReportData> {
  const now = home.clock();
  const { from, to } = reportPeriod(options, now);
  if (options.ca !== undefined && !home.state.cas[options.ca]) throw new TrustlineError("NOT_FOUND", `no CA named "${options.ca}" in this home`);
  const inScope = (ca: string | undefined) => options.ca === undefined || ca === options.ca;
  const inPeriod = (time: string) => time >= from.toISOString() && time < to.toISOString();

  const issuance = { total: 0, byCa: {} as Counts, byProfile: {} as Counts, byOperator: {} as Counts, byStation: {} as Counts, byBatch: {} as Counts, byOrigin: {} as Counts, byDay: {} as Record<string, Counts> };
  const expiring = { within30Days: 0, within90Days: 0, within365Days: 0 };
  const firmwareSigners: ReportData["firmwareSigners"][number][] = [];
  const revocations = await home.inventory.revocations();
  const offHours: Counts = {};
  const stationsOf = new Map<string, Set<string>>();
  const newStations: { operator: string; station: string; first: string }[] = [];
  const batchIssued: Counts = {};

  // One pass over every record: issuance in the period, and what is valid now and expiring.
  for await (const r of home.inventory.query(options.ca ? ({ ca: options.ca } satisfies CertificateFilter) : {}, now)) {
    const status = statusAt(r, now, revocations.get(r.serial));
    if (status === "valid") {
      const left = Date.parse(r.notAfter) - now.getTime();
      if (left <= 30 * DAY) expiring.within30Days++;
      if (left <= 90 * DAY) expiring.within90Days++;
      if (left <= 365 * DAY) expiring.within365Days++;
    }
    if (PROFILES[r.profile]?.basicConstraints.ca) continue;
    // Who worked where, before and during the period: an operator at a station never seen before.
    const seen = stationsOf.get(r.operator) ?? new Set<string>();
    if (!seen.has(r.station)) {
      if (seen.size > 0 && inPeriod(r.issuedAt)) newStations.push({ operator: r.operator, station: r.station, first: r.issuedAt });
      seen.add(r.station);
      stationsOf.set(r.operator, seen);
    }
    if (!inPeriod(r.issuedAt)) continue;
    issuance.total++;
    bump(issuance.byCa, r.ca);
    bump(issuance.byProfile, r.profile);
    bump(issuance.byOperator, r.operator);
    bump(issuance.byStation, r.station);
    if (r.batch !== null) {
      bump(issuance.byBatch, r.batch);
      bump(batchIssued, r.batch);
    }
    bump(issuance.byOrigin, r.origin ?? "not recorded");
    const day = r.issuedAt.slice(0, 10);
    bump((issuance.byDay[day] ??= {}), r.station);
    if (QUIET_HOURS(new Date(r.issuedAt).getUTCHours())) bump(offHours, r.station);
    if (r.profile === "firmware-signer") firmwareSigners.push({ serial: r.serial, subject: r.subject, issuedAt: r.issuedAt, notAfter: r.notAfter, status, operator: r.operator });
  }

  const revoked = { total: 0, byReason: {} as Counts, mass: [] as ReportData["revocations"]["mass"][number][] };
  for (const e of revocations.values()) countRevocation(revoked, e, inScope, inPeriod);

  // The audit log is read once: its verification hands each checked entry to the tally (refusals,
  // CRLs, DPS, mass revocations). A log that is not intact stops the check at its first bad entry,
  // so then the tally starts over on a plain read of every entry.
  let trail = newTrailTally();
  const tally = (e: AuditEntry) => {
    if (inPeriod(e.time)) countTrailEntry(trail, e, inScope);
  };
  const verdict = await verifyAuditLog(home, { onEntry: tally });
  if (!verdict.intact) {
    trail = newTrailTally();
    for await (const e of home.audit.read()) tally(e);
  }
  const { refusals, batchRefused, crls, dps } = trail;
  revoked.mass.push(...trail.mass);
  const anomalies: Anomaly[] = [
    ...Object.entries(offHours).map(([station, count]) => ({ kind: "off-hours", message: `${count} certificate(s) issued at ${station} between 22:00 and 06:00 UTC`, details: { station, count } })),
    ...newStations.map((n) => ({ kind: "new-station-for-operator", message: `${n.operator} issued at ${n.station} for the first time (${n.first})`, details: { ...n } })),
    ...Object.entries(batchRefused)
      .filter(([batch, refused]) => refused / (refused + (batchIssued[batch] ?? 0)) > 0.01)
      .map(([batch, refused]) => ({ kind: "batch-refusals", message: `batch ${batch}: ${refused} of ${refused + (batchIssued[batch] ?? 0)} requests refused (over 1%)`, details: { batch, refused, issued: batchIssued[batch] ?? 0 } })),
    ...Object.values(home.state.cas)
      .filter((ca) => keyScheme(ca.keyUri) === "file" && inScope(ca.name))
      .map((ca) => ({ kind: "file-key", message: `CA ${ca.name}'s key is an encrypted file in the home: whoever holds the home and the passphrase can copy it`, details: { ca: ca.name } })),
  ];

  return {
    format: REPORT_FORMAT,
    generatedAt: now.toISOString(),
    period: { from: from.toISOString(), to: to.toISOString() },
    filter: { ca: options.ca ?? null },
    home: {
      organization: home.state.organization,
      policyArc: home.policyArc,
      certificatePolicyOid: policyOidsUnder(home.policyArc).certificatePolicy,
      cas: Object.values(home.state.cas).map((ca) => ({
        name: ca.name,
        profile: ca.profile,
        subject: ca.subject,
        keyBackend: keyScheme(ca.keyUri),
        notBefore: ca.notBefore,
        notAfter: ca.notAfter,
        policyOids: PROFILES[ca.profile].policyOids.map((oid) => oidUnderArc(oid, home.policyArc)),
      })),
    },
    issuance,
    refusals,
    revocations: revoked,
    expiring,
    crls,
    ocspResponders: Object.values(home.state.responders ?? {})
      .filter((r) => inScope(r.ca))
      .map((r) => ({ ca: r.ca, serial: r.serial, notAfter: r.notAfter })),
    dps,
    firmwareSigners,
    audit: verdict.intact
      ? { intact: true, entries: verdict.entries, signedThrough: verdict.signedThrough, headHash: verdict.head.hash, problem: null }
      : { intact: false, entries: verdict.entries, signedThrough: null, headHash: null, problem: verdict.problem },
    anomalies,
  };
}

interface TrailTally {
  readonly refusals: { total: number; byCode: Counts; byOperator: Counts };
  readonly batchRefused: Counts;
  readonly crls: ReportData["crls"][number][];
  readonly dps: { exports: number; pushes: number; uploads: number };
  readonly mass: ReportData["revocations"]["mass"][number][];
}

function newTrailTally(): TrailTally {
  return { refusals: { total: 0, byCode: {}, byOperator: {} }, batchRefused: {}, crls: [], dps: { exports: 0, pushes: 0, uploads: 0 }, mass: [] };
}

/** What one audit entry of the period adds to the report. */
function countTrailEntry(t: TrailTally, e: AuditEntry, inScope: (ca: string | undefined) => boolean): void {
  if (e.action === "certificate.reject" && inScope(e.ca)) {
    t.refusals.total++;
    bump(t.refusals.byCode, String(e.details?.code ?? "unknown"));
    bump(t.refusals.byOperator, e.operator);
    if (e.batch) bump(t.batchRefused, e.batch);
  } else if (e.action === "crl.issue" && inScope(e.ca)) {
    t.crls.push({ ca: e.ca ?? "", crlNumber: Number(e.details?.crlNumber ?? 0), time: e.time, entries: Number(e.details?.entries ?? 0) });
  } else if (e.action === "dps.export" && e.outcome === "ok") t.dps.exports++;
  else if (e.action === "dps.push" && e.outcome === "ok") t.dps.pushes++;
  else if (e.action === "dps.upload-ca" && e.outcome === "ok") t.dps.uploads++;
  else if (e.action === "revocation.mass") {
    t.mass.push({ time: e.time, operator: e.operator, reason: e.reason ?? "", count: Number(e.details?.count ?? 0), selector: e.details?.selector ?? null });
  }
}

function countRevocation(into: { total: number; byReason: Counts }, e: RevocationEntry, inScope: (ca: string) => boolean, inPeriod: (t: string) => boolean): void {
  if (!inScope(e.ca) || !inPeriod(e.revokedAt)) return;
  into.total++;
  bump(into.byReason, e.reason);
}
