/**
 * `verifyBackup`: read a whole archive without writing anything: every chunk authenticated, every
 * file's SHA-256, the counts and the audit chain head against the manifest.
 */
import { resolve } from "node:path";
import { type BackupSummary, summarizeManifest } from "./backup.js";
import { readBackupArchive, type ReadArchive } from "./archive-reader.js";
import { checkFileHomeArchive } from "./file-home-layout.js";
import type { BackupSecret } from "./header.js";

export function summarizeArchive(path: string, read: ReadArchive): BackupSummary {
  return summarizeManifest(resolve(path), read.sha256, read.size, read.manifest);
}

/**
 * Check the archive at `path`. INPUT_INVALID (details.reason) when it is damaged or was altered,
 * KEY_UNAVAILABLE (reason wrong-passphrase) when the secret does not open it.
 */
export async function verifyBackup(path: string, secret: BackupSecret): Promise<BackupSummary> {
  const read = await readBackupArchive(path, secret);
  checkFileHomeArchive(read.manifest, read.files, path);
  return summarizeArchive(path, read);
}
