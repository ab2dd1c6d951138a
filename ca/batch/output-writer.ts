/**
 * Certificate files written on their own thread (output-thread.ts). Creating a file costs more
 * kernel time than the certificate costs to make, and on a file system whose journal is busy with
 * the CA's fsyncs a create can wait for a commit: on the caller's thread that stalls everything
 * else it does (signing for the local batch, TLS for `issue batch --est`).
 */
import { Worker } from "node:worker_threads";
import { BATCH_THREAD_LIMITS } from "./worker-pool.js";
import type { OutputFile, OutputJob, OutputReply } from "./output-thread.js";

/** Sends outputs to the output thread in groups; at most a few groups in flight. */
export class OutputWriter {
  readonly #thread = new Worker(new URL("./output-thread.js", import.meta.url), { resourceLimits: BATCH_THREAD_LIMITS });
  /** The thread answers jobs in order: one reply settles the oldest job. */
  readonly #waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly #inflight: Promise<void>[] = [];
  /** Outputs that could not be written (their certificates are issued and recorded: the caller says how to deliver them). */
  readonly failed: { path: string; message: string }[] = [];

  constructor() {
    this.#thread.on("message", (reply: OutputReply) => {
      this.failed.push(...reply.failed);
      this.#waiting.shift()?.resolve();
    });
    this.#thread.on("error", (e) => {
      for (const job of this.#waiting.splice(0)) job.reject(e);
    });
  }

  async write(files: readonly OutputFile[]): Promise<void> {
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
