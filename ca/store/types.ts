/** What the CA keeps about every certificate it issued: the traceability record. */
import type { ProfileName, RevocationReason } from "../../policy/index.js";

export interface CertificateRecord {
  /** Lowercase hex, no colons, no leading 00 (the positive INTEGER's magnitude). */
  readonly serial: string;
  /** The issuing CA's name in this home. */
  readonly ca: string;
  readonly profile: ProfileName;
  readonly policyOids: readonly string[];
  /** RFC 4514 subject, e.g. "CN=dev-0001". */
  readonly subject: string;
  readonly commonName: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** The certificate, base64 DER. */
  readonly der: string;
  /** SHA-256 (hex) of the request: the CSR's DER, or the SPKI when the CA generated the key. */
  readonly requestSha256: string;
  readonly keySource: "csr" | "generated";
  readonly operator: string;
  readonly station: string;
  /** The shift session it was issued under (null: signed in for that command); absent in records made before sign-in. */
  readonly session?: string | null;
  /** How the operator proved who they are (`totp`, `oidc:<issuer>#<subject> amr=…`, `service-token`, `init`, `unauthenticated`). */
  readonly origin?: string;
  readonly batch: string | null;
  readonly issuedAt: string;
  /** How the request arrived, when not through this home's CLI or library: "est" (the EST service). */
  readonly via?: "est";
  /** The serial of the certificate this one renews (EST simplereenroll). */
  readonly renews?: string;
}

/** One revocation event. The current status of a serial is its last event (removeFromCRL releases a hold). */
export interface RevocationEntry {
  readonly serial: string;
  readonly ca: string;
  readonly reason: RevocationReason;
  readonly revokedAt: string;
  readonly invalidityDate?: string;
  /** The certificate's notAfter: how long the entry must stay on CRLs. */
  readonly notAfter: string;
  readonly operator: string;
  readonly station: string;
  readonly session?: string | null;
  readonly origin?: string;
}

export type CertificateStatus = "valid" | "expired" | "not-yet-valid" | "revoked" | "on-hold";

export interface CertificateFilter {
  readonly ca?: string;
  readonly profile?: ProfileName;
  readonly status?: CertificateStatus;
  readonly operator?: string;
  readonly station?: string;
  readonly batch?: string;
  /** Valid now and expiring within this many days. */
  readonly expiringWithinDays?: number;
  /** Issued at or after / before (ISO times): mass revocation by time window. */
  readonly issuedFrom?: string;
  readonly issuedTo?: string;
}

/** Durable certificate inventory. A record is on disk before the certificate is handed out. */
export interface Store {
  /** Rejects a duplicate serial with STORE_CONFLICT. */
  putCertificate(record: CertificateRecord): Promise<void>;
  /** A group of records, all durable or none; a duplicate serial (in the group or stored) is STORE_CONFLICT. */
  putCertificates(records: readonly CertificateRecord[]): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  query(filter: CertificateFilter, now: Date): AsyncIterable<CertificateRecord>;
  /** Append revocation events durably (idempotence is the caller's: it checks the current state first). */
  revoke(entries: readonly RevocationEntry[]): Promise<void>;
  /** The current revocations (holds included, released holds not), optionally of one issuing CA. */
  revocations(ca?: string): Promise<Map<string, RevocationEntry>>;
  /** Requests already issued in a batch: request SHA-256 -> serial (what makes a batch resumable). */
  batchRequests(batch: string): Promise<Map<string, string>>;
}

export function statusAt(record: Pick<CertificateRecord, "notBefore" | "notAfter">, now: Date, revocation?: RevocationEntry): CertificateStatus {
  if (revocation) return revocation.reason === "certificateHold" ? "on-hold" : "revoked";
  if (now < new Date(record.notBefore)) return "not-yet-valid";
  if (now >= new Date(record.notAfter)) return "expired";
  return "valid";
}

export function matches(record: CertificateRecord, filter: CertificateFilter, now: Date, revocation?: RevocationEntry): boolean {
  if (filter.ca !== undefined && record.ca !== filter.ca) return false;
  if (filter.profile !== undefined && record.profile !== filter.profile) return false;
  if (filter.operator !== undefined && record.operator !== filter.operator) return false;
  if (filter.station !== undefined && record.station !== filter.station) return false;
  if (filter.batch !== undefined && record.batch !== filter.batch) return false;
  if (filter.issuedFrom !== undefined && record.issuedAt < filter.issuedFrom) return false;
  if (filter.issuedTo !== undefined && record.issuedAt >= filter.issuedTo) return false;
  const status = statusAt(record, now, revocation);
  if (filter.status !== undefined && status !== filter.status) return false;
  if (filter.expiringWithinDays !== undefined) {
    if (status !== "valid") return false;
    if (new Date(record.notAfter).getTime() - now.getTime() > filter.expiringWithinDays * 86_400_000) return false;
  }
  return true;
}
