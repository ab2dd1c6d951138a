/**
 * The audit log's lines and signed head in PostgreSQL. AuditLog (ca/audit/log.ts) keeps the chain
 * and checks it exactly as for the embedded store; this keeps each line as the exact text that
 * was hashed. The line's sequence number is the primary key: two writers that both believed they
 * appended entry N cannot both succeed, so there is one chain, never a fork (the home's write lock
 * serialises writers first; the key is the database's guarantee behind it).
 */
import { TrustlineError } from "../../errors.js";
import { type AuditEntry, type AuditHead, type AuditStorage, parseHead } from "../../audit/log.js";
import { type Database, databaseError } from "./connect.js";

/** Lines one page of a read holds. */
const PAGE = 5_000;

export class PostgresAuditStorage implements AuditStorage {
  constructor(readonly db: Database) {}

  async create(): Promise<void> {
    // The tables come with the schema (`trustline db migrate`).
  }

  async lastEntry(): Promise<AuditEntry | undefined> {
    const r = await this.#query<{ line: string }>("SELECT line FROM audit_entries ORDER BY seq DESC LIMIT 1", []);
    const line = r.rows[0]?.line;
    if (line === undefined) return undefined;
    try {
      return JSON.parse(line) as AuditEntry;
    } catch (e) {
      throw new TrustlineError("AUDIT_TAMPERED", `the last audit entry is not valid JSON; run "trustline audit verify"`, { cause: e });
    }
  }

  async appendLines(text: string): Promise<void> {
    const lines = text.split("\n").filter((l) => l.length > 0);
    const seqs = lines.map((l) => (JSON.parse(l) as AuditEntry).seq);
    try {
      await this.db.pool.query("INSERT INTO audit_entries (seq, line) SELECT * FROM unnest($1::bigint[], $2::text[])", [seqs, lines]);
    } catch (e) {
      if ((e as { code?: string }).code === "23505") {
        throw new TrustlineError("STORE_CONFLICT", "another writer appended to the audit log at the same time; nothing of this write was recorded, run the command again", { cause: e });
      }
      throw databaseError(e, this.db.where);
    }
  }

  async writeHead(head: AuditHead, linesDurable: Promise<void> = Promise.resolve()): Promise<void> {
    await linesDurable; // the head row never names lines the table does not hold
    await this.#query("INSERT INTO audit_head (id, head) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET head = EXCLUDED.head", [JSON.stringify(head)]);
  }

  async readHead(): Promise<AuditHead | undefined> {
    const r = await this.#query<{ head: string }>("SELECT head::text AS head FROM audit_head WHERE id = 1", []);
    try {
      return r.rows[0] ? parseHead(r.rows[0].head) : undefined;
    } catch {
      return undefined;
    }
  }

  async *entries(): AsyncIterable<{ line: number; text: string }> {
    let after = 0;
    let line = 0;
    for (;;) {
      const page = await this.#query<{ seq: string; line: string }>(`SELECT seq, line FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`, [after]);
      for (const row of page.rows) yield { line: ++line, text: row.line };
      if (page.rows.length < PAGE) return;
      after = Number(page.rows[page.rows.length - 1]!.seq);
    }
  }

  async #query<R extends object>(text: string, values: readonly unknown[]): Promise<{ rows: R[] }> {
    try {
      return await this.db.pool.query<R>(text, values as unknown[]);
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
  }
}
