/**
 * Crash-safe file writes: a reader sees the old file or the new one, never half of either.
 * Write a temporary file in the same directory, fsync it, rename (or link, when the target must not
 * exist yet) over the target, then fsync the directory so the rename itself survives a power cut.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * fsync on libuv's thread pool. A server's commits wait for the disk without stopping its event
 * loop: while one group of certificates is made durable, the next group's requests are read,
 * verified and encoded.
 */
export const fsyncInBackground: (fd: number) => Promise<void> = promisify(fsync);

/**
 * Write `data` to `path` atomically and durably. With `exclusive`, fail with EEXIST when `path`
 * already exists (the link(2) that publishes the file is atomic: two writers cannot both win).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  const { temp, fd } = writeTemporary(path, data, options);
  try {
    fsyncSync(fd);
  } catch (e) {
    discard(temp, fd);
    throw e;
  }
  closeSync(fd);
  publish(temp, path, options);
}

/**
 * writeFileAtomic with the file's fsync on the thread pool, so a server's event loop goes on while
 * the disk confirms. With `publishAfter`, the file replaces `path` only once that has settled
 * without error: a head written beside the lines it covers (the audit log's) never gets ahead of them.
 */
export async function writeFileAtomicInBackground(path: string, data: string | Uint8Array, options: AtomicWriteOptions & { readonly publishAfter?: Promise<unknown> } = {}): Promise<void> {
  // Awaited below, after this file's own sync: a rejection meanwhile is not an unhandled one.
  options.publishAfter?.catch(() => undefined);
  const { temp, fd } = writeTemporary(path, data, options);
  try {
    await fsyncInBackground(fd);
  } catch (e) {
    discard(temp, fd);
    throw e;
  }
  closeSync(fd);
  try {
    await options.publishAfter;
  } catch (e) {
    removeQuietly(temp);
    throw e;
  }
  publish(temp, path, options);
}

export interface AtomicWriteOptions {
  readonly exclusive?: boolean;
  readonly mode?: number;
  readonly syncDirectory?: boolean;
}

/** The data in a new temporary file beside `path`, not yet synced; still open. */
function writeTemporary(path: string, data: string | Uint8Array, options: AtomicWriteOptions): { temp: string; fd: number } {
  const temp = temporaryBeside(path);
  const fd = openSync(temp, "wx", options.mode ?? 0o644);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
  } catch (e) {
    discard(temp, fd);
    throw e;
  }
  return { temp, fd };
}

/** A new name in `path`'s directory (same file system: the rename is atomic). */
function temporaryBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

/** A full disk or an I/O error: no temporary file is left behind. */
function discard(temp: string, fd: number): void {
  closeSync(fd);
  removeQuietly(temp);
}

/** Rename (or link, with `exclusive`) the synced temporary file over `path`, then sync the directory. */
function publish(temp: string, path: string, options: AtomicWriteOptions): void {
  try {
    if (options.exclusive) {
      linkSync(temp, path);
      unlinkSync(temp);
    } else {
      renameSync(temp, path);
    }
  } catch (e) {
    removeQuietly(temp);
    throw e;
  }
  if (options.syncDirectory !== false) fsyncDirectory(dirname(path));
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}
