/**
 * `backupHome`: an admin's write (`store.backup`: the archive holds the encrypted keys and the
 * whole trail), a snapshot of the home, one encrypted archive, and an audit entry in the home with
 * the archive's SHA-256 and counts, so the trail says which archives exist and what they held.
 */
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { writeBackupArchive } from "./archive-writer.js";
import { snapshotFileHome } from "./file-home-source.js";
import type { BackupSecret, ScryptParams } from "./header.js";
import type { BackupAuditHead, BackupCounts } from "./manifest.js";

/** The shortest backup passphrase accepted: an archive travels to places the home never goes. */
export const MIN_BACKUP_PASSPHRASE = 12;

export interface BackupOptions {
  /** The archive to write; refused if it exists. */
  readonly out: string;
  readonly secret: BackupSecret;
  /** scrypt cost (default N = 2^17, r = 8, p = 1); a reader accepts N from 2^14 to 2^20. */
  readonly scrypt?: ScryptParams;
}

/** What `backup`, `backup verify` and `restore` report about an archive. */
export interface BackupSummary {
  readonly archive: string;
  readonly sha256: string;
  /** Bytes of the archive file. */
  readonly size: number;
  readonly createdAt: string;
  readonly organization: string;
  readonly files: number;
  /** Bytes of the home's files it holds. */
  readonly contentBytes: number;
  readonly counts: BackupCounts;
  readonly auditHead: BackupAuditHead | null;
}

export function checkBackupSecret(secret: BackupSecret): void {
  if ("passphrase" in secret && [...secret.passphrase].length < MIN_BACKUP_PASSPHRASE) {
    throw new TrustlineError("INPUT_INVALID", `the backup passphrase is shorter than ${MIN_BACKUP_PASSPHRASE} characters; the archive leaves the CA station, so choose a long one (and keep it apart from the archive)`);
  }
}

export async function backupHome(home: Home, options: BackupOptions): Promise<BackupSummary> {
  checkBackupSecret(options.secret);
  if (home.storage.kind !== "embedded") {
    throw new TrustlineError("USAGE", `this home keeps its data in PostgreSQL (${home.storage.where}): trustline backup archives embedded homes only so far; back the database up with pg_dump (one consistent snapshot) and keep the home folder's store.json and keys with it`);
  }
  await home.authorize("store.backup");
  const source = await snapshotFileHome(home);
  const written = await writeBackupArchive(options.out, options.secret, source, { createdAt: home.clock(), ...(options.scrypt ? { scrypt: options.scrypt } : {}) });
  const m = written.manifest;
  const summary: BackupSummary = {
    archive: written.path,
    sha256: written.sha256,
    size: written.size,
    createdAt: m.createdAt,
    organization: m.organization,
    files: m.files.length,
    contentBytes: m.files.reduce((n, f) => n + f.size, 0),
    counts: m.counts,
    auditHead: m.auditHead,
  };
  await home.transaction(() =>
    home.record([{ action: "store.backup", outcome: "ok", ...home.who, details: { sha256: summary.sha256, size: summary.size, createdAt: summary.createdAt, counts: summary.counts, auditHead: summary.auditHead } }]),
  );
  return summary;
}
