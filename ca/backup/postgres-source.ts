/**
 * A home in PostgreSQL as a backup source: one snapshot of the database, read while stations go
 * on issuing, written in the embedded home's layout so that one restore path serves both kinds of
 * archive (file-home-layout.ts):
 *
 *   state.json                          home_state, as the embedded store writes it
 *   keys/...                            the home folder's key files, still encrypted
 *   inventory/segments/00000001.jsonl   certificate records in order of issue (seq), one JSON a line,
 *                                       the text stored, cut into segments as the embedded store cuts them
 *   inventory/revocations.jsonl         revocation events in order (id)
 *   audit/log.jsonl, audit/head.json    the exact audit lines in order (seq), and the signed head
 *
 * store.json is not archived: where a restore puts the data is the restore's to decide. Nor is the
 * crls table (each CA's latest CRL): derived data, issued again by `serve` after a restore.
 *
 * The snapshot is one REPEATABLE READ, READ ONLY transaction on one connection, kept open for both
 * of the archive writer's passes (digest, then encrypt) and for the sizing queries before them:
 * every query of a transaction reads the same snapshot, so the two passes cannot differ. Exporting
 * the snapshot (pg_export_snapshot) would buy nothing here: the exporting transaction must stay open
 * while others import it, and one reader needs no second connection. The transaction takes its
 * snapshot at its first query, which runs under the home's write lock, so no write is half done in
 * it (a batch records a group's certificates, then their audit entries: a snapshot between the two
 * would hold certificates the trail never mentions). The lock is waited for in PostgreSQL's queue,
 * not polled, so a running batch lets the snapshot in at its next commit group instead of starving
 * it; it is held for the one query and the key files, then released, and the rest is read while
 * issuing continues. Writers never wait for the reader (MVCC); the open transaction only holds back
 * VACUUM for the length of the backup. Rows are read in pages by key (seq, id), never all at once.
 */
import type { PoolClient } from "pg";
import { TrustlineError } from "../errors.js";
import type { Home } from "../home.js";
import { SEGMENT_LIMIT } from "../store/file-inventory.js";
import { databaseError } from "../store/postgres/connect.js";
import { type PostgresHomeStorage, withQueuedHomeLock } from "../store/postgres/storage.js";
import type { BackupEntry, BackupSource } from "./archive-writer.js";
import { AUDIT_HEAD, AUDIT_LOG, KEYS_DIR, REVOCATION_LOG, SEGMENTS_DIR, STATE_FILE, summarizeFileHome } from "./file-home-layout.js";
import { keyFileNames, readHomeFile } from "./file-home-source.js";

/** Rows a page holds: a few MB of records, whatever the home's size. */
const PAGE = 2_000;
/** Keys and lengths only, when cutting the inventory into segments. */
const SIZING_PAGE = 20_000;

/** Lines of one table in key order: what a file of the archive is read from. */
interface Lines {
  /** SELECT <key> AS k, <text> AS line ... WHERE <key> > $1 AND <key> <= $2 ORDER BY <key> LIMIT n */
  readonly sql: string;
  /** Keys after `after` up to `last` (bigint, as text). */
  readonly after: string;
  readonly last: string;
  /** Bytes: every line's UTF-8 plus its newline. */
  readonly size: number;
}

const RECORDS = `SELECT seq AS k, record::text AS line FROM certificates WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT ${PAGE}`;
const EVENTS = `SELECT id AS k, event::text AS line FROM revocation_events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT ${PAGE}`;
const AUDIT_LINES = `SELECT seq AS k, line FROM audit_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT ${PAGE}`;

/** UTF-8 bytes of a text column plus its newline, whatever the server's encoding. */
const lineBytes = (text: string) => `octet_length(convert_to(${text}, 'UTF8')) + 1`;

export interface PostgresSnapshot {
  readonly source: BackupSource;
  /** End the snapshot's transaction and give its connection back (after the archive is written). */
  close(): Promise<void>;
}

async function* pagesOf(client: PoolClient, where: string, lines: Lines): AsyncIterable<Uint8Array> {
  let after = lines.after;
  for (;;) {
    if (BigInt(after) >= BigInt(lines.last)) return;
    const page = await client.query<{ k: string; line: string }>(lines.sql, [after, lines.last]).catch((e: unknown) => {
      throw databaseError(e, where);
    });
    if (page.rows.length === 0) return;
    yield Buffer.from(page.rows.map((r) => `${r.line}\n`).join(""), "utf8");
    after = page.rows[page.rows.length - 1]!.k;
  }
}

/** Cut the inventory into segments as the embedded store does: a new one once a segment is past SEGMENT_LIMIT. */
async function planSegments(client: PoolClient): Promise<Lines[]> {
  const segments: Lines[] = [];
  let current = { after: "0", last: "0", size: 0 };
  let after = "0";
  for (;;) {
    const page = await client.query<{ k: string; bytes: number }>(
      `SELECT seq AS k, ${lineBytes("record::text")} AS bytes FROM certificates WHERE seq > $1 ORDER BY seq LIMIT ${SIZING_PAGE}`,
      [after],
    );
    for (const row of page.rows) {
      if (current.size > SEGMENT_LIMIT) {
        segments.push({ sql: RECORDS, ...current });
        current = { after: current.last, last: current.last, size: 0 };
      }
      current.last = row.k;
      current.size += Number(row.bytes);
    }
    if (page.rows.length < SIZING_PAGE) break;
    after = page.rows[page.rows.length - 1]!.k;
  }
  // Even an empty inventory has its first segment, as an embedded home does once it holds a record.
  segments.push({ sql: RECORDS, ...current });
  return segments;
}

async function sizeOf(client: PoolClient, sql: string, table: string, key: string, text: string): Promise<Lines> {
  const r = await client.query<{ last: string | null; size: string | null }>(`SELECT max(${key})::text AS last, sum(${lineBytes(text)})::text AS size FROM ${table}`);
  return { sql, after: "0", last: r.rows[0]?.last ?? "0", size: Number(r.rows[0]?.size ?? 0) };
}

const segmentPath = (n: number) => `${SEGMENTS_DIR}/${String(n).padStart(8, "0")}.jsonl`;

/** Take the snapshot (its first read under the home's write lock) and return it as a source. */
export async function snapshotPostgresHome(home: Home, storage: PostgresHomeStorage): Promise<PostgresSnapshot> {
  const { db } = storage;
  const client = await db.pool.connect().catch((e: unknown) => {
    throw databaseError(e, db.where);
  });
  // A connection lost while checked out must fail the query in hand, not crash the process.
  const ignore = () => undefined;
  client.on("error", ignore);
  let released = false;
  const close = async () => {
    if (released) return;
    released = true;
    await client.query("ROLLBACK").catch(() => undefined); // read only: nothing to commit
    client.removeListener("error", ignore);
    // Destroyed, not pooled: nothing of this session (a lock whose release failed in an aborted
    // transaction, a setting) can outlive the backup on a connection someone else is handed.
    client.release(true);
  };
  try {
    const pinned = await withQueuedHomeLock(client, db.where, async () => {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const state = await client.query<{ state: string }>("SELECT state::text AS state FROM home_state WHERE id = 1");
      const keys = [];
      for (const name of await keyFileNames(home.dir)) keys.push(await readHomeFile(home, `${KEYS_DIR}/${name}`));
      return { state: state.rows[0]?.state, keys };
    });
    if (pinned.state === undefined) throw new TrustlineError("STORE_CORRUPT", `the database ${db.where} holds no home state: it cannot be backed up as a home`);
    const head = await client.query<{ head: string }>("SELECT head::text AS head FROM audit_head WHERE id = 1");
    if (!head.rows[0]) throw new TrustlineError("STORE_CORRUPT", `the database ${db.where} holds no signed audit head: the home is damaged and cannot be backed up whole; \`trustline audit verify\` says more`);
    // As the embedded store writes them: state.json pretty-printed, the head on one line.
    const state = JSON.parse(pinned.state) as { organization?: unknown };
    const stateBytes = Buffer.from(`${JSON.stringify(state, null, 2)}\n`, "utf8");
    const headBytes = Buffer.from(`${head.rows[0].head}\n`, "utf8");
    const segments = await planSegments(client);
    const revocations = await sizeOf(client, EVENTS, "revocation_events", "id", "event::text");
    const audit = await sizeOf(client, AUDIT_LINES, "audit_entries", "seq", "line");

    const source: BackupSource = {
      kind: "postgres",
      organization: typeof state.organization === "string" ? state.organization : home.state.organization,
      summarize: summarizeFileHome,
      async *entries(): AsyncIterable<BackupEntry> {
        yield { path: STATE_FILE, size: stateBytes.length, stream: [stateBytes] };
        for (const key of pinned.keys) yield { path: key.path, size: key.bytes.length, stream: [key.bytes] };
        for (const [i, segment] of segments.entries()) yield { path: segmentPath(i + 1), size: segment.size, stream: pagesOf(client, db.where, segment) };
        yield { path: REVOCATION_LOG, size: revocations.size, stream: pagesOf(client, db.where, revocations) };
        yield { path: AUDIT_LOG, size: audit.size, stream: pagesOf(client, db.where, audit) };
        yield { path: AUDIT_HEAD, size: headBytes.length, stream: [headBytes] };
      },
    };
    return { source, close };
  } catch (e) {
    await close();
    throw databaseError(e, db.where);
  }
}
