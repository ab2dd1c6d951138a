/**
 * A tampered audit log is a security event even though whoever found it only read: it is
 * recorded (when the log still takes an entry) and sent to the webhook at once.
 */
import type { Home } from "../home.js";

export async function reportAuditTampering(home: Home, finding: { firstBad: number; problem: string }): Promise<void> {
  const details = { firstBad: finding.firstBad, problem: finding.problem };
  home.securityEvent("audit.verify-failed", details);
  try {
    await home.transaction(() => home.record([{ action: "audit.verify-failed", outcome: "failed", ...home.who, reason: finding.problem.slice(0, 500), details: { firstBad: finding.firstBad } }], { sign: false }));
  } catch {
    // A log too damaged to take an entry: the webhook and the command's own error still say it.
  }
}
