/** Issuing CRLs: one per CA, numbered monotonically, from the inventory's revocations. */
import { CRL_PROFILES, REVOCATION_REASONS } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { caCertificateDer, caSigner, getCa, spkiOfCa } from "../issue.js";
import { keyIdentifier, SIGNATURE_ALGORITHMS, signStructure } from "../keys/signer.js";
import { subjectNameDer } from "../x509/cert-fields.js";
import { subjectPublicKeyBits } from "../x509/keys.js";
import { type CrlEntryInput, encodeTbsCertList } from "./crl-codec.js";

export interface IssuedCrl {
  readonly ca: string;
  readonly der: Uint8Array;
  readonly crlNumber: number;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  readonly entries: number;
  /** Revoked certificates left off because they expired before the retention window. */
  readonly dropped: number;
}

const DAY = 86_400_000;

/** Sign a new CRL for `caName` (caller does not hold the lock). */
export async function issueCrl(home: Home, caName: string): Promise<IssuedCrl> {
  await home.authorize("crl.issue");
  const ca = getCa(home, caName);
  const profile = CRL_PROFILES[ca.profile];
  if (!profile) throw new TrustlineError("POLICY_DENIED", `CA "${caName}" (${ca.profile}) does not issue CRLs`);
  const signer = await caSigner(home, ca);
  const now = home.clock();
  const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const nextUpdate = new Date(thisUpdate.getTime() + profile.nextUpdateDays * DAY);
  const cutoff = thisUpdate.getTime() - profile.expiredRetentionDays * DAY;
  const revoked = await home.inventory.revocations(caName);
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
  const caDer = caCertificateDer(ca);
  const crlNumber = await home.transaction(async () => {
    let n = 0;
    await home.updateState((s) => {
      n = (s.crlNumbers?.[caName] ?? 0) + 1;
      return { ...s, crlNumbers: { ...s.crlNumbers, [caName]: n } };
    });
    await home.record([{ action: "crl.issue", outcome: "ok", ...home.who, ca: caName, details: { crlNumber: n, entries: entries.length, dropped } }]);
    return n;
  });
  const tbs = encodeTbsCertList({
    algorithmIdentifier: SIGNATURE_ALGORITHMS[signer.algorithm].algorithmIdentifier,
    issuerName: subjectNameDer(caDer),
    thisUpdate,
    nextUpdate,
    crlNumber: BigInt(crlNumber),
    authorityKeyId: keyIdentifier(subjectPublicKeyBits(spkiOfCa(ca))),
    entries,
  });
  return {
    ca: caName,
    der: await signStructure(tbs, signer),
    crlNumber,
    thisUpdate: thisUpdate.toISOString(),
    nextUpdate: nextUpdate.toISOString(),
    entries: entries.length,
    dropped,
  };
}
