/**
 * `trustline issue batch --est <url>`: a folder of CSRs pushed through the EST service, many
 * requests in flight, into `<out-dir>/<name>.pem` like the local batch. Resumable the same way:
 * every request carries the batch id, and the service answers a request it already issued in that
 * batch with the certificate it got (never a second one); outputs already written are not asked
 * for again. Files are written whole (a temporary name, then renamed), so one that exists is complete.
 */
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isTrustlineError, TrustlineError } from "../errors.js";
import { readInputFile } from "../input-file.js";
import { toPem } from "../pem.js";
import { csrDer } from "../x509/csr.js";
import { listCsrFiles, outputName } from "../batch/folder.js";
import type { EstClient } from "./client.js";

export interface EstBatchOptions {
  readonly csrDir: string;
  readonly outDir: string;
  readonly batch: string;
  /** Append the issuing CA chain (not the root) to each certificate file. */
  readonly chain?: boolean;
  /** Requests in flight (default 32). */
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
  readonly outDir: string;
  readonly durationMs: number;
  readonly certificatesPerSecond: number;
}

/** Refusals of one request (the CSR, the policy): the batch goes on. Anything else stops it. */
const PER_REQUEST: ReadonlySet<string> = new Set(["CSR_INVALID", "POLICY_DENIED", "INPUT_INVALID"]);

export async function enrollFolderThroughEst(client: EstClient, options: EstBatchOptions): Promise<EstBatchSummary> {
  const started = performance.now();
  const files = listCsrFiles(options.csrDir);
  mkdirSync(options.outDir, { recursive: true });
  const chain = options.chain ? (await client.cacerts()).slice(0, -1).map((der) => toPem(der, "CERTIFICATE")).join("") : "";
  const counts = { done: 0, issued: 0, reused: 0, skipped: 0 };
  const rejected: { id: string; code: string; message: string }[] = [];
  const progress = () => options.onProgress?.({ done: counts.done, issued: counts.issued, reused: counts.reused, rejected: rejected.length, elapsedMs: performance.now() - started });
  let next = 0;
  const one = async (file: string): Promise<void> => {
    const out = join(options.outDir, outputName(file));
    if (existsSync(out)) {
      counts.skipped++;
      return;
    }
    try {
      const der = csrDer(readInputFile(join(options.csrDir, file), "CSR", options.maxRequestBytes));
      const enrolled = await client.enroll(der, { batch: options.batch });
      const partial = `${out}.partial`;
      writeFileSync(partial, toPem(enrolled.der, "CERTIFICATE") + chain);
      renameSync(partial, out);
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
  const lanes = Array.from({ length: Math.max(1, Math.min(options.inFlight ?? 32, 256)) }, lane);
  const results = await Promise.allSettled(lanes);
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
    outDir: options.outDir,
    durationMs,
    certificatesPerSecond: counts.issued / (durationMs / 1000),
  };
}
