/**
 * Crash-safe file writes: a reader sees the old file or the new one, never half of either.
 * Write a temporary file in the same directory, fsync it, rename (or link, when the target must not
 * exist yet) over the target, then fsync the directory so the rename itself survives a power cut.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `data` to `path` atomically and durably. With `exclusive`, fail with EEXIST when `path`
 * already exists (the link(2) that publishes the file is atomic: two writers cannot both win).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { exclusive?: boolean; mode?: number; syncDirectory?: boolean } = {}): void {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fd = openSync(temp, "wx", options.mode ?? 0o644);
  try {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (e) {
    // A full disk or an I/O error: no temporary file is left behind.
    closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  try {
    if (options.exclusive) {
      linkSync(temp, path);
      unlinkSync(temp);
    } else {
      renameSync(temp, path);
    }
  } catch (e) {
    try {
      unlinkSync(temp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (options.syncDirectory !== false) fsyncDirectory(dir);
}
