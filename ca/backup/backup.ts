/**
 * `backupHome`: an admin's write (`store.backup`: the archive holds the encrypted keys and the
 * whole trail), a snapshot of the home (its files, or one snapshot of its database), one encrypted
 * archive, and an audit entry in the home with the archive's SHA-256 and counts, so the trail says
 * which archives exist and what they held.
 */
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { isPostgresStorage } from "../store/postgres/storage.js";
import { type ArchiveWriteOptions, writeBackupArchive, type WrittenArchive } from "./archive-writer.js";
import { snapshotFileHome } from "./file-home-source.js";
import type { BackupSecret, ScryptParams } from "./header.js";
import type { BackupAuditHead, BackupCounts, BackupManifest, BackupSourceKind } from "./manifest.js";

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
  /** The kind of home it was taken from ("file-home", "postgres"); either restores to a folder or a database. */
  readonly source: BackupSourceKind;
  readonly counts: BackupCounts;
  readonly auditHead: BackupAuditHead | null;
}

export function checkBackupSecret(secret: BackupSecret): void {
  if ("passphrase" in secret && [...secret.passphrase].length < MIN_BACKUP_PASSPHRASE) {
    throw new TrustlineError("INPUT_INVALID", `the backup passphrase is shorter than ${MIN_BACKUP_PASSPHRASE} characters; the archive leaves the CA station, so choose a long one (and keep it apart from the archive)`);
  }
}

const writeOptions = (home: Home, options: BackupOptions): ArchiveWriteOptions => ({ createdAt: home.clock(), ...(options.scrypt ? { scrypt: options.scrypt } : {}) });

export async function backupHome(home: Home, options: BackupOptions): Promise<BackupSummary> {
  checkBackupSecret(options.secret);
  await home.authorize("store.backup");
  const storage = home.storage;
  let written: WrittenArchive;
  if (isPostgresStorage(storage)) {
    const { snapshotPostgresHome } = await import("./postgres-source.js");
    const snapshot = await snapshotPostgresHome(home, storage);
    try {
      written = await writeBackupArchive(options.out, options.secret, snapshot.source, writeOptions(home, options));
    } finally {
      await snapshot.close();
    }
  } else {
    written = await writeBackupArchive(options.out, options.secret, await snapshotFileHome(home), writeOptions(home, options));
  }
  const summary = summarizeManifest(written.path, written.sha256, written.size, written.manifest);
  await home.transaction(() =>
    home.record([{ action: "store.backup", outcome: "ok", ...home.who, details: { sha256: summary.sha256, size: summary.size, createdAt: summary.createdAt, source: summary.source, counts: summary.counts, auditHead: summary.auditHead } }]),
  );
  return summary;
}

/** What an archive (its path, SHA-256 and size) holds, from its manifest: backup, verify and restore report it alike. */
export function summarizeManifest(archive: string, sha256: string, size: number, m: BackupManifest): BackupSummary {
  return {
    archive,
    sha256,
    size,
    createdAt: m.createdAt,
    organization: m.organization,
    files: m.files.length,
    contentBytes: m.files.reduce((n, f) => n + f.size, 0),
    source: m.source,
    counts: m.counts,
    auditHead: m.auditHead,
  };
}
