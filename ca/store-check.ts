/**
 * `trustline store check`: the store against the audit trail. The trail names every certificate
 * issued and every revocation made; the inventory and the revocation log must hold each of them.
 * A deleted segment or revocation log, or one cut at a line boundary, leaves files that read
 * cleanly but say less than happened: only this cross-check shows what was lost (an un-revoked
 * certificate above all). The trail itself is verified by `audit verify`; a trail that does not
 * verify makes this check say so rather than vouch for the store.
 */
import type { Home } from "./home.js";
import { isTrustlineError } from "./errors.js";
import type { RevocationEntry } from "./store/types.js";

export interface StoreCheckReport {
  /** True when every certificate and revocation the trail names is in the store, and every file reads. */
  readonly consistent: boolean;
  readonly auditEntries: number;
  readonly certificatesInTrail: number;
  readonly revocationsInTrail: number;
  /** Serials the trail says were issued (issue entry) that the inventory does not hold. */
  readonly missingCertificates: readonly string[];
  /** Serials the trail says are revoked (or on hold) that the revocation log does not list so. */
  readonly missingRevocations: readonly { readonly serial: string; readonly reason: string }[];
  /** Revocations in the log that no audit entry records (written around the pipeline). */
  readonly unrecordedRevocations: readonly string[];
  /** Files that could not be read, with why. */
  readonly unreadable: readonly string[];
}

/** At most this many serials are listed per kind; the counts stay exact. */
const LISTED = 1_000;

export async function checkStore(home: Home): Promise<StoreCheckReport> {
  const unreadable: string[] = [];
  const missingCertificates: string[] = [];
  let auditEntries = 0;
  let certificatesInTrail = 0;
  let missingCount = 0;
  // The trail's view of revocations: the last event per serial wins, removeFromCRL releases.
  const revokedInTrail = new Map<string, string>();
  for await (const entry of home.audit.read()) {
    auditEntries++;
    if (entry.outcome !== "ok" || !entry.serial) continue;
    if (entry.action === "certificate.issue") {
      certificatesInTrail++;
      let present = false;
      try {
        present = (await home.inventory.getCertificate(entry.serial)) !== undefined;
      } catch (e) {
        if (!isTrustlineError(e)) throw e;
        if (unreadable.length < LISTED) unreadable.push(e.message);
      }
      if (!present) {
        missingCount++;
        if (missingCertificates.length < LISTED) missingCertificates.push(entry.serial);
      }
    } else if (entry.action === "certificate.revoke" && entry.reason) {
      if (entry.reason === "removeFromCRL") revokedInTrail.delete(entry.serial);
      else revokedInTrail.set(entry.serial, entry.reason);
    }
  }

  let inLog = new Map<string, RevocationEntry>();
  try {
    inLog = await home.inventory.revocations();
  } catch (e) {
    if (!isTrustlineError(e)) throw e;
    unreadable.push(e.message);
  }
  const missingRevocations = [...revokedInTrail]
    .filter(([serial, reason]) => inLog.get(serial)?.reason !== reason)
    .map(([serial, reason]) => ({ serial, reason }));
  const unrecordedRevocations = [...inLog.keys()].filter((serial) => !revokedInTrail.has(serial));
  return {
    consistent: missingCount === 0 && missingRevocations.length === 0 && unrecordedRevocations.length === 0 && unreadable.length === 0,
    auditEntries,
    certificatesInTrail,
    revocationsInTrail: revokedInTrail.size,
    missingCertificates,
    missingRevocations: missingRevocations.slice(0, LISTED),
    unrecordedRevocations: unrecordedRevocations.slice(0, LISTED),
    unreadable,
  };
}
