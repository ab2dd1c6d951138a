/**
 * What path validation answers: a valid path with the policies it supports and every check made,
 * or the check that failed, where, under which RFC section and why. Plain data, ready for JSON.
 */
import type { ParsedCertificate } from "./certificate.js";

/** Checks by name, each with the RFC 5280 section that requires it. */
export const CHECKS = {
  "subject-public-key": "4.1.2.7",
  "extension-syntax": "4.2",
  "duplicate-extensions": "4.2",
  "signature-algorithm": "4.1.1.2",
  signature: "6.1.3(a)(1)",
  validity: "6.1.3(a)(2)",
  revocation: "6.1.3(a)(3)",
  "name-chaining": "6.1.3(a)(4)",
  "name-constraints": "6.1.3(b)-(c)",
  "certificate-policies": "6.1.3(d)-(f)",
  "policy-mappings": "6.1.4(a)-(b)",
  "explicit-policy": "6.1.5(g)",
  "basic-constraints": "6.1.4(k)",
  "path-length": "6.1.4(l)",
  "key-usage": "6.1.4(n)",
  "critical-extensions": "6.1.4(o)",
  "extended-key-usage": "4.2.1.12",
  "max-depth": "6.1",
  /** The strict profile (RFC 5280 §4 MUSTs); the failing check names the exact section. */
  profile: "4",
  /** A trust anchor given as a certificate brings its constraints (RFC 5937 §2, §3). */
  "anchor-validity": "6.1.1(d)",
  "anchor-basic-constraints": "6.1.1(d)",
  "anchor-key-usage": "6.1.1(d)",
  "anchor-critical-extensions": "6.1.1(d)",
  "anchor-constraints": "6.1.1(d)",
  "path-building": "6.1",
} as const;

export type CheckName = keyof typeof CHECKS;

export interface Check {
  readonly check: CheckName;
  /** The RFC 5280 section (the specific step when one applies, e.g. "6.1.3(f)"). */
  readonly rfcSection: string;
  /** Position in the path: 0 is the target certificate, the last is the trust anchor. */
  readonly index: number;
  readonly ok: boolean;
  readonly detail: string;
  /** On a failed revocation check: the CRL entry that revoked the certificate. */
  readonly revoked?: RevocationDetails;
}

export interface RevocationDetails {
  readonly revocationDate: string;
  readonly reason?: string;
  readonly invalidityDate?: string;
}

export interface PathCertificate {
  readonly index: number;
  readonly role: "target" | "intermediate" | "trust-anchor";
  readonly subject: string;
  readonly issuer: string;
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sha256: string;
}

export interface ValidPath {
  readonly valid: true;
  /** Target first, trust anchor last. */
  readonly path: readonly PathCertificate[];
  /**
   * The user-constrained policy set (§6.1.6): policy OIDs the path is valid for; ["2.5.29.32.0"]
   * (anyPolicy) when not restricted; [] when no policy is asserted and none was required.
   */
  readonly policies: readonly string[];
  readonly checks: readonly Check[];
  /** Candidate paths examined before this one succeeded (1 when the first did). */
  readonly attempts: number;
  /** The maximum number of (non-self-issued) intermediate CA certificates allowed. */
  readonly maxDepth: number;
  /** Whether the strict profile (RFC 5280 §4, §5) was applied. */
  readonly profile: "strict" | "lenient";
}

export interface FailedAttempt {
  readonly path: readonly string[];
  readonly check: CheckName;
  readonly index: number;
  readonly reason: string;
}

export interface InvalidPath {
  readonly valid: false;
  readonly failing: { readonly index: number; readonly subject: string; readonly serial: string };
  readonly check: CheckName;
  readonly rfcSection: string;
  /** A sentence a person can act on. */
  readonly reason: string;
  /** Set when the failure is that a certificate is revoked (not merely of unknown status). */
  readonly revoked?: RevocationDetails;
  /** The path the failure was found on (target first), when one was built. */
  readonly path: readonly PathCertificate[];
  /** The checks made on that path, the failing one last. */
  readonly checks: readonly Check[];
  /** Every candidate path examined (at most 20 listed), with why it failed. */
  readonly attempts: readonly FailedAttempt[];
  readonly maxDepth: number;
  readonly profile: "strict" | "lenient";
}

export type ValidationResult = ValidPath | InvalidPath;

export function describeCertificate(cert: ParsedCertificate, index: number, role: PathCertificate["role"]): PathCertificate {
  return {
    index,
    role,
    subject: cert.subject.text,
    issuer: cert.issuer.text,
    serial: cert.serial,
    notBefore: cert.validityText[0],
    notAfter: cert.validityText[1],
    sha256: cert.id,
  };
}

/** Path (target first, anchor last) as PathCertificates. */
export function describePath(certs: readonly ParsedCertificate[], anchored: boolean): PathCertificate[] {
  return certs.map((c, i) => describeCertificate(c, i, i === 0 ? "target" : anchored && i === certs.length - 1 ? "trust-anchor" : "intermediate"));
}
