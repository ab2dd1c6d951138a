/**
 * Batch issuance from a folder of CSR files (a contract manufacturer's delivery) into a folder of
 * certificates: `<out-dir>/<csr name without extension>.pem`. Worker threads read the requests; an
 * output thread writes the certificates, plainly, not fsync'd one by one: the inventory record is
 * the durable truth, and a re-run compares every output of the batch with its record and writes
 * again any that a crash lost or cut short.
 */
import { type Dirent, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { basename, extname, join } from "node:path";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { chainOf } from "../issue.js";
import { pemFromBase64 } from "../pem.js";
import { BATCH_THREAD_LIMITS, type BatchItem, type BatchOptions, type BatchSummary, issueBatch } from "./issue-batch.js";
import type { OutputJob, OutputReply } from "./output-thread.js";

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
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new TrustlineError("NOT_FOUND", `cannot read the CSR folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // The listing tells each entry's type (node stats only where the file system does not say): a stat only for links.
  const isFile = (e: Dirent) => e.isFile() || (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isFile() === true);
  return entries
    .filter((e) => !e.name.startsWith(".") && isFile(e))
    .map((e) => e.name)
    .sort();
}

function* requestFiles(dir: string, files: readonly string[]): Iterable<BatchItem> {
  for (const name of files) yield { id: name, path: join(dir, name) };
}

export function outputName(csrFile: string): string {
  const ext = extname(csrFile);
  return `${ext ? basename(csrFile, ext) : csrFile}.pem`;
}


/** Sends outputs to the output thread in groups; at most a few groups in flight. */
class OutputWriter {
  readonly #thread = new Worker(new URL("./output-thread.js", import.meta.url), { resourceLimits: BATCH_THREAD_LIMITS });
  /** The thread answers jobs in order: one reply settles the oldest job. */
  readonly #waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly #inflight: Promise<void>[] = [];

  constructor() {
    this.#thread.on("message", (reply: OutputReply) => {
      const job = this.#waiting.shift();
      if (reply.ok) job?.resolve();
      else job?.reject(new TrustlineError("INPUT_INVALID", `cannot write ${reply.path}: ${reply.message}`));
    });
    this.#thread.on("error", (e) => {
      for (const job of this.#waiting.splice(0)) job.reject(e);
    });
  }

  async write(files: readonly { path: string; text: string }[]): Promise<void> {
    while (this.#inflight.length >= 4) await this.#inflight.shift();
    const done = new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    done.catch(() => undefined); // observed in close()
    this.#inflight.push(done);
    this.#thread.postMessage({ files } satisfies OutputJob);
  }

  async close(): Promise<void> {
    try {
      for (const p of this.#inflight.splice(0)) await p;
    } finally {
      await this.#thread.terminate();
    }
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
  let summary: BatchSummary;
  try {
    summary = await issueBatch(home, requestFiles(options.csrDir, files), {
    ...options,
    onIssued: (issued) => writer.write(issued.map((c) => ({ path: join(options.outDir, outputName(c.id)), text: c.pem + chainText }))),
    onSkipped: async (id, serial) => {
      const path = join(options.outDir, outputName(id));
      const record = await home.inventory.getCertificate(serial);
      if (!record) return;
      const expected = pemFromBase64(record.der, "CERTIFICATE") + chainText;
      if (existsSync(path) && readFileSync(path, "latin1") === expected) return;
      await writer.write([{ path, text: expected }]);
      restoredOutputs++;
    },
  });
  } finally {
    await writer.close();
  }
  return { ...summary, total: files.length, outDir: options.outDir, restoredOutputs };
}
