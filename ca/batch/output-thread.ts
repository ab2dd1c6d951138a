/**
 * The thread that writes batch outputs. Creating a file costs more kernel time than the certificate
 * costs to make; on its own thread it overlaps with verification and signing instead of stalling
 * the coordinator.
 *
 * A new output is created exclusively and without following links (O_EXCL | O_NOFOLLOW): it never
 * replaces a file, nor writes through a symbolic link planted in the folder. A restored output (an
 * earlier run's, lost or cut short by a crash) is written beside it and renamed over it, which
 * replaces a link rather than following it. A file that fails is reported; the others are written.
 */
import { closeSync, constants, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { parentPort } from "node:worker_threads";

export interface OutputFile {
  readonly path: string;
  readonly text: string;
  /**
   * Written beside and renamed into place, replacing what is there: a restore the coordinator has
   * judged safe, or an `issue batch --est` output, which must appear whole or not at all because a
   * file that exists is not asked for again. Default: created only, never replacing.
   */
  readonly replace?: boolean;
}

export interface OutputJob {
  readonly files: readonly OutputFile[];
}

export interface OutputReply {
  readonly failed: readonly { readonly path: string; readonly message: string }[];
}

let temps = 0;

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

function writeNew(path: string, text: string): void {
  const fd = openSync(path, CREATE, 0o644);
  try {
    const data = Buffer.from(text, "latin1");
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
  } finally {
    closeSync(fd);
  }
}

parentPort?.on("message", (job: OutputJob) => {
  const failed: { path: string; message: string }[] = [];
  for (const f of job.files) {
    try {
      if (!f.replace) writeNew(f.path, f.text);
      else {
        // Hidden (listings skip it) and short: a name near the file system's limit still gets one.
        const temp = join(dirname(f.path), `.trustline-${process.pid}-${++temps}.tmp`);
        try {
          writeNew(temp, f.text);
          renameSync(temp, f.path);
        } catch (e) {
          rmSync(temp, { force: true });
          throw e;
        }
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      failed.push({ path: f.path, message: code === "EEXIST" ? "a file of that name already exists (not overwritten)" : code === "ELOOP" ? "it is a symbolic link (not followed)" : (code ?? (e as Error).message) });
    }
  }
  parentPort!.postMessage({ failed } satisfies OutputReply);
});
