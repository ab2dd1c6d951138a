/**
 * When no candidate path is valid, which failure to report: a path that reached a trust anchor and
 * failed a §6.1 check beats a signature that did not verify, which beats a path too deep, which
 * beats a missing issuer. Every path tried is listed as well (at most 20).
 */
import type { CandidatePath, CertificatePool, SearchReport } from "./build-paths.js";
import type { ParsedCertificate } from "./certificate.js";
import type { PathOutcome } from "./process-path.js";
import { CHECKS, describePath, type Check, type CheckName, type FailedAttempt, type InvalidPath } from "./result.js";

export interface FailedPath {
  readonly candidate: CandidatePath;
  readonly outcome: Extract<PathOutcome, { ok: false }>;
}

const subjects = (certs: readonly ParsedCertificate[]) => certs.map((c) => c.subject.text);

function invalid(check: CheckName, section: string, index: number, cert: ParsedCertificate, reason: string, path: readonly ParsedCertificate[], anchored: boolean, checks: readonly Check[], attempts: FailedAttempt[]): Omit<InvalidPath, "maxDepth" | "profile"> {
  const revoked = checks[checks.length - 1]?.revoked;
  return {
    valid: false,
    failing: { index, subject: cert.subject.text, serial: cert.serial },
    check,
    rfcSection: section,
    reason,
    ...(revoked ? { revoked } : {}),
    path: describePath(path, anchored),
    checks,
    attempts: attempts.slice(0, 20),
  };
}

export function explainFailure(leaf: ParsedCertificate, failures: readonly FailedPath[], report: SearchReport, pool: CertificatePool, maxDepth: number): Omit<InvalidPath, "maxDepth" | "profile"> {
  const attempts: FailedAttempt[] = [
    ...failures.map((f) => ({ path: subjects([...f.candidate.certs, f.candidate.anchor]), check: f.outcome.failure.check, index: f.outcome.failure.index, reason: f.outcome.failure.detail })),
    ...report.badSignatures.map((b) => ({ path: subjects([...b.path, b.issuer]), check: "signature" as const, index: b.path.length - 1, reason: b.reason })),
  ];
  const searchNote = report.exhausted ? ` (path building stopped after examining ${report.examined} candidate issuers)` : "";
  const first = failures[0];
  if (first) {
    const { candidate, outcome } = first;
    const all = [...candidate.certs, candidate.anchor];
    const cert = all[outcome.failure.index]!;
    return invalid(outcome.failure.check, outcome.failure.rfcSection, outcome.failure.index, cert, `${outcome.failure.detail}${searchNote}`, all, true, outcome.checks, attempts);
  }
  if (report.exhausted) {
    return invalid("path-building", CHECKS["path-building"], 0, leaf, `no valid path found within the search budget: examined ${report.examined} candidate issuers among the ${countPool(pool)} certificates given`, [leaf], false, [], attempts);
  }
  const bad = [...report.badSignatures].sort((a, b) => Number(b.anchor) - Number(a.anchor) || b.path.length - a.path.length)[0];
  if (bad) {
    const cert = bad.path[bad.path.length - 1]!;
    const path = [...bad.path, bad.issuer];
    const check: Check = { check: "signature", rfcSection: CHECKS.signature, index: bad.path.length - 1, ok: false, detail: `${bad.reason} (issuer ${bad.issuer.subject.text})` };
    return invalid("signature", CHECKS.signature, check.index, cert, check.detail, path, bad.anchor, [check], attempts);
  }
  if (report.tooDeep) {
    const path = report.tooDeep;
    return invalid("max-depth", CHECKS["max-depth"], path.length - 1, path[path.length - 1]!, `every path to a trust anchor is longer than the maximum depth of ${maxDepth} intermediate CA certificate(s) (self-issued ones not counted)`, path, false, [], attempts);
  }
  const path = report.deadEnd ?? [leaf];
  const top = path[path.length - 1]!;
  const reason = top.selfIssued && path.length === 1
    ? `${top.subject.text} is self-issued and is not one of the trust anchors`
    : `no issuer found for ${top.subject.text}: its issuer ${top.issuer.text} is neither a trust anchor nor among the untrusted certificates given`;
  return invalid("path-building", CHECKS["path-building"], path.length - 1, top, reason, path, false, [], attempts);
}

function countPool(pool: CertificatePool): number {
  let n = 0;
  for (const list of pool.intermediates.values()) n += list.length;
  for (const list of pool.anchors.values()) n += list.length;
  return n;
}
