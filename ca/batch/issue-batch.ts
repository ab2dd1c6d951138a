/**
 * Batch issuance at production-line speed. Worker threads do the CPU-heavy, key-free work (CSR
 * verification, policy, TBS encoding); this coordinator signs, and commits in groups: one lock,
 * three fsyncs and one signed audit head per group instead of per certificate.
 *
 * Resumable: every record carries its batch id and request hash, and the inventory keeps a
 * per-batch index of them. A re-run (after kill -9, a power cut or a fix to some CSRs) skips every
 * request already issued in the batch (the workers check the hash before verifying anything), so
 * no CSR ever gets a second certificate; the check is repeated under the home lock, so two
 * processes running the same batch cannot both issue one CSR.
 */
import { availableParallelism } from "node:os";
import { PROFILES } from "../../policy/index.js";
import type { AuditEvent } from "../audit/log.js";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { DEFAULT_CSR_LIMIT } from "../input-file.js";
import { caCertificateDer, caSigner, chainOf, getCa, issuerFacts, signatureHolds, spkiOfCa, validateBatchId } from "../issue.js";
import { signatureAlgorithmFor, signStructure, type Signer } from "../keys/signer.js";
import { pemFromBase64 } from "../pem.js";
import type { CertificateRecord } from "../store/types.js";
import { subjectNameDer } from "../x509/cert-fields.js";
import { deviceRecordFields, type WorkItem, type WorkResult, type WorkerSetup } from "./protocol.js";
import { WorkerPool } from "./worker-pool.js";
import { RequestIndex } from "./request-index.js";

/** One request: its bytes, or a file a worker thread reads (keeps file I/O off the coordinator). */
export type BatchItem =
  | { /** How the caller names this request (a file name): in the summary and for outputs. */ readonly id: string; readonly csr: Uint8Array }
  | { readonly id: string; readonly path: string };

export interface BatchProgress {
  readonly seen: number;
  readonly issued: number;
  readonly skipped: number;
  readonly rejected: number;
  readonly elapsedMs: number;
}

export interface BatchRejection {
  readonly id: string;
  readonly code: string;
  readonly message: string;
}

export interface BatchSummary {
  readonly batch: string;
  readonly ca: string;
  readonly issued: number;
  /** Already issued in this batch by an earlier run (or a duplicate request in this run). */
  readonly skipped: number;
  readonly rejected: readonly BatchRejection[];
  /** Requests found twice in this run (the same CSR under two names): each gets the one certificate. */
  readonly duplicates: readonly { readonly id: string; readonly serial: string }[];
  readonly durationMs: number;
  readonly certificatesPerSecond: number;
}

export interface BatchIssued {
  readonly id: string;
  readonly pem: string;
  readonly chain: readonly string[];
  readonly record: CertificateRecord;
}

export interface BatchOptions {
  readonly batch: string;
  readonly ca?: string;
  readonly validityDays?: number;
  /** The largest CSR file a worker reads (default 64 KiB): a larger or non-regular file is refused on its own. */
  readonly maxRequestBytes?: number;
  /** Worker threads (default: one per core). */
  readonly workers?: number;
  /** Certificates per commit group (default 1024). */
  readonly groupSize?: number;
  /**
   * Asked for each new certificate before it is signed (under the lock): a reason refuses the
   * request (the folder batch refuses one whose output file cannot be created).
   */
  readonly admit?: (id: string) => string | undefined;
  /** Called after each group is durable: write the outputs here. */
  readonly onIssued?: (issued: readonly BatchIssued[]) => void | Promise<void>;
  /** Called for requests an earlier run issued (to re-create a missing output). */
  readonly onSkipped?: (id: string, serial: string) => void | Promise<void>;
  readonly onProgress?: (progress: BatchProgress) => void;
}

const CHUNK = 64;

/** Issue device certificates for every request in `items`, under one batch id. */
export async function issueBatch(home: Home, items: AsyncIterable<BatchItem> | Iterable<BatchItem>, options: BatchOptions): Promise<BatchSummary> {
  validateBatchId(options.batch);
  await home.authorize("issue.device");
  const started = performance.now();
  const ca = getCa(home, options.ca ?? "device");
  const profile = PROFILES.device;
  if (ca.profile !== "device-ca") throw new TrustlineError("POLICY_DENIED", `batch issuance issues device certificates; CA "${ca.name}" is a ${ca.profile}`);
  // The passphrase is asked (and the key opened) while the worker threads start: both take a
  // noticeable part of a second, and neither needs the other. No CSR is read before the key opens.
  const opening = caSigner(home, ca);
  opening.catch(() => undefined); // awaited below
  const issuedInBatch = new RequestIndex();
  const remember = (requestSha256: string, serial: string) => issuedInBatch.set(requestSha256, serial);
  let batchCursor = await home.inventory.readBatchRequests(options.batch, undefined, remember);
  const setup: WorkerSetup = {
    already: issuedInBatch.map, // cloned into each worker as it starts
    profile: profile.name,
    issuer: { ...issuerFacts(home, ca, ca.name), notBefore: ca.notBefore, notAfter: ca.notAfter },
    layout: { algorithm: signatureAlgorithmFor(ca.keyAlgorithm), issuerName: subjectNameDer(caCertificateDer(ca)), issuerPublicKey: spkiOfCa(ca) },
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
    maxRequestBytes: options.maxRequestBytes ?? DEFAULT_CSR_LIMIT,
  };
  const chain = chainOf(home, ca.name);
  // Requests in groups not yet committed; committed ones are in issuedInBatch. Together they catch
  // the same request twice in one run without a set that grows with the batch.
  const pending = new Set<string>();
  const counts = { seen: 0, issued: 0, skipped: 0 };
  const rejected: BatchRejection[] = [];
  const duplicates: { id: string; requestSha256: string }[] = [];
  /** Caller's ids of the requests sent to workers and not yet answered, by index. */
  const ids = new Map<number, string>();
  let nextIndex = 0;
  const pool = new WorkerPool(Math.max(1, options.workers ?? availableParallelism()), setup);
  let signer: Signer;
  try {
    signer = await opening;
    if (signer.algorithm !== setup.layout.algorithm) throw new TrustlineError("CONFIG_INVALID", `CA "${ca.name}" is recorded as ${setup.layout.algorithm} but its key signs ${signer.algorithm}`);
  } catch (e) {
    await pool.close();
    throw e;
  }
  const groupSize = options.groupSize ?? 1024;
  let group: { id: string; result: WorkResult }[] = [];
  let committing: Promise<void> = Promise.resolve();
  let checkedSignature = false;
  const progress = () => options.onProgress?.({ ...counts, rejected: rejected.length, elapsedMs: performance.now() - started });

  type Done = { id: string; result: WorkResult };
  type Issuable = { id: string; result: Extract<WorkResult, { ok: true }> };
  const commit = async (results: Done[]): Promise<void> => {
    const issued: BatchIssued[] = [];
    const lateSkips: { id: string; serial: string }[] = [];
    await home.transaction(async () => {
      // Re-check under the lock: another process may have issued some of these meanwhile.
      batchCursor = await home.inventory.readBatchRequests(options.batch, batchCursor, remember);
      const toIssue = results.filter((r): r is Issuable => {
        if (r.result.ok !== true) return false;
        const serial = issuedInBatch.get(r.result.requestSha256);
        if (serial !== undefined) {
          counts.skipped++;
          lateSkips.push({ id: r.id, serial });
          return false;
        }
        const refusal = options.admit?.(r.id);
        if (refusal !== undefined) {
          r.result = { ok: false, index: r.result.index, requestSha256: r.result.requestSha256, code: "INPUT_INVALID", message: refusal };
          return false;
        }
        return true;
      });
      const refused = results.filter((r) => r.result.ok === false);
      const who = home.who;
      // One intent for the group (every serial about to be signed), then one issue entry per
      // certificate once the records are durable: half the entries of one intent per certificate,
      // and the same trace (a serial with an intent but no issue entry was never handed out).
      const intents: AuditEvent[] =
        toIssue.length === 0 ? [] : [{ action: "certificate.intent", outcome: "ok", ...who, profile: "device", ca: ca.name, batch: options.batch, details: { count: toIssue.length, serials: toIssue.map(({ result: r }) => r.serial) } }];
      const rejections: AuditEvent[] = refused.map(({ id, result: r }) => ({
        action: "certificate.reject",
        outcome: "rejected",
        ...who,
        profile: "device",
        ca: ca.name,
        requestSha256: r.requestSha256,
        batch: options.batch,
        reason: r.ok === false ? r.message : "",
        details: { code: r.ok === false ? r.code : "", id },
      }));
      await home.record([...rejections, ...intents], { sign: false });
      const now = home.clock().toISOString();
      const records: CertificateRecord[] = [];
      // Every signature of the group is asked for at once: a key in a vault or an HSM answers many
      // in flight (its signer bounds and paces them); a file key signs each as it comes. The first
      // signature of the run is checked before any other is asked for.
      const first = !checkedSignature && toIssue.length > 0 ? await signStructure(toIssue[0]!.result.tbs, signer) : undefined;
      if (first) {
        selfCheck(first, signer);
        checkedSignature = true;
      }
      const signed = await Promise.all(toIssue.map(({ result: r }, i) => (i === 0 && first ? first : signStructure(r.tbs, signer))));
      for (const [i, { id, result: r }] of toIssue.entries()) {
        const der = signed[i]!;
        const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
        const record: CertificateRecord = { ...deviceRecordFields(r, ca.name), der: base64, ...who, batch: options.batch, issuedAt: now };
        records.push(record);
        issued.push({ id, pem: pemFromBase64(base64, "CERTIFICATE"), chain, record });
      }
      await home.inventory.putCertificates(records);
      await home.record(toIssue.map(({ result: r }) => ({ action: "certificate.issue", outcome: "ok", ...who, profile: "device", ca: ca.name, serial: r.serial, requestSha256: r.requestSha256, subject: r.commonName, batch: options.batch })));
    });
    counts.issued += issued.length;
    for (const c of issued) issuedInBatch.set(c.record.requestSha256, c.record.serial);
    for (const r of results) if (r.result.ok === true) pending.delete(r.result.requestSha256);
    for (const r of results) if (r.result.ok === false) rejected.push({ id: r.id, code: r.result.code, message: r.result.message });
    if (options.onIssued && issued.length > 0) await options.onIssued(issued);
    for (const skip of lateSkips) await options.onSkipped?.(skip.id, skip.serial);
    progress();
  };

  const flush = (force: boolean) => {
    if (group.length === 0 || (!force && group.length < groupSize)) return;
    const g = group;
    group = [];
    committing = committing.then(() => commit(g));
  };

  const inflight = new Set<Promise<void>>();
  // Enough queued work that the workers keep busy while the coordinator commits a group (fsyncs, signing).
  const maxInflight = 8 * Math.max(1, options.workers ?? availableParallelism()) + 2;
  let chunk: WorkItem[] = [];
  const dispatch = () => {
    if (chunk.length === 0) return;
    const items = chunk;
    chunk = [];
    const p = pool.run({ items, now: home.clock().getTime() }).then(async (results) => {
      for (const result of results) {
        const id = ids.get(result.index)!;
        ids.delete(result.index);
        if (result.ok === "skipped") {
          counts.skipped++;
          await options.onSkipped?.(id, result.serial);
        } else if (result.ok === true && (pending.has(result.requestSha256) || issuedInBatch.has(result.requestSha256))) {
          counts.skipped++; // the same request twice in this run: it gets the one certificate, said in the summary
          duplicates.push({ id, requestSha256: result.requestSha256 });
        } else {
          if (result.ok === true) pending.add(result.requestSha256);
          group.push({ id, result });
        }
      }
      flush(false);
    });
    const tracked = p.finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  };

  try {
    for await (const item of items) {
      counts.seen++;
      const index = nextIndex++;
      ids.set(index, item.id);
      // Bytes are copied: the worker takes ownership of what it is sent, and callers may reuse theirs.
      chunk.push("path" in item ? { index, path: item.path } : { index, csr: new Uint8Array(item.csr) });
      if (chunk.length >= CHUNK) dispatch();
      while (inflight.size >= maxInflight) await Promise.race(inflight);
      // Bound memory: never let commits fall far behind the workers.
      if (group.length >= 4 * groupSize) await committing;
    }
    dispatch();
    await Promise.all(inflight);
    flush(true);
    await committing;
  } finally {
    await pool.close();
  }
  const duplicated: { id: string; serial: string }[] = [];
  for (const d of duplicates) {
    const serial = issuedInBatch.get(d.requestSha256);
    if (serial === undefined) continue; // its twin was refused: so is it, by the same reason
    duplicated.push({ id: d.id, serial });
    await options.onSkipped?.(d.id, serial);
  }
  const durationMs = performance.now() - started;
  return {
    batch: options.batch,
    ca: ca.name,
    issued: counts.issued,
    skipped: counts.skipped,
    rejected,
    duplicates: duplicated,
    durationMs,
    certificatesPerSecond: counts.issued / (durationMs / 1000),
  };
}

/** A faulty key backend must not mint a batch of bad certificates: check the first signature. */
function selfCheck(der: Uint8Array, signer: Signer): void {
  if (!signatureHolds(der, signer)) {
    throw new TrustlineError("SIGNATURE_INVALID", "the key backend produced a signature that does not verify; the batch was stopped before anything was stored");
  }
}
