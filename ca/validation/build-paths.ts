/**
 * Path building (RFC 4158 in spirit): a depth-first search from the target towards a trust anchor
 * through the untrusted intermediates, yielding every candidate path in order of preference until
 * the caller accepts one.
 *
 * - Issuers are found by name under RFC 5280 §7.1 comparison (an index by comparison key).
 * - Candidates are ordered: authorityKeyIdentifier matching the subjectKeyIdentifier first, then
 *   trust anchors before intermediates (shorter paths), then those valid at the validation time.
 * - An edge whose signature does not verify is not followed (signature outcomes are memoised on
 *   the certificate, so §6.1 processing does not check them twice).
 * - Loops are cut: a certificate, or a subject name with the same key, appears once per path
 *   (RFC 4158 §5.2), so cross-certified pairs and swapped orders terminate.
 * - The search is bounded by `maxDepth` (intermediate CA certificates, self-issued ones not
 *   counted, as OpenSSL's -verify_depth and RFC 5280's max_path_length) and by
 *   `budget` (candidate issuers examined in the whole call): adversarial bundles (hundreds of certificates with the
 *   same name, certification meshes) end quickly with a clear reason instead of exploring
 *   exponentially many paths.
 */
import type { ParsedCertificate } from "./certificate.js";
import { signatureFailure } from "./process-path.js";

export interface CertificatePool {
  /** Trust anchors by subject name key. */
  readonly anchors: ReadonlyMap<string, readonly ParsedCertificate[]>;
  /** Untrusted intermediates by subject name key. */
  readonly intermediates: ReadonlyMap<string, readonly ParsedCertificate[]>;
}

export function poolOf(anchors: readonly ParsedCertificate[], intermediates: readonly ParsedCertificate[]): CertificatePool {
  const index = (certs: readonly ParsedCertificate[], skip: ReadonlySet<string>) => {
    const map = new Map<string, ParsedCertificate[]>();
    const seen = new Set<string>();
    for (const c of certs) {
      if (skip.has(c.id) || seen.has(c.id)) continue; // duplicates, and intermediates that are also anchors
      seen.add(c.id);
      const list = map.get(c.subject.key);
      if (list) list.push(c);
      else map.set(c.subject.key, [c]);
    }
    return map;
  };
  const anchorMap = index(anchors, new Set());
  return { anchors: anchorMap, intermediates: index(intermediates, new Set(anchors.map((a) => a.id))) };
}

/** A path found: certificates target first (the anchor not included), and the anchor. */
export interface CandidatePath {
  readonly certs: readonly ParsedCertificate[];
  readonly anchor: ParsedCertificate;
}

/** Why the search could not offer (more) candidate paths. */
export interface SearchReport {
  /** The budget ran out before the search space did. */
  exhausted: boolean;
  /** Candidates examined. */
  examined: number;
  /** Edges refused because the signature does not verify: the path so far (target first) and the issuer. */
  readonly badSignatures: { readonly path: readonly ParsedCertificate[]; readonly issuer: ParsedCertificate; readonly anchor: boolean; readonly reason: string }[];
  /** The longest path that ended at a certificate whose issuer is nowhere to be found. */
  deadEnd: readonly ParsedCertificate[] | undefined;
  /** A path that would have gone deeper than maxDepth. */
  tooDeep: readonly ParsedCertificate[] | undefined;
}

/** Intermediate CA certificates in `path` (target first) as max_path_length counts them: self-issued ones are not. */
function countedIntermediates(path: readonly ParsedCertificate[]): number {
  let n = 0;
  for (let i = 1; i < path.length; i++) if (!path[i]!.selfIssued) n++;
  return n;
}

/** Shared by nested searches (a CRL signer's path is built inside a validation): one budget per call. */
export interface SearchBudget {
  remaining: number;
}

export interface SearchLimits {
  readonly maxDepth: number;
  readonly budget: SearchBudget;
  readonly time: Date;
}

function akiRank(cert: ParsedCertificate, issuer: ParsedCertificate): number {
  const aki = cert.ext.authorityKeyId?.keyId;
  const ski = issuer.ext.subjectKeyId;
  if (aki === undefined || ski === undefined) return 1;
  return aki === ski ? 0 : 2;
}

function orderedIssuers(cert: ParsedCertificate, pool: CertificatePool, time: number): { issuer: ParsedCertificate; anchor: boolean }[] {
  const found = [
    ...(pool.anchors.get(cert.issuer.key) ?? []).map((issuer) => ({ issuer, anchor: true })),
    ...(pool.intermediates.get(cert.issuer.key) ?? []).map((issuer) => ({ issuer, anchor: false })),
  ];
  const rank = (c: { issuer: ParsedCertificate; anchor: boolean }) =>
    akiRank(cert, c.issuer) * 4 + (c.anchor ? 0 : 2) + (time >= c.issuer.notBefore.getTime() && time <= c.issuer.notAfter.getTime() ? 0 : 1);
  return found.map((c) => ({ c, r: rank(c) })).sort((a, b) => a.r - b.r).map((x) => x.c);
}

/**
 * Offer each candidate path to `accept` (best first) until it returns true. Returns whether one
 * was accepted; `report` says what stood in the way otherwise.
 */
export function searchPaths(target: ParsedCertificate, pool: CertificatePool, limits: SearchLimits, accept: (p: CandidatePath) => boolean, report: SearchReport): boolean {
  const time = limits.time.getTime();
  const path: ParsedCertificate[] = [target];
  const onPath = new Set<string>([target.id]);
  const nameKey = (c: ParsedCertificate) => c.subjectAndKey;
  const namesWithKeys = new Set<string>([nameKey(target)]);

  const visit = (): boolean => {
    const cert = path[path.length - 1]!;
    const issuers = orderedIssuers(cert, pool, time);
    if (issuers.length === 0 && (!report.deadEnd || report.deadEnd.length < path.length)) report.deadEnd = [...path];
    for (const { issuer, anchor } of issuers) {
      if (limits.budget.remaining <= 0) {
        report.exhausted = true;
        return false;
      }
      limits.budget.remaining--;
      report.examined++;
      if (!anchor && (onPath.has(issuer.id) || namesWithKeys.has(nameKey(issuer)))) continue;
      // DSA keys inheriting parameters can only be checked along a whole path: leave it to §6.1.
      const bad = issuer.inheritsKeyParameters ? undefined : signatureFailure(cert, issuer);
      if (bad !== undefined) {
        report.badSignatures.push({ path: [...path], issuer, anchor, reason: bad });
        continue;
      }
      if (anchor) {
        if (accept({ certs: [...path], anchor: issuer })) return true;
        continue;
      }
      if (!issuer.selfIssued && countedIntermediates(path) + 1 > limits.maxDepth) {
        if (!report.tooDeep) report.tooDeep = [...path, issuer];
        continue;
      }
      path.push(issuer);
      onPath.add(issuer.id);
      namesWithKeys.add(nameKey(issuer));
      const done = visit();
      path.pop();
      onPath.delete(issuer.id);
      namesWithKeys.delete(nameKey(issuer));
      if (done) return true;
      if (report.exhausted) return false;
    }
    return false;
  };
  return visit();
}
