/**
 * The CSR worker threads (worker.ts) behind a batch and the EST service: parse, verify, apply the
 * policy and encode off the thread that signs, commits and answers.
 */
import { Worker } from "node:worker_threads";
import type { WorkChunk, WorkResult, WorkerSetup } from "./protocol.js";

/**
 * A small young generation for the batch's threads: their garbage is short-lived, and V8's default
 * (up to 3 × 16 MB per thread) only adds pages to touch. Measured on 100,000 CSRs: peak RSS 317 MB
 * with the default, 289 MB with this limit on the worker and output threads, at the same speed.
 * (The main thread's young generation can only be set on node's command line.)
 */
export const BATCH_THREAD_LIMITS = { maxYoungGenerationSizeMb: 12 } as const;

interface PooledWorker {
  readonly worker: Worker;
  /** Chunks sent and not yet answered, oldest first. */
  readonly pending: { resolve: (r: WorkResult[]) => void; reject: (e: Error) => void }[];
}

/**
 * Worker threads, each given up to DEPTH chunks at once: a worker answers its chunks in order, and
 * always has the next one queued, so it does not sit idle while the coordinator is busy signing
 * and committing a group (measured: a third of each worker's time went idle with one chunk each).
 * A worker that dies fails the pool: every chunk sent or still to send is refused with its error.
 */
export class WorkerPool {
  static readonly DEPTH = 3;
  readonly #workers: PooledWorker[];
  readonly #waiting: (() => void)[] = [];
  #failure: Error | undefined;

  constructor(size: number, setup: WorkerSetup) {
    this.#workers = Array.from({ length: size }, () => {
      const entry: PooledWorker = { worker: new Worker(new URL("./worker.js", import.meta.url), { workerData: setup, resourceLimits: BATCH_THREAD_LIMITS }), pending: [] };
      entry.worker.on("message", (results: WorkResult[]) => {
        entry.pending.shift()?.resolve(results);
        this.#waiting.shift()?.();
      });
      entry.worker.on("error", (e: Error) => {
        this.#failure ??= e;
        for (const p of entry.pending.splice(0)) p.reject(e);
        for (const wake of this.#waiting.splice(0)) wake();
      });
      return entry;
    });
  }

  /** The least busy worker with room for another chunk, waiting for one if all are full. */
  async #slot(): Promise<PooledWorker> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      let best: PooledWorker | undefined;
      for (const w of this.#workers) if (w.pending.length < WorkerPool.DEPTH && (!best || w.pending.length < best.pending.length)) best = w;
      if (best) return best;
      await new Promise<void>((r) => this.#waiting.push(r));
    }
  }

  async run(chunk: WorkChunk): Promise<WorkResult[]> {
    const w = await this.#slot();
    const done = new Promise<WorkResult[]>((resolve, reject) => w.pending.push({ resolve, reject }));
    w.worker.postMessage(chunk, chunk.items.flatMap((i) => ("csr" in i ? [i.csr.buffer as ArrayBuffer] : [])));
    return done;
  }

  /** Why the pool stopped working (a worker died), if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.worker.terminate()));
  }
}
