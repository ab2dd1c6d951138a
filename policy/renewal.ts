/**
 * When a certificate may be renewed by its own holder (certificate-policy.md §4.6, §4.7): a device
 * authenticating with its current certificate over EST (`simplereenroll`). Pure, like the profiles.
 */
import type { ProfileName } from "./profiles.js";

/** The profiles whose holders may renew themselves, and from when: the last third of the validity. */
export const RENEWAL = {
  profiles: ["device"] as readonly ProfileName[],
  /** A certificate may be renewed once at most this fraction of its validity remains. */
  windowFraction: 1 / 3,
} as const;

/** Why `certificate` may not be renewed at `now` (its revocation is checked by the caller), or undefined. */
export function renewalProblem(certificate: { readonly profile: ProfileName; readonly notBefore: string; readonly notAfter: string }, now: Date): string | undefined {
  if (!RENEWAL.profiles.includes(certificate.profile)) return `a ${certificate.profile} certificate is not renewed through EST (certificate-policy.md §4.6)`;
  const from = Date.parse(certificate.notBefore);
  const to = Date.parse(certificate.notAfter);
  if (now.getTime() >= to) return `the certificate expired at ${certificate.notAfter}; an expired certificate cannot renew itself (enroll again through a station)`;
  const opens = to - (to - from) * RENEWAL.windowFraction;
  if (now.getTime() < opens) return `the renewal window opens at ${new Date(opens).toISOString()}, when a third of the certificate's validity remains`;
  return undefined;
}
