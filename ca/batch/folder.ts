/**
 * Batch issuance from a folder of CSR files (a contract manufacturer's delivery) into a folder of
 * certificates: `<out-dir>/<csr name without extension>.pem`. Worker threads read the requests; an
 * output thread writes the certificates, plainly, not fsync'd one by one: the inventory record is
 * the durable truth, and a re-run compares every output of the batch with its record and writes
 * again any that a crash lost or cut short.
 */
import { type Dir, type Dirent, lstatSync, mkdirSync, opendirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { chainOf } from "../issue.js";
import { pemFromBase64 } from "../pem.js";
import { type BatchItem, type BatchOptions, type BatchSummary, issueBatch } from "./issue-batch.js";
import { OutputWriter } from "./output-writer.js";

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
  /** Certificates issued and recorded whose file could not be written (exit 4, DELIVERY_FAILED). */
  readonly notDelivered: readonly { readonly id: string; readonly serial: string; readonly reason: string }[];
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

/** The real path of a folder, or undefined when it does not exist. */
function realFolder(dir: string): string | undefined {
  try {
    return realpathSync(dir);
  } catch {
    return undefined;
  }
}

/**
 * Why a new certificate for CSR file `id` could not be delivered to `path`, judged before it is
 * signed: the name is taken (a file or link left there, or another CSR of this run with the same
 * base name, such as a.csr and a.der) or too long for the file system.
 */
function outputProblem(path: string, claimed: ReadonlySet<string>): string | undefined {
  if (claimed.has(path)) return `another request of this batch writes ${basename(path)} already (same name, another extension); rename one and run the batch again`;
  try {
    // No exception for the common case (nothing there): this runs for every new certificate.
    if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    return `the output ${basename(path)} already exists in the output folder and is never overwritten; move it away and run the batch again`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `the output ${basename(path)} cannot be created: ${code === "ENAMETOOLONG" ? "the name is too long for the file system" : code}`;
  }
}

export async function issueBatchFromFolder(home: Home, options: FolderBatchOptions): Promise<FolderBatchSummary> {
  openCsrFolder(options.csrDir).closeSync(); // a missing folder is refused before anything is created
  const input = realFolder(options.csrDir);
  if (input !== undefined && input === realFolder(options.outDir)) {
    throw new TrustlineError("USAGE", `--out-dir is the CSR folder ${options.csrDir}: certificates would mix with (and could replace) the requests; give another folder`);
  }
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
  const notDelivered: { id: string; serial: string; reason: string }[] = [];
  const writer = new OutputWriter();
  // Output paths of this run's new certificates, so two requests never share one (a.csr, a.der).
  const claimed = new Set<string>();
  const outputOf = (id: string) => join(options.outDir, outputName(id));
  let summary: BatchSummary;
  try {
    summary = await issueBatch(home, requests, {
      ...options,
      admit: (id) => {
        const path = outputOf(id);
        const problem = outputProblem(path, claimed);
        if (problem === undefined) claimed.add(path);
        return problem;
      },
      onIssued: (issued) => writer.write(issued.map((c) => ({ path: outputOf(c.id), text: c.pem + chainText }))),
      onSkipped: async (id, serial) => {
        const path = outputOf(id);
        const record = await home.inventory.getCertificate(serial);
        if (!record) return;
        const expected = pemFromBase64(record.der, "CERTIFICATE") + chainText;
        // undefined: nothing there; null: a link, folder or other non-file.
        let present: string | null | undefined;
        try {
          present = lstatSync(path).isFile() ? readFileSync(path, "latin1") : null;
        } catch {
          present = undefined;
        }
        if (present === expected) return;
        // Missing, or cut short by a crash (a prefix of what it should hold, maybe empty): write it
        // again. Anything else there is someone's file or link: left alone, and reported.
        if (present === null || (present !== undefined && !expected.startsWith(present))) {
          notDelivered.push({ id, serial, reason: `${basename(path)} holds something else; not overwritten (deliver with \`trustline cert show ${serial} --out <file>\`)` });
          return;
        }
        await writer.write([{ path, text: expected, replace: present !== undefined }]);
        restoredOutputs++;
      },
    });
  } finally {
    await writer.close();
  }
  for (const f of writer.failed) notDelivered.push({ id: basename(f.path), serial: "", reason: `${basename(f.path)}: ${f.message}` });
  return { ...summary, total, outDir: options.outDir, restoredOutputs, notDelivered };
}
