/** The audit entries of a home, read through the library (what `trustline audit log` prints). */
import { readAuditLog, type AuditEntry, type Home } from "../../ca/index.js";

export async function auditEntries(home: Home): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const e of readAuditLog(home)) out.push(e);
  return out;
}
