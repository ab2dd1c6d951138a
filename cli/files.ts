/** Reading inputs and writing outputs for the CLI, with errors a person can act on. */
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_INPUT_LIMIT, readInputFile, TrustlineError, writeFileAtomic } from "../ca/index.js";

/** An input file: regular files only, at most `limit` bytes (a CSR's limit is --max-input-size). */
export function readInput(path: string, what: string, limit = DEFAULT_INPUT_LIMIT): Uint8Array {
  return readInputFile(path, what, limit);
}

/** A PEM input (a certificate, a key, a chain) as text, read as any other input: a regular file of at most 1 MiB. */
export function readPemInput(path: string, what: string): string {
  return Buffer.from(readInputFile(path, what, 1024 * 1024)).toString("utf8");
}

/** Write an output file atomically; refuse to overwrite unless `force`. */
export function writeOutput(path: string, data: string | Uint8Array, options: { force?: boolean; mode?: number } = {}): void {
  if (!options.force && existsSync(path)) throw new TrustlineError("ALREADY_EXISTS", `${path} already exists; refusing to overwrite it (use --force)`);
  try {
    writeFileAtomic(path, data, { exclusive: !options.force, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new TrustlineError("ALREADY_EXISTS", `${path} already exists; refusing to overwrite it (use --force)`);
    throw new TrustlineError("INPUT_INVALID", `cannot write ${path}: ${code ?? (e as Error).message}`);
  }
}

export function ensureDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `cannot create the folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Refuse, before any work, an output that cannot be written (exists without `force`, missing or read-only folder). */
export function assertWritable(path: string, force: boolean): void {
  if (!force && existsSync(path)) throw new TrustlineError("ALREADY_EXISTS", `${path} already exists; refusing to overwrite it (use --force)`);
  const dir = dirname(resolve(path));
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError("INPUT_INVALID", `cannot write ${path}: ${code === "ENOENT" ? `the folder ${dir} does not exist` : `the folder ${dir} is not writable (${code})`}`);
  }
}
