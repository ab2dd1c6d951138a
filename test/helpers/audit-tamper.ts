/**
 * Change one stored audit entry's text behind the CA's back, whichever store the home uses (the
 * log file's line, or the row in PostgreSQL): what someone with write access to the store could do.
 * Returns a function that puts the original back.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Home } from "../../ca/index.js";
import type { PostgresAuditStorage } from "../../ca/store/postgres/audit-storage.js";

export async function editAuditEntry(home: Home, seq: number, change: (line: string) => string): Promise<() => Promise<void>> {
  if (home.storage.kind === "postgres") {
    const db = (home.storage.audit as PostgresAuditStorage).db;
    const original = (await db.pool.query<{ line: string }>("SELECT line FROM audit_entries WHERE seq = $1", [seq])).rows[0]!.line;
    await db.pool.query("UPDATE audit_entries SET line = $2 WHERE seq = $1", [seq, change(original)]);
    return async () => void (await db.pool.query("UPDATE audit_entries SET line = $2 WHERE seq = $1", [seq, original]));
  }
  const logFile = join(home.dir, "audit", "log.jsonl");
  const pristine = readFileSync(logFile, "utf8");
  const lines = pristine.split("\n");
  lines[seq - 1] = change(lines[seq - 1]!);
  writeFileSync(logFile, lines.join("\n"));
  return async () => writeFileSync(logFile, pristine);
}
