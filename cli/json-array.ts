/**
 * A JSON array on stdout that is either complete or not printed at all. A listing can be too large
 * to hold in memory, and a store can break half-way through it; so the array is kept in memory up
 * to a bound, then spooled to a private temporary file, and copied to stdout only once every item
 * was read. On failure nothing was printed, and the caller prints the error alone.
 */
import { closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";

const IN_MEMORY = 32 * 1024 * 1024;

export async function printJsonArray(items: AsyncIterable<unknown>): Promise<void> {
  let chunks: string[] = [];
  let size = 0;
  let spool: { dir: string; fd: number } | undefined;
  const write = (text: string) => {
    if (spool) {
      writeSync(spool.fd, text);
      return;
    }
    chunks.push(text);
    size += text.length;
    if (size > IN_MEMORY) {
      const dir = mkdtempSync(join(tmpdir(), "trustline-list-"));
      spool = { dir, fd: openSync(join(dir, "list.json"), "wx", 0o600) };
      for (const c of chunks) writeSync(spool.fd, c);
      chunks = [];
    }
  };
  try {
    write("[");
    let first = true;
    for await (const item of items) {
      write(`${first ? "\n" : ",\n"}${JSON.stringify(item)}`);
      first = false;
    }
    write(first ? "]\n" : "\n]\n");
    if (!spool) {
      process.stdout.write(chunks.join(""));
      return;
    }
    closeSync(spool.fd);
    await pipeline(createReadStream(join(spool.dir, "list.json")), process.stdout, { end: false });
  } finally {
    if (spool) {
      try {
        closeSync(spool.fd);
      } catch {
        /* closed above */
      }
      rmSync(spool.dir, { recursive: true, force: true });
    }
  }
}
