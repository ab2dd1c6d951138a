/** Revoking certificates: one at a time, or every certificate of a batch, station or operator. */
import { isRevocationReason, PROFILES, REVOCATION_REASONS, type RevocationReason, revocationProblems } from "../../policy/index.js";
import type { AuditEvent } from "../audit/log.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import type { CertificateFilter, CertificateRecord, RevocationEntry } from "../store/types.js";
import { normalizeSerial } from "../x509/serial.js";

export interface RevokeOptions {
  readonly reason: RevocationReason;
  /** RFC 5280 §5.3.2: when the key is known or suspected to have been compromised. */
  readonly invalidityDate?: Date;
}

export interface RevocationResult {
  readonly serial: string;
  readonly ca: string;
  readonly subject: string;
  readonly reason: RevocationReason;
  readonly revokedAt: string;
  readonly invalidityDate?: string;
  /** True when the certificate was already revoked: nothing new was recorded. */
  readonly alreadyRevoked: boolean;
}

/** The reason must be one of RFC 5280 §5.3.1 (callers from plain JavaScript are not type-checked). */
function checkReason(reason: string): void {
  if (!isRevocationReason(reason)) throw new TrustlineError("USAGE", `"${String(reason).slice(0, 40)}" is not an RFC 5280 revocation reason; one of ${Object.keys(REVOCATION_REASONS).join(", ")}`);
}

function checkInvalidityDate(date: Date | undefined, record: CertificateRecord, now: Date): void {
  if (date === undefined) return;
  if (Number.isNaN(date.getTime())) throw new TrustlineError("USAGE", "the invalidity date is not a valid time");
  if (date > now) throw new TrustlineError("USAGE", `the invalidity date ${date.toISOString()} is in the future`);
  if (date < new Date(record.notBefore)) throw new TrustlineError("USAGE", `the invalidity date ${date.toISOString()} is before the certificate was valid (${record.notBefore})`);
}

function entryFor(home: Home, record: CertificateRecord, options: RevokeOptions, now: Date): RevocationEntry {
  return {
    serial: record.serial,
    ca: record.ca,
    reason: options.reason,
    revokedAt: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    ...(options.invalidityDate ? { invalidityDate: new Date(Math.floor(options.invalidityDate.getTime() / 1000) * 1000).toISOString() } : {}),
    notAfter: record.notAfter,
    ...home.who,
  };
}

function revokeEvent(home: Home, e: RevocationEntry, record: CertificateRecord, extra: Record<string, unknown> = {}): AuditEvent {
  return {
    action: "certificate.revoke",
    outcome: "ok",
    ...home.who,
    ca: e.ca,
    serial: e.serial,
    subject: record.commonName,
    profile: record.profile,
    batch: record.batch,
    reason: e.reason,
    details: { ...(e.invalidityDate ? { invalidityDate: e.invalidityDate } : {}), ...extra },
  };
}

/** Revoke (or hold, or release) one certificate. Idempotent: revoking a revoked certificate records nothing. */
export async function revokeCertificate(home: Home, serialInput: string, options: RevokeOptions): Promise<RevocationResult> {
  checkReason(options.reason);
  const serial = normalizeSerial(serialInput);
  await home.authorize(options.reason === "certificateHold" || options.reason === "removeFromCRL" ? "revoke.hold" : "revoke.single");
  const record = await home.inventory.getCertificate(serial);
  if (!record) throw new TrustlineError("NOT_FOUND", `no certificate with serial ${serial} was issued by this home; nothing was revoked`, { details: { serial } });
  const now = home.clock();
  checkInvalidityDate(options.invalidityDate, record, now);
  // A revocation must not be written when its audit entry could not be signed (a missing audit key).
  await home.auditSignerIfPassphrase();
  return home.transaction(async () => {
    const current = (await home.inventory.revocations(record.ca)).get(serial);
    const onHold = current?.reason === "certificateHold";
    if (current && !onHold && options.reason !== "removeFromCRL") {
      return { serial, ca: record.ca, subject: record.subject, reason: current.reason, revokedAt: current.revokedAt, ...(current.invalidityDate ? { invalidityDate: current.invalidityDate } : {}), alreadyRevoked: true };
    }
    if (current && onHold && options.reason === "certificateHold") {
      return { serial, ca: record.ca, subject: record.subject, reason: current.reason, revokedAt: current.revokedAt, alreadyRevoked: true };
    }
    const problems = revocationProblems(PROFILES[record.profile], options.reason, onHold);
    if (problems.length > 0) throw new TrustlineError("POLICY_DENIED", problems.join("; "), { details: { serial, reason: options.reason } });
    const entry = entryFor(home, record, options, now);
    await home.inventory.revoke([entry]);
    await home.record([revokeEvent(home, entry, record)]);
    if (entry.reason === "keyCompromise") home.securityEvent("revocation.key-compromise", { serial, ca: record.ca, subject: record.subject, profile: record.profile });
    return { serial, ca: record.ca, subject: record.subject, reason: entry.reason, revokedAt: entry.revokedAt, ...(entry.invalidityDate ? { invalidityDate: entry.invalidityDate } : {}), alreadyRevoked: false };
  });
}

/** Which certificates a mass revocation selects. */
export interface MassSelector {
  readonly batch?: string;
  readonly station?: string;
  readonly operator?: string;
  /** Issued at or after (ISO 8601). */
  readonly from?: string;
  /** Issued before (ISO 8601). */
  readonly to?: string;
  readonly ca?: string;
}

export interface MassPlan {
  readonly selector: MassSelector;
  readonly serials: readonly string[];
  /** The first few, for a person to check before confirming. */
  readonly sample: readonly Pick<CertificateRecord, "serial" | "ca" | "subject" | "batch" | "station" | "operator" | "issuedAt">[];
}

function filterOf(selector: MassSelector): CertificateFilter {
  if (!selector.batch && !selector.station && !selector.operator) throw new TrustlineError("USAGE", "a mass revocation needs --batch, --station or --operator (optionally with --from/--to)");
  const time = (s: string | undefined, name: string) => {
    if (s === undefined) return undefined;
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) throw new TrustlineError("USAGE", `--${name} "${s}" is not an ISO 8601 time`);
    return d.toISOString();
  };
  const from = time(selector.from, "from");
  const to = time(selector.to, "to");
  if (from && to && from >= to) throw new TrustlineError("USAGE", "--from must be before --to");
  return {
    ...(selector.batch ? { batch: selector.batch } : {}),
    ...(selector.station ? { station: selector.station } : {}),
    ...(selector.operator ? { operator: selector.operator } : {}),
    ...(selector.ca ? { ca: selector.ca } : {}),
    ...(from ? { issuedFrom: from } : {}),
    ...(to ? { issuedTo: to } : {}),
  };
}

/** Certificates of the CA's own machinery: revoked one by one, if ever, never by a mass revocation. */
const CA_INFRASTRUCTURE: ReadonlySet<string> = new Set(["audit-signer", "report-signer", "ocsp-responder"]);

/**
 * The end-entity certificates a selector matches that are not yet revoked. CA certificates, the
 * audit signer and OCSP responders are never part of a mass revocation (an incident at a station
 * does not take the hierarchy, its audit trail or its status service down).
 */
export async function planMassRevocation(home: Home, selector: MassSelector): Promise<MassPlan> {
  const filter = filterOf(selector);
  const serials: string[] = [];
  const sample: MassPlan["sample"][number][] = [];
  const revoked = await home.inventory.revocations();
  for await (const r of home.inventory.query(filter, home.clock())) {
    if (PROFILES[r.profile].basicConstraints.ca || CA_INFRASTRUCTURE.has(r.profile)) continue;
    const existing = revoked.get(r.serial);
    if (existing && existing.reason !== "certificateHold") continue;
    serials.push(r.serial);
    if (sample.length < 10) sample.push({ serial: r.serial, ca: r.ca, subject: r.subject, batch: r.batch, station: r.station, operator: r.operator, issuedAt: r.issuedAt });
  }
  return { selector, serials, sample };
}

export interface MassResult {
  readonly revoked: number;
  readonly serials: readonly string[];
  readonly reason: RevocationReason;
}

/** Revoke everything the selector matches: one audit entry per certificate and one for the operation. */
export async function revokeMass(home: Home, selector: MassSelector, options: RevokeOptions): Promise<MassResult> {
  checkReason(options.reason);
  if (options.reason === "certificateHold" || options.reason === "removeFromCRL") {
    throw new TrustlineError("USAGE", `a mass revocation cannot use ${options.reason}; revoke with a final reason (e.g. keyCompromise)`);
  }
  await home.authorize("revoke.mass");
  const plan = await planMassRevocation(home, selector);
  const now = home.clock();
  await home.auditSignerIfPassphrase();
  return home.transaction(async () => {
    const current = await home.inventory.revocations();
    const entries: RevocationEntry[] = [];
    const events: AuditEvent[] = [];
    for (const serial of plan.serials) {
      const existing = current.get(serial);
      if (existing && existing.reason !== "certificateHold") continue; // revoked meanwhile
      const record = await home.inventory.getCertificate(serial);
      if (!record) continue;
      const problems = revocationProblems(PROFILES[record.profile], options.reason, existing?.reason === "certificateHold");
      if (problems.length > 0) throw new TrustlineError("POLICY_DENIED", `${serial}: ${problems.join("; ")}`);
      const entry = entryFor(home, record, options, now);
      if (options.invalidityDate) checkInvalidityDate(options.invalidityDate, record, now);
      entries.push(entry);
      events.push(revokeEvent(home, entry, record, { mass: true }));
    }
    await home.inventory.revoke(entries);
    events.push({ action: "revocation.mass", outcome: "ok", ...home.who, reason: options.reason, details: { selector: { ...selector }, count: entries.length } });
    await home.record(events);
    home.securityEvent("revocation.mass", { reason: options.reason, selector: { ...selector }, count: entries.length });
    return { revoked: entries.length, serials: entries.map((e) => e.serial), reason: options.reason };
  });
}
