/**
 * `trustline issue batch --est <url>`: a folder of CSRs pushed through the EST service, many
 * requests in flight, into `<out-dir>/<name>.pem` like the local batch. Resumable the same way:
 * every request carries the batch id, and the service answers a request it already issued in that
 * batch with the certificate it got (never a second one); outputs already written are not asked
 * for again. Files are written whole (a temporary name, then renamed), so one that exists is
 * complete; they are written on the batch's output thread, so that the file system's waits do not
 * hold up the requests in flight.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { isTrustlineError, TrustlineError } from "../errors.js";
import { readInputFile } from "../input-file.js";
import { toPem } from "../pem.js";
import { csrDer } from "../x509/csr.js";
import { listCsrFiles, outputName } from "../batch/folder.js";
import type { OutputFile } from "../batch/output-thread.js";
import { OutputWriter } from "../batch/output-writer.js";
import type { EstClient } from "./client.js";

export interface EstBatchOptions {
  readonly csrDir: string;
  readonly outDir: string;
  readonly batch: string;
  /** Append the issuing CA chain (not the root) to each certificate file. */
  readonly chain?: boolean;
  /** Requests in flight (default EST_BATCH_IN_FLIGHT). */
  readonly inFlight?: number;
  readonly maxRequestBytes: number;
  readonly onProgress?: (p: { done: number; issued: number; reused: number; rejected: number; elapsedMs: number }) => void;
}

export interface EstBatchSummary {
  readonly batch: string;
  readonly total: number;
  readonly issued: number;
  /** The service had issued them in this batch before (an earlier run): the same certificate, written again. */
  readonly reused: number;
  /** Their output files already existed: not asked for. */
  readonly skipped: number;
  readonly rejected: readonly { readonly id: string; readonly code: string; readonly message: string }[];
  /** Certificates the service issued whose file could not be written: running the batch again writes them (the service answers with the same ones). */
  readonly notDelivered: readonly { readonly output: string; readonly reason: string }[];
  readonly outDir: string;
  readonly durationMs: number;
  readonly certificatesPerSecond: number;
}

/**
 * The service commits the requests that arrive together as one group (one lock, a few fsyncs, one
 * signed head), so a batch that keeps more requests in flight gets bigger groups: measured on the
 * two-core reference machine, 128 in flight issued 1,114-1,228 certificates/s where 32 issued
 * 937-1,052. A connection each (HTTP/1.1); the service allows 1,024 at once.
 */
export const EST_BATCH_IN_FLIGHT = 128;

/** Refusals of one request (the CSR, the policy): the batch goes on. Anything else stops it. */
const PER_REQUEST: ReadonlySet<string> = new Set(["CSR_INVALID", "POLICY_DENIED", "INPUT_INVALID"]);

/** Certificates answered but not yet handed to the output thread, before the requests wait for it. */
const MAX_UNSENT_OUTPUTS = 2048;
/** Outputs sent to the thread together: this many, or what was answered within this time. */
const OUTPUT_GROUP = 128;
const OUTPUT_GROUP_MS = 20;

export async function enrollFolderThroughEst(client: EstClient, options: EstBatchOptions): Promise<EstBatchSummary> {
  const started = performance.now();
  const files = listCsrFiles(options.csrDir);
  mkdirSync(options.outDir, { recursive: true });
  // What the folder holds already: one listing, not a lookup per request.
  const present = new Set(readdirSync(options.outDir));
  const chain = options.chain ? (await client.cacerts()).slice(0, -1).map((der) => toPem(der, "CERTIFICATE")).join("") : "";
  const counts = { done: 0, issued: 0, reused: 0, skipped: 0 };
  const rejected: { id: string; code: string; message: string }[] = [];
  const progress = () => options.onProgress?.({ done: counts.done, issued: counts.issued, reused: counts.reused, rejected: rejected.length, elapsedMs: performance.now() - started });
  // Outputs go to the output thread in groups (a message wakes the other thread: one per group).
  const writer = new OutputWriter();
  let pending: OutputFile[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** Files answered and not yet handed to the thread (pending or waiting for room). */
  let unsent = 0;
  let writing: Promise<void> = Promise.resolve();
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const group = pending;
    pending = [];
    writing = writing.then(async () => {
      await writer.write(group);
      unsent -= group.length;
    });
    writing.catch(() => undefined); // a failed thread is seen where `writing` is awaited
  };
  let next = 0;
  const one = async (file: string): Promise<void> => {
    const name = outputName(file);
    const out = join(options.outDir, name);
    if (present.has(name)) {
      counts.skipped++;
      return;
    }
    try {
      const der = csrDer(readInputFile(join(options.csrDir, file), "CSR", options.maxRequestBytes));
      const enrolled = await client.enroll(der, { batch: options.batch });
      pending.push({ path: out, text: toPem(enrolled.der, "CERTIFICATE") + chain, replace: true });
      if (pending.length >= OUTPUT_GROUP) flush();
      else timer ??= setTimeout(flush, OUTPUT_GROUP_MS);
      // A disk slower than the service: the lanes wait, rather than certificates piling up in memory.
      if (++unsent > MAX_UNSENT_OUTPUTS) await writing;
      if (enrolled.reused) counts.reused++;
      else counts.issued++;
    } catch (e) {
      if (!isTrustlineError(e) || !PER_REQUEST.has(e.code)) throw e;
      rejected.push({ id: file, code: e.code, message: e.message });
    }
  };
  const lane = async () => {
    for (let i = next++; i < files.length; i = next++) {
      await one(files[i]!);
      counts.done++;
      progress();
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(options.inFlight ?? EST_BATCH_IN_FLIGHT, 256)) }, lane);
  const results = await Promise.allSettled(lanes);
  // What was answered is written, even when the batch stops.
  flush();
  try {
    await writing;
  } finally {
    await writer.close();
  }
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    const e = failed.reason as Error;
    throw isTrustlineError(e) ? new TrustlineError(e.code, `${e.message} (the batch stopped after ${counts.done} of ${files.length} requests; run it again to go on)`, { cause: e, details: e.details }) : e;
  }
  const durationMs = performance.now() - started;
  return {
    batch: options.batch,
    total: files.length,
    ...counts,
    rejected: rejected.sort((a, b) => a.id.localeCompare(b.id)),
    notDelivered: writer.failed.map((f) => ({ output: basename(f.path), reason: f.message })),
    outDir: options.outDir,
    durationMs,
    certificatesPerSecond: counts.issued / (durationMs / 1000),
  };
}
