import { Command } from "commander";
import { readAuditLog, TrustlineError, verifyAuditLog } from "../../ca/index.js";
import { emit, examples, globals, openHome } from "../context.js";

export function auditCommand(): Command {
  const audit = new Command("audit").description("the hash-chained audit trail");

  audit
    .command("verify")
    .description("check every entry's hash and link, and the signed chain head; exit 0 only if intact")
    .addHelpText("after", examples("trustline audit verify", "trustline audit verify --json || page-the-security-team"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const verdict = await verifyAuditLog(home);
      if (!verdict.intact) {
        throw new TrustlineError("AUDIT_TAMPERED", `the audit log is NOT intact: first bad entry ${verdict.firstBad}: ${verdict.problem}`, { details: { ...verdict } });
      }
      emit(command, verdict, () =>
        `Audit log intact: ${verdict.entries} entries, chain head signed through entry ${verdict.signedThrough}${verdict.unsignedTail ? ` (${verdict.unsignedTail} later entries are chained but not yet under a signed head)` : ""}`,
      );
    });

  audit
    .command("log")
    .description("print audit entries (JSON lines with --json)")
    .option("--since <iso>", "only entries from this time on, e.g. 2026-11-01T00:00:00Z")
    .addHelpText("after", examples("trustline audit log --since 2026-11-01", "trustline audit log --json | jq 'select(.action==\"certificate.reject\")'"))
    .action(async (opts: { since?: string }, command: Command) => {
      let since: Date | undefined;
      if (opts.since !== undefined) {
        since = new Date(opts.since);
        if (Number.isNaN(since.getTime())) throw new TrustlineError("USAGE", `--since "${opts.since}" is not an ISO 8601 time`);
      }
      const home = await openHome(command, false);
      const json = globals(command).json;
      for await (const e of readAuditLog(home, since ? { since } : {})) {
        if (json) process.stdout.write(`${JSON.stringify(e)}\n`);
        else {
          const what = [e.ca && `ca ${e.ca}`, e.serial && `serial ${e.serial}`, e.subject && `subject ${e.subject}`, e.batch && `batch ${e.batch}`, e.requestSha256 && `request ${e.requestSha256.slice(0, 16)}…`, e.reason && `reason: ${e.reason}`]
            .filter(Boolean)
            .join(", ");
          process.stdout.write(`#${e.seq} ${e.time} ${e.action} ${e.outcome} by ${e.operator}@${e.station}${what ? ` — ${what}` : ""}\n`);
        }
      }
    });

  return audit;
}
