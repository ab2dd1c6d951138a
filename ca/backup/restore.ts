/**
 * `restoreHome`: an archive back into a working home, all or nothing. The files are decrypted into
 * a temporary sibling of the destination; only when every chunk, every file's SHA-256, the counts,
 * the chain head and `audit verify` hold, and an admin of the restored home has signed in
 * (`store.restore`) with the CA passphrase opening its audit key, is the folder renamed into place.
 * Any failure removes the temporary folder: a damaged archive never leaves a destination behind.
 *
 * Who may restore is asked of the restored home itself: there is no home to ask before it exists,
 * and the backup passphrase alone must not make anyone an admin. The archive's operators, sealed
 * TOTP seeds and service tokens come back with it, so the admin signs in as usual.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { verifyAuditLog } from "../audit/operations.js";
import { TrustlineError } from "../errors.js";
import { Home, type HomeOptions } from "../home.js";
import { fsyncDirectory } from "../store/atomic.js";
import type { FileInventory } from "../store/file-inventory.js";
import { type ArchiveSink, readBackupArchive } from "./archive-reader.js";
import type { BackupSummary } from "./backup.js";
import { checkFileHomeArchive, isFileHomePath } from "./file-home-layout.js";
import { damaged, type BackupSecret } from "./header.js";
import type { ArchivedFile, BackupManifest } from "./manifest.js";
import { summarizeArchive } from "./verify.js";

export interface RestoreOptions extends Omit<HomeOptions, "home"> {
  /** The home to create: absent or an empty folder (else ALREADY_EXISTS). */
  readonly to: string;
  /** Opens the archive. `passphrase` (HomeOptions) is the CA passphrase of the restored home. */
  readonly secret: BackupSecret;
}

export interface RestoreResult extends BackupSummary {
  readonly home: string;
  /** The restored trail after the restore entry: entries and how far the head is signed. */
  readonly audit: { readonly entries: number; readonly signedThrough: number };
  readonly restoredBy: string;
}

/** Writes an archive's files under a folder, each fsync'd, folders 0700 and files 0600. */
class FolderSink implements ArchiveSink {
  readonly #root: string;
  readonly #folders = new Set<string>();
  #handle: FileHandle | undefined;

  constructor(root: string) {
    this.#root = root;
    this.#folders.add(root);
  }

  manifest(manifest: BackupManifest): void {
    const stray = manifest.files.find((f) => !isFileHomePath(f.path));
    if (stray) throw damaged("damaged-manifest", `the archive names ${JSON.stringify(stray.path)}, which is not a file of a CA home`);
  }

  async begin(file: ArchivedFile): Promise<void> {
    const path = join(this.#root, ...file.path.split("/"));
    for (let dir = dirname(path); !this.#folders.has(dir); dir = dirname(dir)) this.#folders.add(dir);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.#handle = await open(path, "wx", 0o600);
  }

  async write(bytes: Buffer): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += (await this.#handle!.write(bytes, at, bytes.length - at)).bytesWritten;
  }

  async end(): Promise<void> {
    await this.#handle!.sync();
    await this.#handle!.close();
    this.#handle = undefined;
  }

  async close(): Promise<void> {
    await this.#handle?.close().catch(() => undefined);
    this.#handle = undefined;
  }

  syncFolders(): void {
    for (const dir of [...this.#folders].sort((a, b) => b.length - a.length)) fsyncDirectory(dir);
  }
}

function assertFreeDestination(target: string): void {
  if (!existsSync(target)) return;
  if (!statSync(target).isDirectory() || readdirSync(target).length > 0) {
    throw new TrustlineError("ALREADY_EXISTS", `${target} already exists and is not empty; refusing to restore over it (restore into a new folder)`, { details: { path: target } });
  }
}

export async function restoreHome(path: string, options: RestoreOptions): Promise<RestoreResult> {
  const target = resolve(options.to);
  assertFreeDestination(target);
  mkdirSync(dirname(target), { recursive: true });
  const staging = join(dirname(target), `.${basename(target)}.restore-${randomBytes(6).toString("hex")}`);
  mkdirSync(staging, { mode: 0o700 });
  const sink = new FolderSink(staging);
  let home: Home | undefined;
  try {
    const read = await readBackupArchive(path, options.secret, sink);
    checkFileHomeArchive(read.manifest, read.files, path);
    sink.syncFolders();

    const { to: _to, secret: _secret, ...homeOptions } = options;
    home = await Home.open({ ...homeOptions, home: staging });
    const principal = await home.authorize("store.restore");
    await home.auditSigner(); // the CA passphrase must open the restored home's keys
    const report = await verifyAuditLog(home);
    if (!report.intact) {
      throw new TrustlineError("AUDIT_TAMPERED", `the audit log in ${path} does NOT verify (first bad entry ${report.firstBad}: ${report.problem}); nothing was restored`, { details: { ...report } });
    }
    const summary = summarizeArchive(path, read);
    await home.transaction(async () => {
      // Restored as an embedded home, whichever kind it was taken from (same layout); a database
      // destination is filled from this folder (restore-database.ts).
      await (home!.inventory as FileInventory).rebuildIndex();
      await home!.record([
        {
          action: "store.restore",
          outcome: "ok",
          ...home!.who,
          details: { sha256: summary.sha256, createdAt: summary.createdAt, organization: summary.organization, counts: summary.counts, auditHead: summary.auditHead },
        },
      ]);
    });
    const after = await home.audit.readHead();
    await home.close();
    home = undefined;
    assertFreeDestination(target); // the same check, right before the rename
    if (existsSync(target)) rmdirSync(target);
    renameSync(staging, target);
    fsyncDirectory(dirname(target));
    return { ...summary, home: target, audit: { entries: report.entries + 1, signedThrough: after?.seq ?? 0 }, restoredBy: principal.operator };
  } catch (e) {
    await sink.close();
    await home?.close().catch(() => undefined);
    rmSync(staging, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TrustlineError || code === undefined) throw e;
    throw new TrustlineError("STORE_UNAVAILABLE", `the disk refused a write while restoring into ${dirname(target)} (${code}${code === "ENOSPC" ? ", no space left" : ""}); nothing was restored`, {
      cause: e,
      details: { path: (e as NodeJS.ErrnoException).path ?? staging, errno: code },
    });
  }
}
