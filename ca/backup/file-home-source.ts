/**
 * A file home as a backup source: a consistent snapshot taken under the home's write lock, held
 * for milliseconds, not for the length of the copy.
 *
 * Under the lock every write has finished, so the home is consistent. The small files that are
 * replaced whole (state.json, the signed head, the key files) are read into memory then; the large
 * ones are append-only (inventory segments, the revocation log, the audit log), so the snapshot
 * notes only their length, cut back to their last complete line, and copies that prefix later,
 * after the lock is released: whatever is appended meanwhile lies beyond it. (Writers only ever cut
 * a torn last line, which a prefix of complete lines never includes.) So issuing in another process
 * waits for the snapshot, never for the copy, and nothing half-written appears in the archive.
 */
import { createReadStream } from "node:fs";
import { type FileHandle, open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import type { BackupEntry, BackupSource } from "./archive-writer.js";
import { AUDIT_HEAD, AUDIT_LOG, KEYS_DIR, REVOCATION_LOG, SEGMENTS_DIR, STATE_FILE, summarizeFileHome } from "./file-home-layout.js";

type SnapshotFile = { readonly path: string; readonly bytes: Buffer } | { readonly path: string; readonly file: string; readonly length: number };

/** Length of the file's prefix that ends with its last newline (0 when it has none). */
async function completeLinesLength(handle: FileHandle): Promise<number> {
  const { size } = await handle.stat();
  const window = Buffer.alloc(Math.min(size, 1 << 16));
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - window.length);
    await handle.read(window, 0, end - start, start);
    const nl = window.subarray(0, end - start).lastIndexOf(10);
    if (nl !== -1) return start + nl + 1;
    end = start;
  }
  return 0;
}

async function appendOnly(home: Home, path: string): Promise<SnapshotFile> {
  const file = join(home.dir, path);
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (e) {
    throw new TrustlineError("STORE_CORRUPT", `${file} cannot be read (${(e as NodeJS.ErrnoException).code}): the home is damaged and cannot be backed up whole; \`trustline store check\` says what is missing`, { details: { file } });
  }
  try {
    return { path, file, length: await completeLinesLength(handle) };
  } finally {
    await handle.close();
  }
}

/** A small file of the home folder, read whole (under the lock). */
export async function readHomeFile(home: Home, path: string): Promise<{ readonly path: string; readonly bytes: Buffer }> {
  const file = join(home.dir, path);
  try {
    return { path, bytes: await readFile(file) };
  } catch (e) {
    throw new TrustlineError("STORE_CORRUPT", `${file} cannot be read (${(e as NodeJS.ErrnoException).code}): the home is damaged and cannot be backed up whole`, { details: { file } });
  }
}

async function regularFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => e.name).sort();
}

/** The file-backed keys in a home folder's keys/ (a PostgreSQL home keeps them there too). */
export const keyFileNames = (homeDir: string): Promise<string[]> => regularFiles(join(homeDir, KEYS_DIR));

/** The first `length` bytes of `file`, opened only when read (and closed if the reader stops). */
async function* prefixOf(file: string, length: number): AsyncIterable<Uint8Array> {
  if (length === 0) return;
  for await (const chunk of createReadStream(file, { start: 0, end: length - 1, highWaterMark: 1 << 20 })) yield chunk as Buffer;
}

/** Take the snapshot (under the home's lock) and return it as a source. */
export async function snapshotFileHome(home: Home): Promise<BackupSource> {
  const files = await home.transaction(async () => {
    const snapshot: SnapshotFile[] = [await readHomeFile(home, STATE_FILE)];
    for (const name of await keyFileNames(home.dir)) snapshot.push(await readHomeFile(home, `${KEYS_DIR}/${name}`));
    const segments = (await regularFiles(join(home.dir, SEGMENTS_DIR))).filter((n) => /^\d{8}\.jsonl$/.test(n));
    segments.forEach((name, i) => {
      if (Number(name.slice(0, 8)) !== i + 1) throw new TrustlineError("STORE_CORRUPT", `inventory segment ${i + 1} is missing: the home is damaged and cannot be backed up whole; \`trustline store check\` says what is missing`);
    });
    for (const name of segments) snapshot.push(await appendOnly(home, `${SEGMENTS_DIR}/${name}`));
    snapshot.push(await appendOnly(home, REVOCATION_LOG));
    snapshot.push(await appendOnly(home, AUDIT_LOG));
    snapshot.push(await readHomeFile(home, AUDIT_HEAD));
    return snapshot;
  });
  return {
    kind: "file-home",
    organization: home.state.organization,
    summarize: summarizeFileHome,
    async *entries(): AsyncIterable<BackupEntry> {
      for (const f of files) {
        if ("bytes" in f) yield { path: f.path, size: f.bytes.length, stream: [f.bytes] };
        else yield { path: f.path, size: f.length, stream: prefixOf(f.file, f.length) };
      }
    },
  };
}
