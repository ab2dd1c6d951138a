/**
 * Revocation rules (RFC 5280 §5.3.1 reason codes) and CRL parameters per issuing-CA profile.
 * Pure data and pure functions, like the profiles.
 */
import type { Profile, ProfileName } from "./profiles.js";

/** RFC 5280 §5.3.1 CRLReason, by name, with its ENUMERATED value (7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function isRevocationReason(name: string): name is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, name);
}

/**
 * Problems with revoking a certificate of `profile` for `reason` (empty: allowed).
 * - certificateHold only where the profile allows suspension;
 * - removeFromCRL only releases a hold (RFC 5280 §5.3.1: it is for delta CRLs; here it takes the
 *   certificate off the next full CRL);
 * - cACompromise only for CA certificates, aACompromise never (no attribute authorities here).
 */
export function revocationProblems(profile: Profile, reason: RevocationReason, currentlyOnHold: boolean): string[] {
  if (reason === "certificateHold" && !profile.allowHold) return [`${profile.title} certificates cannot be put on hold (the profile does not allow suspension); revoke them instead`];
  if (reason === "removeFromCRL" && !currentlyOnHold) return ["removeFromCRL releases a certificate on hold; this certificate is not on hold"];
  if (reason === "cACompromise" && !profile.basicConstraints.ca) return ["cACompromise is for CA certificates; use keyCompromise for an end-entity key"];
  if (reason === "aACompromise") return ["aACompromise concerns attribute authorities, which this PKI does not have"];
  return [];
}

/** CRL parameters of an issuing CA: how long a CRL is valid, how long expired entries stay listed. */
export interface CrlProfile {
  readonly nextUpdateDays: number;
  /** Entries of certificates expired more than this many days before thisUpdate are dropped. */
  readonly expiredRetentionDays: number;
}

export const CRL_PROFILES: Readonly<Partial<Record<ProfileName, CrlProfile>>> = Object.freeze({
  "root-ca": { nextUpdateDays: 90, expiredRetentionDays: 365 },
  "device-ca": { nextUpdateDays: 7, expiredRetentionDays: 365 },
  "firmware-ca": { nextUpdateDays: 7, expiredRetentionDays: 365 },
});
