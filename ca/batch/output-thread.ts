/**
 * The thread that writes batch outputs. Creating a file costs more kernel time than the certificate
 * costs to make; on its own thread it overlaps with verification and signing instead of stalling
 * the coordinator.
 */
import { writeFileSync } from "node:fs";
import { parentPort } from "node:worker_threads";

export interface OutputJob {
  readonly files: readonly { readonly path: string; readonly text: string }[];
}

export type OutputReply = { readonly ok: true } | { readonly ok: false; readonly path: string; readonly message: string };

parentPort?.on("message", (job: OutputJob) => {
  for (const f of job.files) {
    try {
      writeFileSync(f.path, f.text);
    } catch (e) {
      parentPort!.postMessage({ ok: false, path: f.path, message: (e as NodeJS.ErrnoException).code ?? (e as Error).message } satisfies OutputReply);
      return;
    }
  }
  parentPort!.postMessage({ ok: true } satisfies OutputReply);
});
