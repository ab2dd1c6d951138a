/**
 * The certificate inventory and revocation events in PostgreSQL: the same `Store` contract as the
 * embedded FileInventory (test/store/store-contract.ts runs one suite on both), for plants where
 * several stations share one CA. The database does the concurrency: a serial is unique by primary
 * key and a request once per batch by a unique index, so stations issuing at once can neither
 * duplicate nor lose a record; a group of records is one INSERT in one transaction.
 *
 * Each record is kept as the JSON the embedded store writes (json, not jsonb: it reads back as
 * written), with the columns filters use beside it. `seq` keeps the order of issue, which reads
 * follow (as the embedded store's segments do) and which pages a large read without OFFSET.
 */
import { TrustlineError } from "../../errors.js";
import { foldRevocations } from "../file-inventory.js";
import type { BatchCursor, Inventory } from "../home-storage.js";
import { type CertificateFilter, type CertificateRecord, matches, type RevocationEntry } from "../types.js";
import { type Database, databaseError } from "./connect.js";

/** The NOTIFY channel a revocation is announced on (its payload: the last event id). */
export const REVOCATIONS_CHANNEL = "trustline_revocations";

/** Rows one page of a read holds: bounded memory whatever the inventory's size. */
const PAGE = 5_000;

/** How far a reader got in a batch's requests (the last seq seen). */
export interface SeqCursor {
  readonly seq: string;
}

function conflict(e: unknown, where: string): TrustlineError {
  const err = e as { code?: string; constraint?: string; detail?: string };
  if (err.code === "23505") {
    const serial = /\(serial\)=\(([0-9a-f]+)\)/.exec(err.detail ?? "")?.[1];
    if (err.constraint === "certificates_batch_request") {
      return new TrustlineError("STORE_CONFLICT", `a request of this write was already issued in its batch (by another station?): ${err.detail ?? ""}`, { details: { constraint: err.constraint } });
    }
    return new TrustlineError("STORE_CONFLICT", `serial ${serial ?? "(one of this write)"} is already in the inventory`, { details: { serial: serial ?? null } });
  }
  if (err.code === "23503") return new TrustlineError("NOT_FOUND", `a revocation names a serial the inventory does not hold: ${err.detail ?? ""}`);
  return databaseError(e, where);
}

export class PostgresInventory implements Inventory {
  constructor(readonly db: Database) {}

  async create(): Promise<void> {
    // The tables come with the schema (`trustline db migrate`).
  }

  async putCertificate(record: CertificateRecord): Promise<void> {
    await this.putCertificates([record]);
  }

  /** One statement, one transaction for the group: all of it is recorded, or none. */
  async putCertificates(records: readonly CertificateRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      await this.db.pool.query(
        `INSERT INTO certificates (serial, ca, profile, operator, station, batch, request_sha256, issued_at, not_after, record)
         SELECT r->>'serial', r->>'ca', r->>'profile', r->>'operator', r->>'station', r->>'batch', r->>'requestSha256', r->>'issuedAt', r->>'notAfter', r
         FROM json_array_elements($1::json) AS r`,
        [JSON.stringify(records)],
      );
    } catch (e) {
      throw conflict(e, this.db.where);
    }
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const r = await this.#query<{ record: CertificateRecord }>("SELECT record FROM certificates WHERE serial = $1", [serial]);
    return r.rows[0]?.record;
  }

  async *query(filter: CertificateFilter, now: Date): AsyncIterable<CertificateRecord> {
    const revoked = await this.revocations();
    // The selective filters run in the database; status and expiry (which need the revocations and
    // the clock) run here, through the same `matches` as the embedded store.
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (column: string, op: string, value: unknown) => {
      values.push(value);
      where.push(`${column} ${op} $${values.length}`);
    };
    if (filter.ca !== undefined) add("ca", "=", filter.ca);
    if (filter.profile !== undefined) add("profile", "=", filter.profile);
    if (filter.operator !== undefined) add("operator", "=", filter.operator);
    if (filter.station !== undefined) add("station", "=", filter.station);
    if (filter.batch !== undefined) add("batch", "=", filter.batch);
    if (filter.issuedFrom !== undefined) add("issued_at", ">=", filter.issuedFrom);
    if (filter.issuedTo !== undefined) add("issued_at", "<", filter.issuedTo);
    let after = "0";
    for (;;) {
      const page = await this.#query<{ seq: string; record: CertificateRecord }>(
        `SELECT seq, record FROM certificates WHERE seq > $${values.length + 1}${where.length ? ` AND ${where.join(" AND ")}` : ""} ORDER BY seq LIMIT ${PAGE}`,
        [...values, after],
      );
      for (const row of page.rows) if (matches(row.record, filter, now, revoked.get(row.record.serial))) yield row.record;
      if (page.rows.length < PAGE) return;
      after = page.rows[page.rows.length - 1]!.seq;
    }
  }

  async revoke(entries: readonly RevocationEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      // One statement: the notification goes out when the events commit (LISTEN/NOTIFY wakes responders).
      await this.db.pool.query(
        `WITH added AS (INSERT INTO revocation_events (serial, ca, event) SELECT e->>'serial', e->>'ca', e FROM json_array_elements($1::json) AS e RETURNING id)
         SELECT pg_notify('${REVOCATIONS_CHANNEL}', max(id)::text) FROM added`,
        [JSON.stringify(entries)],
      );
    } catch (e) {
      throw conflict(e, this.db.where);
    }
  }

  async revocations(ca?: string): Promise<Map<string, RevocationEntry>> {
    return foldRevocations((await this.revocationEventsSince(0, ca)).entries, ca);
  }

  /** Events recorded after position `since` (an event id; 0: all), and the position to ask from next. */
  async revocationEventsSince(since: number, ca?: string): Promise<{ entries: RevocationEntry[]; next: number }> {
    const r = await this.#query<{ id: string; event: RevocationEntry }>(
      `SELECT id, event FROM revocation_events WHERE id > $1${ca !== undefined ? " AND ca = $2" : ""} ORDER BY id`,
      ca !== undefined ? [since, ca] : [since],
    );
    return { entries: r.rows.map((row) => row.event), next: r.rows.length ? Number(r.rows[r.rows.length - 1]!.id) : since };
  }

  /**
   * The last event id. Revocations are recorded under the home's write lock, so no event with a
   * lower id can still be on its way when a lock holder reads this.
   */
  async revocationPosition(): Promise<number> {
    const r = await this.#query<{ id: string }>("SELECT coalesce(max(id), 0) AS id FROM revocation_events", []);
    return Number(r.rows[0]!.id);
  }

  /** Requests already issued in a batch: request SHA-256 -> serial (what makes a batch resumable). */
  async batchRequests(batch: string): Promise<Map<string, string>> {
    const requests = new Map<string, string>();
    await this.readBatchRequests(batch, undefined, (request, serial) => requests.set(request, serial));
    return requests;
  }

  /** The batch's requests recorded after `cursor`, handed to `add`; the cursor for the next call. */
  async readBatchRequests(batch: string, from: BatchCursor | undefined, add: (requestSha256: string, serial: string) => void): Promise<BatchCursor | undefined> {
    const cursor = from as SeqCursor | undefined;
    const r = await this.#query<{ seq: string; request_sha256: string; serial: string }>("SELECT seq, request_sha256, serial FROM certificates WHERE batch = $1 AND seq > $2 ORDER BY seq", [batch, cursor?.seq ?? "0"]);
    for (const row of r.rows) add(row.request_sha256, row.serial);
    return r.rows.length ? { seq: r.rows[r.rows.length - 1]!.seq } : cursor;
  }

  async #query<R extends object>(text: string, values: readonly unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.db.pool.query<R>(text, values as unknown[]);
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
  }
}
