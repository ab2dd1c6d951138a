/**
 * Issuing CRLs: one per CA, numbered monotonically, from the inventory's revocations. The latest
 * CRL of each CA is kept in the home's store, so that every process serving the home (several
 * `serve` on one PostgreSQL store, the workers of `serve --workers`) serves the same one and a
 * revocation costs one CRL number and one audit entry, not one per process.
 */
import { CRL_PROFILES, REVOCATION_REASONS } from "../../policy/index.js";
import type { CrlProfile } from "../../policy/revocation.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { caCertificateDer, caSigner, getCa, spkiOfCa } from "../issue.js";
import { keyIdentifier, SIGNATURE_ALGORITHMS, type Signer, signStructure } from "../keys/signer.js";
import type { StoredCrl } from "../store/home-storage.js";
import type { CaRecord } from "../store/state.js";
import { subjectNameDer } from "../x509/cert-fields.js";
import { subjectPublicKeyBits } from "../x509/keys.js";
import { type CrlEntryInput, encodeTbsCertList } from "./crl-codec.js";

/** A CRL as issued: what the store keeps, without the log position it covers. */
export type IssuedCrl = Omit<StoredCrl, "coversRevocations">;

const DAY = 86_400_000;

/** What issuing needs that may prompt or open a key: got before the lock is taken, never while holding it. */
interface CrlIssuer {
  readonly ca: CaRecord;
  readonly profile: CrlProfile;
  readonly signer: Signer;
}

async function prepare(home: Home, caName: string): Promise<CrlIssuer> {
  await home.authorize("crl.issue");
  const ca = getCa(home, caName);
  const profile = CRL_PROFILES[ca.profile];
  if (!profile) throw new TrustlineError("POLICY_DENIED", `CA "${caName}" (${ca.profile}) does not issue CRLs`);
  return { ca, profile, signer: await caSigner(home, ca) };
}

/**
 * Sign a new CRL, number it, audit it and store it as the CA's latest. The caller holds the home's
 * write lock (home.transaction is not re-entrant: this takes none).
 */
async function issueLocked(home: Home, { ca, profile, signer }: CrlIssuer): Promise<StoredCrl> {
  // The position first: events recorded after it may or may not be listed, those before it are.
  const coversRevocations = await home.inventory.revocationPosition();
  const revoked = await home.inventory.revocations(ca.name);
  const now = home.clock();
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + profile.nextUpdateDays * DAY);
  const cutoff = thisUpdate.getTime() - profile.expiredRetentionDays * DAY;
  const entries: CrlEntryInput[] = [];
  let dropped = 0;
  for (const r of revoked.values()) {
    if (Date.parse(r.notAfter) < cutoff) {
      dropped++;
      continue;
    }
    entries.push({
      serial: r.serial,
      revokedAt: new Date(r.revokedAt),
      reasonCode: REVOCATION_REASONS[r.reason],
      ...(r.invalidityDate ? { invalidityDate: new Date(r.invalidityDate) } : {}),
    });
  }
  let crlNumber = 0;
  await home.updateState((s) => {
    crlNumber = (s.crlNumbers?.[ca.name] ?? 0) + 1;
    return { ...s, crlNumbers: { ...s.crlNumbers, [ca.name]: crlNumber } };
  });
  await home.record([{ action: "crl.issue", outcome: "ok", ...home.who, ca: ca.name, details: { crlNumber, entries: entries.length, dropped } }]);
  const caDer = caCertificateDer(ca);
  const tbs = encodeTbsCertList({
    algorithmIdentifier: SIGNATURE_ALGORITHMS[signer.algorithm].algorithmIdentifier,
    issuerName: subjectNameDer(caDer),
    thisUpdate,
    nextUpdate,
    crlNumber: BigInt(crlNumber),
    authorityKeyId: keyIdentifier(subjectPublicKeyBits(spkiOfCa(ca))),
    entries,
  });
  const crl: StoredCrl = {
    ca: ca.name,
    der: await signStructure(tbs, signer),
    crlNumber,
    thisUpdate: thisUpdate.toISOString(),
    nextUpdate: nextUpdate.toISOString(),
    entries: entries.length,
    dropped,
    coversRevocations,
  };
  await home.storage.crls.put(crl);
  return crl;
}

/** Whether `crl` is past half its life, when a new one is issued (its relying parties fetch before nextUpdate). */
export function crlPastHalfLife(crl: StoredCrl, now: Date): boolean {
  return now.getTime() >= (Date.parse(crl.thisUpdate) + Date.parse(crl.nextUpdate)) / 2;
}

/**
 * The stored CRL when it still lists every revocation of its CA up to `position` (caller holds the
 * lock): as stored, or with its coverage moved on past events that concern other CAs (so a
 * revocation costs a new number of its own CA's CRL only). Undefined when a new one is needed.
 */
async function stillCovering(home: Home, crl: StoredCrl, position: number): Promise<StoredCrl | undefined> {
  if (crl.coversRevocations === position) return crl;
  // Past the log's end: the log was replaced (restored), so the CRL's coverage means nothing.
  if (crl.coversRevocations < 0 || crl.coversRevocations > position) return undefined;
  const since = await home.inventory.revocationEventsSince(crl.coversRevocations);
  if (since.entries.some((e) => e.ca === crl.ca)) return undefined;
  const moved = { ...crl, coversRevocations: since.next };
  await home.storage.crls.put(moved);
  return moved;
}

/** Sign a new CRL for `caName` and store it as the CA's latest (an explicit request: always a new one). */
export async function issueCrl(home: Home, caName: string): Promise<IssuedCrl> {
  const issuer = await prepare(home, caName);
  const { coversRevocations: _, ...crl } = await home.transaction(() => issueLocked(home, issuer));
  return crl;
}

/**
 * The CA's CRL as it should be served now: the stored one while it lists every revocation of the
 * CA and has not reached half its life, else a new one, issued and stored. Decided under the home's write lock, so of several processes
 * that ask at once after a revocation, one issues and the others get its CRL. `issued` says which.
 */
export async function currentCrl(home: Home, caName: string): Promise<{ crl: StoredCrl; issued: boolean }> {
  const issuer = await prepare(home, caName);
  return home.transaction(async () => {
    const stored = await home.storage.crls.latest(caName);
    const current = stored && !crlPastHalfLife(stored, home.clock()) ? await stillCovering(home, stored, await home.inventory.revocationPosition()) : undefined;
    return current ? { crl: current, issued: false } : { crl: await issueLocked(home, issuer), issued: true };
  });
}
