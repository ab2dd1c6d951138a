/**
 * The embedded certificate inventory. lowdb rewrites its whole file on every write (83 ms at 10k
 * records, 1.1 s at 100k), so certificates do not go there. Instead:
 *
 *   inventory/segments/00000001.jsonl  append-only records, one JSON object a line, fsync'd per write
 *   inventory/index/serials.tbl        serial -> (segment, offset, length): an on-disk hash table
 *                                      (serial-table.ts); a lookup or a duplicate check is a few
 *                                      small reads at any size, and a commit group writes one file
 *   inventory/index/batch-<id>.idx     "<request sha256> <serial>" lines: what makes a batch resumable
 *   inventory/index/checkpoint.json    how far into the segments the index is known to reach
 *
 * Appending costs the same at 10 records or 10 million; a lookup reads a few table slots and one
 * record. The index is derived data, rebuilt from the segments if lost: the serial table is synced
 * before the checkpoint vouches for it (the checkpoint itself is not: losing it costs a re-index),
 * and anything past the checkpoint (a crash between the two writes) is re-indexed on the next
 * write and scanned by readers. A torn last line
 * (a crash mid-append, before fsync returned, so before any certificate was handed out) is cut off
 * on the next write. Writers must hold the home lock (Home.transaction); readers need no lock.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { TrustlineError } from "../errors.js";
import { fsyncDirectory, fsyncInBackground } from "./atomic.js";
import { SerialTable } from "./serial-table.js";
import type { Inventory } from "./home-storage.js";
import { type CertificateFilter, type CertificateRecord, matches, type RevocationEntry } from "./types.js";

/** A segment past this size is closed: the next write starts a new one. */
export const SEGMENT_LIMIT = 256 * 1024 * 1024;
const SEGMENT_NAME = /^(\d{8})\.jsonl$/;

/** Bumped when the index's layout changes: an index of another layout is rebuilt from the segments. */
const INDEX_LAYOUT = 3;

interface Checkpoint {
  readonly layout?: number;
  readonly segment: number;
  readonly offset: number;
  /** Batches with an index file: one found missing is rebuilt from the segments, not taken for a new batch. */
  readonly batches?: readonly string[];
}

/** How far a batch's index file was read (see readBatchRequests). */
export interface BatchCursor {
  readonly ino: number;
  readonly offset: number;
}

interface IndexEntry {
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
}

type IndexedRecord = IndexEntry & Pick<CertificateRecord, "serial" | "batch" | "requestSha256">;

const indexed = (r: CertificateRecord, e: IndexEntry): IndexedRecord => ({ ...e, serial: r.serial, batch: r.batch, requestSha256: r.requestSha256 });

export class FileInventory implements Inventory {
  readonly #segments: string;
  readonly #index: string;
  /** The index update of the last write, still finishing (see `settle`). */
  #indexing: Promise<void> | undefined;
  readonly #revocations: string;

  constructor(dir: string) {
    this.#segments = join(dir, "segments");
    this.#index = join(dir, "index");
    this.#revocations = join(dir, "revocations.jsonl");
  }

  /** Create the folders (at `init`). */
  async create(): Promise<void> {
    mkdirSync(this.#segments, { recursive: true });
    mkdirSync(this.#index, { recursive: true });
    // Created empty at once, so that a missing revocation log reads as damage, never as "nothing revoked".
    writeFileSync(this.#revocations, "", { flag: "a", mode: 0o600 });
  }

  #segmentPath(n: number): string {
    return join(this.#segments, `${String(n).padStart(8, "0")}.jsonl`);
  }

  /** The segment numbers, checked against the checkpoint `cp` (read now unless the caller has it). */
  #segmentNumbers(cp: Checkpoint = this.#readCheckpoint()): number[] {
    let names: string[];
    try {
      names = readdirSync(this.#segments);
    } catch (e) {
      throw new TrustlineError("STORE_CORRUPT", `the certificate inventory is missing (${this.#segments})`, { cause: e });
    }
    const numbers = names
      .map((n) => SEGMENT_NAME.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    // Segments are numbered from 1 without gaps, and the index checkpoint says how far they reached:
    // a deleted or cut segment is damage to report, not an inventory with fewer certificates.
    numbers.forEach((n, i) => {
      if (n !== i + 1) throw corrupt(`inventory segment ${i + 1} is missing (${this.#segmentPath(i + 1)})`, this.#segmentPath(i + 1));
    });
    if (cp.offset > 0) {
      const path = this.#segmentPath(cp.segment);
      const size = statSync(path, { throwIfNoEntry: false })?.size;
      if (size === undefined) throw corrupt(`inventory segment ${cp.segment} is missing (${path}), though the index covers it`, path);
      if (size < cp.offset) throw corrupt(`inventory segment ${cp.segment} (${path}) was cut: it is shorter than the index says it was`, path);
    }
    return numbers;
  }

  #readCheckpoint(): Checkpoint {
    try {
      const cp = JSON.parse(readFileSync(join(this.#index, "checkpoint.json"), "utf8")) as Checkpoint;
      // A checkpoint vouches for the serial table: without a whole table (missing, truncated, not a
      // table) nothing counts as indexed, readers scan the segments and the next write rebuilds it.
      if (cp.layout === INDEX_LAYOUT && Number.isInteger(cp.segment) && Number.isInteger(cp.offset) && this.#tableUsable()) {
        return { segment: cp.segment, offset: cp.offset, batches: Array.isArray(cp.batches) ? cp.batches.filter((b) => typeof b === "string") : [] };
      }
    } catch {
      /* absent or torn: re-index from the start (derived data, always safe) */
    }
    return { segment: 1, offset: 0 };
  }

  #writeCheckpoint(cp: Checkpoint): void {
    const path = join(this.#index, "checkpoint.json");
    writeFileSync(`${path}.tmp`, JSON.stringify({ ...cp, layout: INDEX_LAYOUT }));
    renameSync(`${path}.tmp`, path);
  }

  /** Complete lines from `offset` in segment `n`, with their offsets. */
  *#linesFrom(n: number, offset: number): Generator<{ line: string; offset: number; length: number }> {
    const path = this.#segmentPath(n);
    if (!existsSync(path)) return;
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, size - offset)));
      let carry = Buffer.alloc(0);
      let carryStart = offset;
      for (let pos = offset; pos < size; ) {
        const read = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
        if (read <= 0) break;
        pos += read;
        const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
        let start = 0;
        for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
          yield { line: buf.toString("utf8", start, nl), offset: carryStart + start, length: nl + 1 - start };
          start = nl + 1;
        }
        carry = Buffer.from(buf.subarray(start));
        carryStart += start;
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Per-batch index: "<request sha256> <serial>" lines (batch ids are restricted to filename-safe characters). */
  #batchPath(batch: string): string {
    return join(this.#index, `batch-${encodeURIComponent(batch)}.idx`);
  }

  /**
   * Requests already issued in a batch: request SHA-256 -> serial. What makes a batch resumable.
   * Includes records the index has not caught up with.
   */
  async batchRequests(batch: string): Promise<Map<string, string>> {
    const requests = new Map<string, string>();
    await this.readBatchRequests(batch, undefined, (request, serial) => requests.set(request, serial));
    return requests;
  }

  /**
   * Every (request SHA-256, serial) of a batch appended to its index since `cursor` (all of them
   * without one), handed to `add`, plus the records the index has not caught up with. Returns the
   * cursor for the next call: a batch re-checks under the lock before every commit group, and
   * reading the whole index each time would cost O(n²) over a large batch.
   */
  async readBatchRequests(batch: string, cursor: BatchCursor | undefined, add: (requestSha256: string, serial: string) => void): Promise<BatchCursor | undefined> {
    let fd: number;
    try {
      fd = openSync(this.#batchPath(batch), "r");
    } catch {
      // The checkpoint says this batch has an index: it was lost. Rebuild it (a re-run must not
      // take the batch for a new one and issue its requests twice).
      if (!this.#readCheckpoint().batches?.includes(batch)) {
        this.#addUnindexed(batch, add);
        return undefined;
      }
      this.#rebuildBatchIndex(batch);
      fd = openSync(this.#batchPath(batch), "r");
    }
    try {
      const { size, ino } = fstatSync(fd);
      // A rebuilt index is a new file: read it from the start (were its inode reused, the rebuild
      // writes the same lines in the same order, so reading on from the offset is still right).
      const start = cursor && cursor.ino === ino && cursor.offset <= size ? cursor.offset : 0;
      const buf = Buffer.allocUnsafe(size - start);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, start + got);
        if (n <= 0) break;
        got += n;
      }
      // Only complete lines; a line being appended right now is read next time.
      const end = got > 0 ? buf.lastIndexOf(10, got - 1) + 1 : 0;
      const text = buf.toString("latin1", 0, end);
      for (let at = 0; at < text.length; ) {
        const nl = text.indexOf("\n", at);
        const sp = text.indexOf(" ", at);
        if (sp > at && sp < nl) add(text.slice(at, sp), text.slice(sp + 1, nl));
        at = nl + 1;
      }
      this.#addUnindexed(batch, add);
      return { ino, offset: start + end };
    } finally {
      closeSync(fd);
    }
  }

  #addUnindexed(batch: string, add: (requestSha256: string, serial: string) => void): void {
    for (const u of this.#unindexed()) if (u.record.batch === batch) add(u.record.requestSha256, u.record.serial);
  }

  #tablePath(): string {
    return join(this.#index, "serials.tbl");
  }

  #tableUsable(): boolean {
    const table = SerialTable.open(this.#tablePath(), "r");
    table?.close();
    return table !== undefined;
  }

  /** Read the serial table, if there is one (readers need no lock: see serial-table.ts). */
  #readTable<T>(use: (table: SerialTable) => T): T | undefined {
    const table = SerialTable.open(this.#tablePath(), "r");
    if (!table) return undefined;
    try {
      return use(table);
    } finally {
      table.close();
    }
  }

  #lookupIndex(serial: string): IndexEntry | undefined {
    return this.#readTable((t) => t.get(serial));
  }

  /** The first of `serials` already in the index: a few small reads per serial, whatever the size. */
  #firstIndexed(serials: readonly string[]): string | undefined {
    return this.#readTable((t) => serials.find((serial) => t.has(serial)));
  }

  #readRecord(entry: IndexEntry): CertificateRecord {
    let fd: number;
    try {
      fd = openSync(this.#segmentPath(entry.segment), "r");
    } catch (e) {
      throw corrupt(`inventory segment ${entry.segment} named by the serial index cannot be opened (${(e as NodeJS.ErrnoException).code})`, this.#segmentPath(entry.segment));
    }
    try {
      const buf = Buffer.alloc(entry.length);
      readSync(fd, buf, 0, entry.length, entry.offset);
      // The newline ends the record (entry.length includes it).
      return parseLine(buf.toString("utf8").trimEnd(), entry.segment, entry.offset);
    } catch (e) {
      if (e instanceof TrustlineError) throw e;
      throw new TrustlineError("STORE_CORRUPT", `the inventory record at segment ${entry.segment} offset ${entry.offset} is unreadable`, { cause: e });
    } finally {
      closeSync(fd);
    }
  }

  /** Records past the index checkpoint (not yet indexed), for readers. */
  *#unindexed(cp: Checkpoint = this.#readCheckpoint()): Generator<{ record: CertificateRecord; entry: IndexEntry }> {
    for (const n of this.#segmentNumbers(cp)) {
      if (n < cp.segment) continue;
      for (const l of this.#linesFrom(n, n === cp.segment ? cp.offset : 0)) {
        yield { record: parseLine(l.line, n, l.offset), entry: { segment: n, offset: l.offset, length: l.length } };
      }
    }
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const entry = this.#lookupIndex(serial);
    if (entry) {
      const record = this.#readRecord(entry);
      if (record.serial === serial) return record; // else a slot read mid-write: look further
    }
    for (const u of this.#unindexed()) if (u.record.serial === serial) return u.record;
    return undefined;
  }

  /**
   * Under the home lock: cut a torn tail, then index whatever the checkpoint does not cover.
   * Returns the segment to append to.
   */
  async #recover(): Promise<number> {
    const cp = this.#readCheckpoint();
    if (cp.segment === 1 && cp.offset === 0) {
      // Nothing (or an index of another layout) is indexed: start the index afresh. The stale
      // checkpoint goes first, so no reader trusts a table while it is being rebuilt.
      rmSync(join(this.#index, "checkpoint.json"), { force: true });
      for (const f of readdirSync(this.#index)) if (f.endsWith(".idx") || f.startsWith("serials.tbl")) unlinkSync(join(this.#index, f));
    }
    // One reading of the checkpoint for the whole recovery (each costs two opens): the steps below
    // (cutting a torn tail, indexing from it) do not move it until the index is appended to.
    const numbers = this.#segmentNumbers(cp);
    const last = numbers.at(-1) ?? 1;
    const path = this.#segmentPath(last);
    if (existsSync(path)) {
      const fd = openSync(path, "r+");
      try {
        const size = fstatSync(fd).size;
        // The last byte first: a complete tail (the usual case, every commit) costs one byte's read.
        const last = Buffer.alloc(1);
        if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10) {
          const tail = Buffer.alloc(Math.min(size, 1 << 16));
          readSync(fd, tail, 0, tail.length, size - tail.length);
          const nl = tail.lastIndexOf(10);
          if (nl === -1 && size > tail.length) throw new TrustlineError("STORE_CORRUPT", `the last record of ${path} is damaged beyond repair`);
          ftruncateSync(fd, nl === -1 ? 0 : size - tail.length + nl + 1);
          fsyncSync(fd);
        }
      } finally {
        closeSync(fd);
      }
    }
    // Index what the checkpoint does not cover, in bounded steps (after a lost index: everything).
    let pending: IndexedRecord[] = [];
    for (const p of this.#unindexed(cp)) {
      pending.push(indexed(p.record, p.entry));
      if (pending.length >= 50_000) {
        await this.#appendIndex(pending);
        pending = [];
      }
    }
    if (pending.length > 0) await this.#appendIndex(pending);
    return last;
  }

  async #appendIndex(entries: readonly IndexedRecord[]): Promise<void> {
    const byFile = new Map<string, string[]>();
    const add = (file: string, line: string) => {
      const lines = byFile.get(file);
      if (lines) lines.push(line);
      else byFile.set(file, [line]);
    };
    for (const e of entries) if (e.batch !== null) add(this.#batchPath(e.batch), `${e.requestSha256} ${e.serial}\n`);
    for (const [file, lines] of byFile) appendFileSync(file, lines.join(""));
    const table = SerialTable.open(this.#tablePath(), "r+") ?? SerialTable.create(this.#tablePath());
    try {
      table.put(entries);
      await table.sync(); // before the checkpoint vouches for it
    } finally {
      table.close();
    }
    const lastEntry = entries.at(-1)!;
    const known = new Set(this.#readCheckpoint().batches);
    for (const e of entries) if (e.batch !== null) known.add(e.batch);
    this.#writeCheckpoint({ segment: lastEntry.segment, offset: lastEntry.offset + lastEntry.length, batches: [...known] });
  }

  /** Write a batch's index afresh from the indexed part of the segments (atomically: readers may race). */
  #rebuildBatchIndex(batch: string): void {
    const cp = this.#readCheckpoint();
    let lines = "";
    for (const n of this.#segmentNumbers()) {
      if (n > cp.segment) break;
      for (const l of this.#linesFrom(n, 0)) {
        if (n === cp.segment && l.offset >= cp.offset) break;
        const record = parseLine(l.line, n, l.offset);
        if (record.batch === batch) lines += `${record.requestSha256} ${record.serial}\n`;
      }
    }
    const path = this.#batchPath(batch);
    writeFileSync(`${path}.rebuild`, lines);
    renameSync(`${path}.rebuild`, path);
  }

  /**
   * Build the derived index from the segments (a restored home comes without one), so that the
   * first lookup after a restore is as cheap as any other. Caller holds the home lock.
   */
  async rebuildIndex(): Promise<void> {
    mkdirSync(this.#segments, { recursive: true });
    mkdirSync(this.#index, { recursive: true });
    await this.#recover();
  }

  async putCertificate(record: CertificateRecord): Promise<void> {
    await this.putCertificates([record]);
  }

  /** Append records durably (one fsync for the group). Caller holds the home lock. */
  async putCertificates(records: readonly CertificateRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.settle();
    let segment = await this.#recover(); // after this the index covers every record: lookups need only the index
    const seen = new Set<string>();
    for (const r of records) {
      if (seen.has(r.serial)) throw new TrustlineError("STORE_CONFLICT", `serial ${r.serial} appears twice in one write`, { details: { serial: r.serial } });
      seen.add(r.serial);
    }
    const duplicate = this.#firstIndexed(records.map((r) => r.serial));
    if (duplicate !== undefined) throw new TrustlineError("STORE_CONFLICT", `serial ${duplicate} is already in the inventory`, { details: { serial: duplicate } });
    const lines = records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`, "utf8"));
    let path = this.#segmentPath(segment);
    let size = existsSync(path) ? statSync(path).size : 0;
    if (size > SEGMENT_LIMIT) {
      segment += 1;
      path = this.#segmentPath(segment);
      size = 0;
    }
    const created = size === 0 && !existsSync(path);
    const fd = openSync(path, "a");
    const entries: IndexedRecord[] = [];
    try {
      const data = Buffer.concat(lines);
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written, data.length - written);
      await fsyncInBackground(fd);
      let offset = size;
      records.forEach((r, i) => {
        entries.push(indexed(r, { segment, offset, length: lines[i]!.length }));
        offset += lines[i]!.length;
      });
    } finally {
      closeSync(fd);
    }
    if (created) fsyncDirectory(this.#segments);
    // The index's slots are written now (lookups find the records at once); its sync and checkpoint
    // finish while the caller writes its audit entries, and before the home's lock is released.
    this.#indexing = this.#appendIndex(entries);
  }

  /**
   * Wait for the index update of the last write. Called before the home's lock is released, and
   * before the next write. A failure is not the write's: the records are durable, the checkpoint
   * was not moved, and the next writer indexes them again.
   */
  async settle(): Promise<void> {
    const indexing = this.#indexing;
    this.#indexing = undefined;
    await indexing?.catch(() => undefined);
  }

  /**
   * Revocation events: `revocations.jsonl`, append-only, fsync'd. Caller holds the home lock.
   * A torn last line (crash mid-append) is cut before appending.
   */
  async revoke(entries: readonly RevocationEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Never re-create a lost log by appending to it: earlier revocations would silently vanish.
    if (!existsSync(this.#revocations)) this.#eventsSince(0);
    const fd = openSync(this.#revocations, "a+");
    try {
      const size = fstatSync(fd).size;
      if (size > 0) {
        const last = Buffer.alloc(1);
        readSync(fd, last, 0, 1, size - 1);
        if (last[0] !== 10) {
          const text = readFileSync(this.#revocations, "utf8");
          ftruncateSync(fd, Buffer.byteLength(text.slice(0, text.lastIndexOf("\n") + 1)));
        }
      }
      const data = Buffer.from(entries.map((e) => `${JSON.stringify(e)}\n`).join(""), "utf8");
      let written = 0;
      while (written < data.length) written += writeSync(fd, data, written, data.length - written);
      await fsyncInBackground(fd);
    } finally {
      closeSync(fd);
    }
  }

  /** Events appended since byte `offset` (complete lines only): lets a responder follow the log. */
  async revocationEventsSince(offset: number): Promise<{ entries: RevocationEntry[]; next: number }> {
    return this.#eventsSince(offset);
  }

  /** The log's length up to its last complete line (a torn tail is no event yet): what `next` would say. */
  async revocationPosition(): Promise<number> {
    if (!existsSync(this.#revocations)) return this.#eventsSince(0).next; // throws: the log is missing
    const fd = openSync(this.#revocations, "r");
    try {
      const size = fstatSync(fd).size;
      if (size === 0) return 0;
      const last = Buffer.alloc(1);
      readSync(fd, last, 0, 1, size - 1);
      if (last[0] === 10) return size;
      const buf = Buffer.alloc(size);
      readSync(fd, buf, 0, size, 0);
      return buf.lastIndexOf(10) + 1;
    } finally {
      closeSync(fd);
    }
  }

  #eventsSince(offset: number): { entries: RevocationEntry[]; next: number } {
    if (!existsSync(this.#revocations)) {
      throw corrupt(
        `the revocation log ${this.#revocations} is missing, so no revocation can be trusted; restore it from a backup (a home made before Trustline created it at init and never revoked anything may create it empty)`,
        this.#revocations,
      );
    }
    const size = statSync(this.#revocations).size;
    if (size < offset) offset = 0; // replaced: start over
    if (size === offset) return { entries: [], next: offset };
    const fd = openSync(this.#revocations, "r");
    try {
      const buf = Buffer.alloc(size - offset);
      readSync(fd, buf, 0, buf.length, offset);
      const end = buf.lastIndexOf(10) + 1;
      const lines = end === 0 ? [] : buf.toString("utf8", 0, end).slice(0, -1).split("\n");
      const entries = lines.map((line, i) => parseRevocationLine(line, this.#revocations, offset === 0 ? `line ${i + 1}` : `line ${i + 1} after byte ${offset}`));
      return { entries, next: offset + end };
    } finally {
      closeSync(fd);
    }
  }

  async revocations(ca?: string): Promise<Map<string, RevocationEntry>> {
    return foldRevocations(this.#eventsSince(0).entries, ca);
  }

  async *query(filter: CertificateFilter, now: Date): AsyncIterable<CertificateRecord> {
    const revoked = await this.revocations();
    if (filter.batch !== undefined) {
      // A batch is a small slice of a large inventory: read it through its index.
      for (const serial of new Set((await this.batchRequests(filter.batch)).values())) {
        const record = await this.getCertificate(serial);
        if (record && matches(record, filter, now, revoked.get(record.serial))) yield record;
      }
      return;
    }
    for (const n of this.#segmentNumbers()) {
      const input = createReadStream(this.#segmentPath(n), { encoding: "utf8", highWaterMark: 1 << 20 });
      const lines = createInterface({ input, crlfDelay: Infinity });
      let offset = 0;
      let pending: string | undefined;
      for await (const line of lines) {
        // A line without its newline at the very end is a torn write: skip it (readline cannot tell us,
        // so parse failures on the final line are ignored and any other is corruption).
        if (pending !== undefined) {
          const record = parseLine(pending, n, offset);
          if (matches(record, filter, now, revoked.get(record.serial))) yield record;
          offset += Buffer.byteLength(pending) + 1;
        }
        pending = line;
      }
      if (pending !== undefined && pending.length > 0) {
        let record: CertificateRecord | undefined;
        try {
          record = parseLine(pending, n, offset);
        } catch {
          record = undefined; // the torn end of a write that never finished: never acknowledged
        }
        if (record && matches(record, filter, now, revoked.get(record.serial))) yield record;
      }
    }
  }
}

/** Current revocations from the event log: the last event per serial wins; removeFromCRL releases. */
export function foldRevocations(events: readonly RevocationEntry[], ca?: string, into = new Map<string, RevocationEntry>()): Map<string, RevocationEntry> {
  for (const e of events) {
    if (ca !== undefined && e.ca !== ca) continue;
    if (e.reason === "removeFromCRL") into.delete(e.serial);
    else into.set(e.serial, e);
  }
  return into;
}

function corrupt(message: string, file: string): TrustlineError {
  return new TrustlineError("STORE_CORRUPT", `${message}; \`trustline store check\` compares the store with the audit trail`, { details: { file } });
}

const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0;

/**
 * One revocation event. A damaged line is STORE_CORRUPT naming the file and line, never a wrong
 * answer: a revocation silently dropped would un-revoke a certificate.
 */
function parseRevocationLine(line: string, path: string, where: string): RevocationEntry {
  let e: Partial<RevocationEntry> | null;
  try {
    e = JSON.parse(line) as Partial<RevocationEntry> | null;
  } catch {
    e = null;
  }
  if (e === null || typeof e !== "object" || !isText(e.serial) || !/^[0-9a-f]+$/.test(e.serial) || !isText(e.ca) || !isText(e.reason) || !isText(e.revokedAt) || !isText(e.notAfter)) {
    throw new TrustlineError("STORE_CORRUPT", `the revocation log ${path} is damaged at ${where}: it is not a revocation event; restore the file from a backup (\`trustline store check\` lists what the audit trail says is missing)`, {
      details: { file: path, where },
    });
  }
  return e as RevocationEntry;
}

const RECORD_TEXT_FIELDS = ["ca", "profile", "subject", "commonName", "notBefore", "notAfter", "der", "requestSha256", "operator", "station", "issuedAt"] as const;

/** One inventory record: valid JSON with the fields every reader relies on, or STORE_CORRUPT naming where. */
function parseLine(line: string, segment: number, offset: number): CertificateRecord {
  let record: Record<string, unknown> | null = null;
  let cause: unknown;
  try {
    record = JSON.parse(line) as Record<string, unknown> | null;
  } catch (e) {
    cause = e;
  }
  const whole =
    record !== null &&
    typeof record === "object" &&
    typeof record.serial === "string" &&
    /^[0-9a-f]{1,40}$/.test(record.serial) &&
    RECORD_TEXT_FIELDS.every((f) => typeof record![f] === "string") &&
    Array.isArray(record.policyOids) &&
    (record.batch === null || typeof record.batch === "string");
  if (!whole) {
    throw new TrustlineError("STORE_CORRUPT", `the inventory is damaged: segment ${segment}, byte ${offset} is not a certificate record`, { ...(cause ? { cause } : {}), details: { segment, offset } });
  }
  return record as unknown as CertificateRecord;
}
