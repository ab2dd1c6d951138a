/**
 * Writes one archive from any source of files: the clear header, then, encrypted in chunks, the
 * manifest and every file's bytes. The writer knows nothing of homes: a source hands it entries
 * (`{ path, size, stream }`) and says what they add up to (counts, audit chain head). The file
 * home is one source (file-home-source.ts); a PostgreSQL store can be another.
 *
 * The manifest comes first and lists every file's SHA-256, so the writer reads the source twice:
 * once to digest, once to encrypt, checking that the second read gives the same bytes. A source
 * must therefore yield the same snapshot each time `entries()` is called (append-only files read to
 * a fixed length, a database read in one REPEATABLE READ transaction, or a spool). The archive is
 * written to a temporary sibling, fsync'd, and linked into place: a crash leaves no half archive.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, linkSync, unlinkSync } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { TrustlineError } from "../errors.js";
import { fsyncDirectory } from "../store/atomic.js";
import { ChunkSealer } from "./chunked-aead.js";
import { type FileTally, TallyingFile } from "./file-tally.js";
import { type BackupSecret, newHeader, type ScryptParams } from "./header.js";
import { type ArchivedFile, archivePathProblem, type BackupAuditHead, type BackupCounts, type BackupManifest, type BackupSourceKind } from "./manifest.js";

/** One file of a snapshot. `stream` must yield exactly `size` bytes. */
export interface BackupEntry {
  readonly path: string;
  readonly size: number;
  readonly stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export interface BackupSource {
  readonly kind: BackupSourceKind;
  readonly organization: string;
  /** The snapshot's files, in archive order; called twice, it must yield the same bytes. */
  entries(): AsyncIterable<BackupEntry>;
  /** The manifest's counts and chain head, from the files as read (a source may also know them itself). */
  summarize(files: readonly FileTally[]): { counts: BackupCounts; auditHead: BackupAuditHead | null };
}

export interface WrittenArchive {
  readonly path: string;
  readonly manifest: BackupManifest;
  /** SHA-256 of the archive file, hex. */
  readonly sha256: string;
  /** Bytes of the archive file. */
  readonly size: number;
  readonly chunks: number;
}

export interface ArchiveWriteOptions {
  readonly createdAt: Date;
  /** scrypt cost (default N = 2^17, r = 8, p = 1). */
  readonly scrypt?: ScryptParams;
}

async function digestEntries(source: BackupSource): Promise<FileTally[]> {
  const files: FileTally[] = [];
  for await (const entry of source.entries()) {
    const problem = archivePathProblem(entry.path);
    if (problem) throw new TrustlineError("INPUT_INVALID", `the backup source named ${problem}`);
    const tally = new TallyingFile(entry.path);
    for await (const chunk of entry.stream) tally.update(chunk);
    if (tally.size !== entry.size) throw changed(entry.path, `it gave ${tally.size} bytes instead of ${entry.size}`);
    files.push(tally.result());
  }
  return files;
}

const changed = (path: string, how: string) =>
  new TrustlineError("STORE_CONFLICT", `${path} changed while it was being backed up (${how}); nothing was written: run the backup again`, { details: { path } });

/** Write the archive at `out` (refused if it exists: ALREADY_EXISTS). */
export async function writeBackupArchive(out: string, secret: BackupSecret, source: BackupSource, options: ArchiveWriteOptions): Promise<WrittenArchive> {
  const target = resolve(out);
  if (existsSync(target)) throw new TrustlineError("ALREADY_EXISTS", `${out} already exists; refusing to overwrite it (name each backup, e.g. by date)`);
  const tallies = await digestEntries(source);
  const { counts, auditHead } = source.summarize(tallies);
  const files: ArchivedFile[] = tallies.map((t) => ({ path: t.path, size: t.size, sha256: t.sha256 }));
  const manifest: BackupManifest = { format: "trustline-backup/1", source: source.kind, createdAt: options.createdAt.toISOString(), organization: source.organization, files, counts, auditHead };
  const sealed = await newHeader(secret, options.scrypt ? { scrypt: options.scrypt } : {});

  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, "wx", 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError("INPUT_INVALID", `cannot write ${out}: ${code === "ENOENT" ? `the folder ${dirname(target)} does not exist` : (code ?? (e as Error).message)}`);
  }
  const archiveHash = createHash("sha256");
  let size = 0;
  const write = async (bytes: Buffer) => {
    archiveHash.update(bytes);
    size += bytes.length;
    let at = 0;
    while (at < bytes.length) at += (await handle!.write(bytes, at, bytes.length - at)).bytesWritten;
  };
  try {
    await write(sealed.bytes);
    const sealer = new ChunkSealer(sealed.contentKey, sealed.digest, sealed.header.chunkSize, write);
    const manifestJson = Buffer.from(JSON.stringify(manifest), "utf8");
    const length = Buffer.alloc(4);
    length.writeUInt32BE(manifestJson.length);
    await sealer.push(length);
    await sealer.push(manifestJson);
    let i = 0;
    for await (const entry of source.entries()) {
      const expected = tallies[i++];
      if (!expected || expected.path !== entry.path) throw changed(entry.path, "the list of files changed");
      const again = new TallyingFile(entry.path);
      for await (const chunk of entry.stream) {
        again.update(chunk);
        if (again.size > expected.size) throw changed(entry.path, "it grew");
        await sealer.push(chunk);
      }
      if (again.result().sha256 !== expected.sha256) throw changed(entry.path, "its content differs from the first read");
    }
    if (i !== tallies.length) throw changed("the home", "the list of files changed");
    await sealer.finish();
    await handle.sync();
    await handle.close();
    handle = undefined;
    try {
      linkSync(temp, target); // atomic, and never over a file that appeared meanwhile
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new TrustlineError("ALREADY_EXISTS", `${out} already exists; refusing to overwrite it`);
      throw e;
    }
    unlinkSync(temp);
    fsyncDirectory(dirname(target));
    return { path: target, manifest, sha256: archiveHash.digest("hex"), size, chunks: sealer.chunks };
  } catch (e) {
    await handle?.close().catch(() => undefined);
    try {
      unlinkSync(temp);
    } catch {
      /* not created or already gone */
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof TrustlineError || code === undefined) throw e;
    throw new TrustlineError("STORE_UNAVAILABLE", `the disk refused the archive ${out} (${code}${code === "ENOSPC" ? ", no space left" : ""}); nothing was written`, { cause: e, details: { path: target, errno: code } });
  }
}
