/**
 * Batch issuance from a folder of CSR files (a contract manufacturer's delivery) into a folder of
 * certificates: `<out-dir>/<csr name without extension>.pem`. Worker threads read the requests; an
 * output thread writes the certificates, plainly, not fsync'd one by one: the inventory record is
 * the durable truth, and a re-run compares every output of the batch with its record and writes
 * again any that a crash lost or cut short.
 */
import { type Dir, type Dirent, existsSync, mkdirSync, opendirSync, readFileSync, statSync } from "node:fs";
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

function openCsrFolder(dir: string): Dir {
  try {
    return opendirSync(dir);
  } catch (e) {
    throw new TrustlineError("NOT_FOUND", `cannot read the CSR folder ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * The request files of a folder, one at a time in directory order: a delivery of a million CSRs is
 * never held as a list. Hidden files and sub-folders are ignored; FIFOs, devices and sockets are
 * listed, so that the worker refuses each with its reason instead of the file going unmentioned.
 */
function* csrFilesIn(dir: string): Generator<string> {
  const folder = openCsrFolder(dir);
  // The listing tells each entry's type (node stats only where the file system does not say): a stat only for links.
  const isFile = (e: Dirent) =>
    e.isFile() || e.isFIFO() || e.isCharacterDevice() || e.isBlockDevice() || e.isSocket() || (e.isSymbolicLink() && statSync(join(dir, e.name), { throwIfNoEntry: false })?.isFile() === true);
  try {
    for (let e = folder.readSync(); e !== null; e = folder.readSync()) if (!e.name.startsWith(".") && isFile(e)) yield e.name;
  } finally {
    folder.closeSync();
  }
}

/** The request files of a folder, sorted by name. */
export function listCsrFiles(dir: string): string[] {
  return [...csrFilesIn(dir)].sort();
}

/** How many request files a folder holds (for progress), without keeping their names. */
export function countCsrFiles(dir: string): number {
  let n = 0;
  for (const _ of csrFilesIn(dir)) n++;
  return n;
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
  openCsrFolder(options.csrDir).closeSync(); // a missing folder is refused before anything is created
  let total = 0;
  const requests = (function* (): Iterable<BatchItem> {
    for (const name of csrFilesIn(options.csrDir)) {
      total++;
      yield { id: name, path: join(options.csrDir, name) };
    }
  })();
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
    summary = await issueBatch(home, requests, {
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
  return { ...summary, total, outDir: options.outDir, restoredOutputs };
}
