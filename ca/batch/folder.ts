/**
 * Batch issuance from a folder of CSR files (a contract manufacturer's delivery) into a folder of
 * certificates: `<out-dir>/<csr name without extension>.pem`. Outputs are plain writes, not fsync'd
 * one by one: the inventory record is the durable truth, and a re-run compares every output of
 * the batch with its record and writes again any that a crash lost or cut short.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { chainOf } from "../issue.js";
import { toPem } from "../pem.js";
import { type BatchItem, type BatchOptions, type BatchSummary, issueBatch } from "./issue-batch.js";

export interface FolderBatchOptions extends Omit<BatchOptions, "onIssued" | "onSkipped"> {
  readonly csrDir: string;
  readonly outDir: string;
  /** Append the issuing CA chain (not the root) to each certificate file. */
  readonly chain?: boolean;
}

export interface FolderBatchSummary extends BatchSummary {
  readonly total: number;
  readonly outDir: string;
  /** Outputs of earlier runs that were missing and have been written again. */
  readonly restoredOutputs: number;
}

/** The request files of a folder, sorted by name; hidden files and sub-folders are ignored. */
export function listCsrFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw new TrustlineError("NOT_FOUND", `cannot read the CSR folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return names
    .filter((n) => !n.startsWith("."))
    .sort()
    .filter((n) => statSync(join(dir, n)).isFile());
}

async function* readCsrs(dir: string, files: readonly string[]): AsyncIterable<BatchItem> {
  // Read a few ahead: file reads overlap with the workers.
  const ahead = 16;
  const pending: Promise<BatchItem>[] = [];
  let next = 0;
  const fill = () => {
    while (pending.length < ahead && next < files.length) {
      const name = files[next++]!;
      pending.push(readFile(join(dir, name)).then((b) => ({ id: name, csr: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) })));
    }
  };
  fill();
  while (pending.length > 0) {
    const item = await pending.shift()!;
    fill();
    yield item;
  }
}

export function outputName(csrFile: string): string {
  const ext = extname(csrFile);
  return `${ext ? basename(csrFile, ext) : csrFile}.pem`;
}


/**
 * Writes outputs on the libuv thread pool, several at a time: creating a file costs far more in
 * the kernel than the certificate costs to make, and it overlaps with signing this way.
 */
class OutputWriter {
  readonly #pending = new Set<Promise<void>>();
  #failure: unknown;

  async write(path: string, text: string): Promise<void> {
    if (this.#failure) throw this.#failure;
    while (this.#pending.size >= 32) await Promise.race(this.#pending);
    const p: Promise<void> = writeFile(path, text)
      .catch((e: unknown) => {
        this.#failure ??= new TrustlineError("INPUT_INVALID", `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      })
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#pending);
    if (this.#failure) throw this.#failure;
  }
}

export async function issueBatchFromFolder(home: Home, options: FolderBatchOptions): Promise<FolderBatchSummary> {
  const files = listCsrFiles(options.csrDir);
  try {
    mkdirSync(options.outDir, { recursive: true });
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `cannot create the output folder ${options.outDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const caName = options.ca ?? "device";
  const chainText = options.chain ? chainOf(home, caName).join("") : "";
  let restoredOutputs = 0;
  const writer = new OutputWriter();
  const summary = await issueBatch(home, readCsrs(options.csrDir, files), {
    ...options,
    onIssued: async (issued) => {
      for (const c of issued) await writer.write(join(options.outDir, outputName(c.id)), c.pem + chainText);
    },
    onSkipped: async (id, serial) => {
      const path = join(options.outDir, outputName(id));
      const record = await home.inventory.getCertificate(serial);
      if (!record) return;
      const expected = toPem(Buffer.from(record.der, "base64"), "CERTIFICATE") + chainText;
      if (existsSync(path) && readFileSync(path, "latin1") === expected) return;
      await writer.write(path, expected);
      restoredOutputs++;
    },
  });
  await writer.drain();
  return { ...summary, total: files.length, outDir: options.outDir, restoredOutputs };
}
