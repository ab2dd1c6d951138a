/**
 * `validatePath`: does this certificate chain to one of our trust anchors, for this purpose, at
 * this time, unrevoked? RFC 5280 §6.1 over the candidate paths that path building offers, best
 * first, until one is valid; otherwise the most telling failure.
 *
 * Synchronous and free of I/O: an update server or a verifier embeds it as is. It depends on the
 * x509 decoders and errors only, never on issuing code or the store.
 */
import { TrustlineError } from "../errors.js";
import { poolOf, searchPaths, type CandidatePath, type CertificatePool, type SearchBudget, type SearchReport } from "./build-paths.js";
import { CertificateCache } from "./cache.js";
import type { ParsedCertificate } from "./certificate.js";
import { crlViewFromDer } from "./crl-der.js";
import type { CrlView } from "./crl-view.js";
import { ANY_POLICY, KEY_USAGE } from "./extensions.js";
import { DEFAULT_COMPARISON_BUDGET } from "./name-constraints.js";
import { distinguishedNameFromDer } from "./names.js";
import { DEFAULT_POLICY_NODE_LIMIT } from "./policy-tree.js";
import { processPath, type PathOptions, type PathOutcome } from "./process-path.js";
import { PURPOSES, type Purpose } from "./purpose.js";
import { explainFailure, type FailedPath } from "./failure-report.js";
import { CHECKS, describePath, type Check, type ValidationResult } from "./result.js";
import type { PreparedCrl, RevocationContext, RevocationMode } from "./revocation.js";

/** What stays the same across validations: trust, the certificate pool, CRLs, bounds. */
export interface ValidatorOptions {
  /** Trust anchors: certificates (DER) whose subject name and key are trusted (§6.1.1(d)). */
  readonly trustAnchors: readonly Uint8Array[];
  /** Untrusted certificates (DER) paths may go through, in any order. */
  readonly intermediates?: readonly Uint8Array[];
  /** CRLs, as DER or as any decoder's CrlView. */
  readonly crls?: readonly (Uint8Array | CrlView)[];
  /**
   * Skip the strict profile (RFC 5280 §4 MUSTs on every certificate, and the CRL profile of §5:
   * cRLNumber present and non-critical). For forensic use; the §6.1 algorithm is never relaxed.
   * Default false: strict, as `openssl verify -x509_strict`.
   */
  readonly lenient?: boolean;
  /** The default maxDepth of this validator's calls (see ValidationRequest.maxDepth). */
  readonly maxDepth?: number;
  /** Accept SHA-1 signatures (legacy test corpora only). Default false. */
  readonly allowSha1Signatures?: boolean;
  /** Reuse decoded certificates and signature outcomes across calls (a PathValidator makes its own otherwise). */
  readonly cache?: CertificateCache;
  /** Bounds on the work one call may do. */
  readonly limits?: { readonly searchBudget?: number; readonly policyTreeNodes?: number; readonly nameConstraintComparisons?: number };
}

/** What one validation asks. */
export interface ValidationRequest {
  /** The validation time (default: now). */
  readonly time?: Date;
  /** What the target certificate is for (default "any"). */
  readonly purpose?: Purpose;
  /**
   * At most this many intermediate CA certificates between the trust anchor and the target
   * (default 10), as OpenSSL's -verify_depth and RFC 5280's max_path_length count them: 0 means
   * the anchor signs the target directly; self-issued intermediates are not counted.
   */
  readonly maxDepth?: number;
  /** Overrides the validator's `lenient` for this call. */
  readonly lenient?: boolean;
  /** "require": every certificate needs a current CRL; "if-available" (default): checked when one is given; "off". */
  readonly revocation?: RevocationMode;
  /** user-initial-policy-set (§6.1.1(c)); default any-policy. */
  readonly initialPolicySet?: readonly string[];
  readonly initialExplicitPolicy?: boolean;
  readonly initialPolicyMappingInhibit?: boolean;
  readonly initialAnyPolicyInhibit?: boolean;
  /** More untrusted certificates for this call only (the chain a device sent with its certificate). */
  readonly extraIntermediates?: readonly Uint8Array[];
}

export type ValidationOptions = ValidatorOptions & ValidationRequest;

export const DEFAULT_MAX_DEPTH = 10;
export const DEFAULT_SEARCH_BUDGET = 1_000;
/** CRL signers validated inside a validation, nested at most this deep (§6.3.3(f)). */
const MAX_CRL_SIGNER_NESTING = 3;

interface Session {
  readonly pool: CertificatePool;
  readonly crls: readonly PreparedCrl[];
  readonly time: Date;
  readonly mode: RevocationMode;
  readonly allowSha1: boolean;
  readonly maxDepth: number;
  readonly strict: boolean;
  /** Candidate issuers the whole call may examine, CRL signers' paths included. */
  readonly budget: SearchBudget;
  readonly policyNodes: number;
  readonly comparisons: number;
  readonly signerVerdicts: Map<string, string | undefined>;
  readonly signersInProgress: Set<string>;
}

function checkedRequest(o: ValidationRequest): void {
  if (o.purpose !== undefined && !PURPOSES.includes(o.purpose)) throw new TrustlineError("USAGE", `unknown purpose "${o.purpose}" (one of ${PURPOSES.join(", ")})`);
  if (o.maxDepth !== undefined && (!Number.isSafeInteger(o.maxDepth) || o.maxDepth < 0)) throw new TrustlineError("USAGE", `maxDepth must be a non-negative integer, not ${o.maxDepth}`);
  if (o.revocation !== undefined && !["require", "if-available", "off"].includes(o.revocation)) throw new TrustlineError("USAGE", `unknown revocation mode "${o.revocation}"`);
  if (o.time !== undefined && Number.isNaN(o.time.getTime())) throw new TrustlineError("USAGE", "the validation time is not a valid date");
}

function prepareCrls(crls: readonly (Uint8Array | CrlView)[]): PreparedCrl[] {
  return crls.map((c, position) => {
    const view = c instanceof Uint8Array ? crlViewFromDer(c) : c;
    try {
      return { view, issuer: distinguishedNameFromDer(view.issuerDer), position };
    } catch (e) {
      throw new TrustlineError("INPUT_INVALID", `CRL ${position + 1}: its issuer name cannot be read: ${(e as Error).message}`, { cause: e });
    }
  });
}

/**
 * A validator for one set of trust anchors, intermediates and CRLs, decoded and indexed once:
 * what a server keeps and calls for every device. Synchronous; safe to share (it keeps no
 * per-call state but its cache).
 */
export class PathValidator {
  private readonly cache: CertificateCache;
  private readonly pool: CertificatePool;
  private readonly crls: readonly PreparedCrl[];
  private readonly limits: NonNullable<ValidatorOptions["limits"]>;
  private readonly allowSha1: boolean;
  private readonly lenient: boolean;
  private readonly maxDepth: number;

  constructor(options: ValidatorOptions) {
    if (options.trustAnchors.length === 0) throw new TrustlineError("USAGE", "no trust anchor given: nothing can be trusted");
    checkedRequest({ ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}) });
    this.cache = options.cache ?? new CertificateCache();
    const anchors = options.trustAnchors.map((d, i) => this.parse(d, `trust anchor ${i + 1}`));
    const intermediates = (options.intermediates ?? []).map((d, i) => this.parse(d, `untrusted certificate ${i + 1}`));
    this.pool = poolOf(anchors, intermediates);
    this.crls = prepareCrls(options.crls ?? []);
    this.limits = options.limits ?? {};
    this.allowSha1 = options.allowSha1Signatures ?? false;
    this.lenient = options.lenient ?? false;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  }

  private parse(der: Uint8Array, what: string): ParsedCertificate {
    try {
      return this.cache.get(der);
    } catch (e) {
      throw e instanceof TrustlineError ? new TrustlineError(e.code, `${what}: ${e.message}`, { cause: e }) : e;
    }
  }

  /** Validate `target` (DER). Throws only for unusable input (INPUT_INVALID, USAGE). */
  validate(target: Uint8Array, request: ValidationRequest = {}): ValidationResult {
    checkedRequest(request);
    const leaf = this.parse(target, "the certificate to validate");
    const extra = (request.extraIntermediates ?? []).map((d, i) => this.parse(d, `untrusted certificate ${i + 1} sent with the target`));
    const pool = extra.length === 0 ? this.pool : withExtra(this.pool, extra);
    const session: Session = {
      pool,
      crls: this.crls,
      time: request.time ?? new Date(),
      mode: request.revocation ?? "if-available",
      allowSha1: this.allowSha1,
      maxDepth: request.maxDepth ?? this.maxDepth,
      strict: !(request.lenient ?? this.lenient),
      budget: { remaining: this.limits.searchBudget ?? DEFAULT_SEARCH_BUDGET },
      policyNodes: this.limits.policyTreeNodes ?? DEFAULT_POLICY_NODE_LIMIT,
      comparisons: this.limits.nameConstraintComparisons ?? DEFAULT_COMPARISON_BUDGET,
      signerVerdicts: new Map(),
      signersInProgress: new Set(),
    };
    const set = request.initialPolicySet;
    return validateIn(session, leaf, pool, {
      purpose: request.purpose ?? "any",
      initialPolicySet: set && set.length > 0 && !set.includes(ANY_POLICY) ? new Set(set) : undefined,
      initialExplicitPolicy: request.initialExplicitPolicy ?? false,
      initialPolicyMappingInhibit: request.initialPolicyMappingInhibit ?? false,
      initialAnyPolicyInhibit: request.initialAnyPolicyInhibit ?? false,
      nesting: 0,
    });
  }
}

/** The pool with a call's own intermediates added (the shared pool is left as it is). */
function withExtra(pool: CertificatePool, extra: readonly ParsedCertificate[]): CertificatePool {
  const intermediates = new Map([...pool.intermediates].map(([k, v]) => [k, [...v]]));
  const known = new Set([...pool.intermediates.values(), ...pool.anchors.values()].flat().map((c) => c.id));
  for (const c of extra) {
    if (known.has(c.id)) continue;
    known.add(c.id);
    const list = intermediates.get(c.subject.key);
    if (list) list.push(c);
    else intermediates.set(c.subject.key, [c]);
  }
  return { anchors: pool.anchors, intermediates };
}

/** One validation with everything given at once. Prefer a PathValidator to validate many certificates. */
export function validatePath(target: Uint8Array, options: ValidationOptions): ValidationResult {
  return new PathValidator(options).validate(target, options);
}

interface Goal {
  readonly purpose: Purpose;
  readonly initialPolicySet: ReadonlySet<string> | undefined;
  readonly initialExplicitPolicy: boolean;
  readonly initialPolicyMappingInhibit: boolean;
  readonly initialAnyPolicyInhibit: boolean;
  readonly targetKeyUsage?: PathOptions["targetKeyUsage"];
  readonly nesting: number;
}

function validateIn(s: Session, leaf: ParsedCertificate, pool: CertificatePool, goal: Goal): ValidationResult {
  const revocation: RevocationContext = {
    mode: s.mode,
    time: s.time,
    allowSha1: s.allowSha1,
    strict: s.strict,
    crls: s.crls,
    certificatesNamed: (key) => [...(s.pool.anchors.get(key) ?? []), ...(s.pool.intermediates.get(key) ?? [])],
    validateCrlSigner: (signer, anchor) => validateCrlSigner(s, signer, anchor, goal.nesting),
  };
  const pathOptions: PathOptions = {
    time: s.time,
    purpose: goal.purpose,
    allowSha1: s.allowSha1,
    initialPolicySet: goal.initialPolicySet,
    initialExplicitPolicy: goal.initialExplicitPolicy,
    initialPolicyMappingInhibit: goal.initialPolicyMappingInhibit,
    initialAnyPolicyInhibit: goal.initialAnyPolicyInhibit,
    policyNodeLimit: s.policyNodes,
    nameConstraintComparisons: s.comparisons,
    strict: s.strict,
    ...(goal.targetKeyUsage ? { targetKeyUsage: goal.targetKeyUsage } : {}),
    revocation,
  };
  const failures: FailedPath[] = [];
  let success: { candidate: CandidatePath; outcome: Extract<PathOutcome, { ok: true }> } | undefined;
  const report: SearchReport = { exhausted: false, examined: 0, badSignatures: [], deadEnd: undefined, tooDeep: undefined };
  searchPaths(leaf, pool, { maxDepth: s.maxDepth, budget: s.budget, time: s.time }, (candidate) => {
    const outcome = processPath(candidate.anchor, [...candidate.certs].reverse(), pathOptions);
    if (outcome.ok) success = { candidate, outcome };
    else failures.push({ candidate, outcome });
    return outcome.ok;
  }, report);

  if (success) {
    const { candidate, outcome } = success;
    const counted = candidate.certs.slice(1).filter((c) => !c.selfIssued).length;
    const depthCheck: Check = { check: "max-depth", rfcSection: CHECKS["max-depth"], index: 0, ok: true, detail: `${counted} intermediate CA certificate(s) counted (self-issued ones are not), at most ${s.maxDepth}` };
    return {
      valid: true,
      path: describePath([...candidate.certs, candidate.anchor], true),
      policies: outcome.policies,
      checks: [depthCheck, ...outcome.checks],
      attempts: failures.length + 1,
      maxDepth: s.maxDepth,
      profile: s.strict ? "strict" : "lenient",
    };
  }
  return { ...explainFailure(leaf, failures, report, s.pool, s.maxDepth), maxDepth: s.maxDepth, profile: s.strict ? "strict" : "lenient" };
}

/** §6.3.3(f): a CRL signed by another certificate than the issuer counts when that certificate validates to the same anchor, for cRLSign. */
function validateCrlSigner(s: Session, signer: ParsedCertificate, anchor: ParsedCertificate, nesting: number): string | undefined {
  const key = `${signer.id}>${anchor.id}`;
  if (s.signerVerdicts.has(key)) return s.signerVerdicts.get(key);
  if (nesting + 1 > MAX_CRL_SIGNER_NESTING) return "CRL signers nest too deeply";
  if (s.signersInProgress.has(key)) return "the CRL signer's own validation depends on itself";
  s.signersInProgress.add(key);
  try {
    const pool: CertificatePool = { anchors: new Map([[anchor.subject.key, [anchor]]]), intermediates: s.pool.intermediates };
    const r = validateIn(s, signer, pool, {
      purpose: "any",
      initialPolicySet: undefined,
      initialExplicitPolicy: false,
      initialPolicyMappingInhibit: false,
      initialAnyPolicyInhibit: false,
      targetKeyUsage: { bits: KEY_USAGE.cRLSign, name: "cRLSign" },
      nesting: nesting + 1,
    });
    const verdict = r.valid ? undefined : `${r.check}: ${r.reason}`;
    s.signerVerdicts.set(key, verdict);
    return verdict;
  } finally {
    s.signersInProgress.delete(key);
  }
}
