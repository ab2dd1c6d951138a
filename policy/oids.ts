/**
 * Object identifiers used by Trustline.
 *
 * Certificate-policy OIDs belong to the organisation running the CA (RFC 3647): each home mints
 * them under its own arc (`trustline init --policy-arc`), normally the organisation's IANA Private
 * Enterprise Number `1.3.6.1.4.1.<PEN>`. The suffixes below the arc are fixed (POLICY_OIDS shows
 * them under the default arc); `oidUnderArc` moves one to another arc.
 */

/**
 * The default arc, for homes made without `--policy-arc`: PEN 32473, which RFC 5612 reserves for
 * documentation, sub-arc 1. A placeholder that every verifier can parse (GnuTLS reads no OID
 * component above 64 bits): production CAs use their own PEN.
 */
export const DEFAULT_POLICY_ARC = "1.3.6.1.4.1.32473.1";

/**
 * The arc of homes created before the organisation's arc existed (no `policyArc` recorded): 2.25
 * with UUID 9b344ced-0a05-4a4a-9597-71c39a91b54f (ITU-T X.667). Its 128-bit component is why GnuTLS
 * cannot read those certificates; such homes keep issuing under it, so their chains stay consistent.
 */
export const LEGACY_TRUSTLINE_ARC = "2.25.206301899026611410302643436773021168975";

/** The arc POLICY_OIDS are written under (the default arc). */
export const TRUSTLINE_ARC = DEFAULT_POLICY_ARC;

/** The certificate policy document itself (certificate-policy.md), and one policy per certificate kind. */
export const POLICY_OIDS = {
  certificatePolicy: `${TRUSTLINE_ARC}.1`,
  deviceIdentity: `${TRUSTLINE_ARC}.1.1`,
  firmwareSigning: `${TRUSTLINE_ARC}.1.2`,
  dpsVerification: `${TRUSTLINE_ARC}.1.3`,
} as const;

/** RFC 5280 §4.2.1.12 key purposes. */
export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  /**
   * Trustline's own key purpose: signing the head of a home's audit log. No registered key purpose
   * fits (codeSigning or OCSPSigning would let the key pass for something it is not), and a
   * dedicated one means no other certificate the root issued can stand in for the audit key.
   * Minted under the home's arc like the policy OIDs (`<arc>.5.1`), so GnuTLS reads it too.
   */
  auditLogSigning: `${TRUSTLINE_ARC}.5.1`,
  /** RFC 9336 id-kp-documentSigning: signing human-readable documents (the auditor's report). */
  documentSigning: "1.3.6.1.5.5.7.3.36",
} as const;

export type ExtendedKeyUsage = keyof typeof EKU_OIDS;

/**
 * The audit key purpose in audit-signer certificates issued before the organisation's arc existed:
 * `2.25.<uuid>.2.1`. Homes of that time keep verifying their audit log.
 */
export const LEGACY_AUDIT_LOG_SIGNING = `${LEGACY_TRUSTLINE_ARC}.2.1`;

/** The key purposes `audit verify` accepts on a home's audit-signer certificate. */
export function auditLogSigningOids(arc: string): readonly string[] {
  const current = oidUnderArc(EKU_OIDS.auditLogSigning, arc);
  return arc === LEGACY_TRUSTLINE_ARC ? [current, LEGACY_AUDIT_LOG_SIGNING] : [current];
}

/** `oid`, minted under TRUSTLINE_ARC, moved under `arc` (other OIDs are returned unchanged). */
export function oidUnderArc(oid: string, arc: string): string {
  return oid.startsWith(`${TRUSTLINE_ARC}.`) ? `${arc}${oid.slice(TRUSTLINE_ARC.length)}` : oid;
}

/** POLICY_OIDS under another arc. */
export function policyOidsUnder(arc: string): { readonly [K in keyof typeof POLICY_OIDS]: string } {
  return Object.fromEntries(Object.entries(POLICY_OIDS).map(([k, v]) => [k, oidUnderArc(v, arc)])) as { [K in keyof typeof POLICY_OIDS]: string };
}

/**
 * The largest OID component every verifier reads right: GnuTLS refuses components beyond 64 bits
 * and prints those above 2^63 - 1 as negative numbers (a signed 64-bit integer), so that is the cap.
 */
export const MAX_OID_COMPONENT = 2n ** 63n - 1n;
/** At most this many characters for an arc: the OIDs minted under it stay within GnuTLS's 128-character OID buffers. */
export const MAX_ARC_LENGTH = 64;

/**
 * Problems with `arc` as a home's policy arc (empty when fine): dotted decimal, no leading zeros,
 * first component 0, 1 or 2 (and the second below 40 under 0 and 1, X.660), at least two
 * components, every component (and the first two combined, as DER encodes them) a signed 64-bit
 * integer at most.
 */
export function policyArcProblems(arc: string): string[] {
  if (arc.length === 0) return ["the policy arc is empty; give an OID such as 1.3.6.1.4.1.<your PEN>"];
  if (arc.length > MAX_ARC_LENGTH) return [`the policy arc is ${arc.length} characters; at most ${MAX_ARC_LENGTH}, so the OIDs minted under it fit every verifier`];
  if (!/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/.test(arc)) {
    return [`the policy arc "${arc.slice(0, 80).replace(/[\u0000-\u001f\u007f]/g, "?")}" is not an OID: dotted decimal numbers without leading zeros, at least two of them (e.g. 1.3.6.1.4.1.32473.1)`];
  }
  const parts = arc.split(".").map((p) => BigInt(p));
  const problems: string[] = [];
  const [first, second] = [parts[0]!, parts[1]!];
  if (first > 2n) problems.push(`an OID starts with 0, 1 or 2 (X.660), not ${first}`);
  else if (first < 2n && second >= 40n) problems.push(`under ${first}, the second component is below 40 (X.660), not ${second}`);
  const big = parts.findIndex((p) => p > MAX_OID_COMPONENT);
  if (big >= 0) problems.push(`component ${big + 1} (${parts[big]}) exceeds 2^63 - 1 (a signed 64-bit integer): GnuTLS and other verifiers cannot read it; use your IANA Private Enterprise Number arc (1.3.6.1.4.1.<PEN>)`);
  else if (first * 40n + second > MAX_OID_COMPONENT) problems.push(`the first two components encode as ${first * 40n + second}, beyond 2^63 - 1`);
  return problems;
}
