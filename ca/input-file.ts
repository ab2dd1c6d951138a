/**
 * Reading a file handed in from outside (a CSR, a certificate, a CRL, a signature): regular files
 * only, and never more than a limit. A FIFO or a device such as /dev/zero would otherwise hang the
 * read or fill memory, and one huge file in a batch folder would abort every re-run of the batch.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { TrustlineError } from "./errors.js";

/** The default limit for a CSR (configurable: `--max-input-size`, TRUSTLINE_MAX_INPUT_SIZE). */
export const DEFAULT_CSR_LIMIT = 64 * 1024;
/** The limit for other inputs: certificate bundles, checkpoints, signatures (a CRL of a million entries is ~40 MB). */
export const DEFAULT_INPUT_LIMIT = 256 * 1024 * 1024;

/** A limit in bytes from text ("65536", "64k", "2m"); USAGE when it is not one. */
export function parseSizeLimit(text: string, source: string): number {
  const m = /^\s*(\d+)\s*([kKmM]?)(?:i?[bB])?\s*$/.exec(text);
  const value = m ? Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]!) ? 1024 : 1024 * 1024) : NaN;
  if (!Number.isSafeInteger(value) || value < 1) throw new TrustlineError("USAGE", `${source} "${text}" is not a size in bytes (e.g. 65536, 64k, 2m)`);
  return value;
}

/**
 * The bytes of the regular file at `path`, at most `limit` of them. The open does not block on a
 * FIFO (O_NONBLOCK), and the read stops one byte past the limit whatever the file claims.
 * NOT_FOUND when missing; INPUT_INVALID when not a regular file, unreadable or too large.
 */
export function readInputFile(path: string, what: string, limit: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID", `cannot read the ${what} ${path}: ${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}`, { details: { path } });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new TrustlineError("INPUT_INVALID", `the ${what} ${path} is not a regular file (a ${kindOf(stat)}); refusing to read it`, { details: { path } });
    if (stat.size > limit) throw tooLarge(what, path, limit);
    // The size is a hint (it may change, or be 0 for /proc files): read to the end, never past limit + 1.
    let buffer = Buffer.allocUnsafe(Math.min(stat.size, limit) + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) throw tooLarge(what, path, limit); // grew while being read
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit + 1));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === stat.size && stat.size > 0 && stat.size < buffer.length) {
        // The size the file claimed: one more read only to learn it did not grow (the common case
        // skips it, as readFileSync does; a file growing under us is still caught next call).
        break;
      }
    }
    if (length > limit) throw tooLarge(what, path, limit);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    throw new TrustlineError("INPUT_INVALID", `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { details: { path } });
  } finally {
    closeSync(fd);
  }
}

function tooLarge(what: string, path: string, limit: number): TrustlineError {
  return new TrustlineError("INPUT_INVALID", `the ${what} ${path} is larger than the limit of ${limit} bytes; refusing it (raise the limit with --max-input-size if it is genuine)`, { details: { path, limit } });
}

function kindOf(stat: import("node:fs").Stats): string {
  if (stat.isDirectory()) return "directory";
  if (stat.isFIFO()) return "FIFO";
  if (stat.isCharacterDevice()) return "character device";
  if (stat.isBlockDevice()) return "block device";
  if (stat.isSocket()) return "socket";
  return "special file";
}
