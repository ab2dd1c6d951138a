import { Command } from "commander";
import { reportAuditTampering } from "../../ca/index.js";
import {
  auditCheckpoint,
  dersOf,
  certifyAuditKey,
  parseAuditCheckpoint,
  parseFingerprint,
  readAuditLog,
  type RootPin,
  TrustlineError,
  verifyAuditLog,
} from "../../ca/index.js";
import { emit, examples, globals, openHome } from "../context.js";
import { readInput, writeOutput } from "../files.js";

/** --root: a certificate file (PEM or DER), or the SHA-256 fingerprint of the root certificate. */
function rootPin(value: string | undefined): RootPin | undefined {
  if (value === undefined) return undefined;
  const fingerprint = parseFingerprint(value);
  if (fingerprint) return { sha256: fingerprint };
  let der: Uint8Array | undefined;
  try {
    der = dersOf(readInput(value, "root certificate"), "CERTIFICATE")[0];
  } catch {
    der = undefined;
  }
  if (!der) throw new TrustlineError("INPUT_INVALID", `--root ${value} is neither a certificate file (PEM or DER) nor a SHA-256 fingerprint (64 hex digits)`);
  return { certificate: der };
}

export function auditCommand(): Command {
  const audit = new Command("audit").description("the hash-chained audit trail");

  audit
    .command("verify")
    .description("check every entry's hash and link, the signed chain head under an audit key the root certified, and every checkpoint; exit 0 only if intact")
    .option("--root <root.pem|sha256>", "the root you trust, from outside the home: its certificate file or SHA-256 fingerprint (without it, the root is taken from the home)")
    .option("--checkpoint <file...>", "checkpoints kept outside the home (`audit checkpoint --out`): each must be in the log at its sequence number")
    .addHelpText(
      "after",
      examples(
        "trustline audit verify --root /secure/acme-root.pem --checkpoint /secure/audit-2026-11.json",
        "trustline audit verify --root 3f:9a:...:c2        # the root's SHA-256 fingerprint",
        "trustline audit verify --json || page-the-security-team",
      ),
    )
    .action(async (opts: { root?: string; checkpoint?: string[] }, command: Command) => {
      const root = rootPin(opts.root);
      const checkpoints = (opts.checkpoint ?? []).map((f) => parseAuditCheckpoint(Buffer.from(readInput(f, "checkpoint")).toString("utf8"), f));
      const home = await openHome(command, false);
      const report = await verifyAuditLog(home, { ...(root ? { root } : {}), checkpoints });
      if (!report.intact) {
        await reportAuditTampering(home, { firstBad: report.firstBad, problem: report.problem ?? "not intact" });
        throw new TrustlineError("AUDIT_TAMPERED", `the audit log is NOT intact: ${report.firstBad > 0 ? `first bad entry ${report.firstBad}: ` : ""}${report.problem}`, { details: { ...report } });
      }
      emit(command, report, () =>
        [
          `Audit log intact: ${report.entries} entries, chain head signed through entry ${report.signedThrough}${report.unsignedTail ? ` (${report.unsignedTail} later entries are chained but not yet under a signed head)` : ""}`,
          report.auditKey.certified ? `Audit key certified by the root (audit-signer certificate ${report.auditKey.serial})` : "WARNING: the audit key is not certified by the root (run `trustline audit certify`): the head proves nothing against someone who can write the home",
          report.rootSource === "pinned"
            ? `Root pinned by you: SHA-256 ${report.rootSha256}`
            : `Root taken from the home (SHA-256 ${report.rootSha256}): pin it with --root to rule out a rewritten home`,
          report.checkpoints > 0 ? `${report.checkpoints} checkpoint(s) found in the log` : "No checkpoint given: a rollback to an older copy of the log would not be detected",
        ].join("\n"),
      );
    });

  audit
    .command("checkpoint")
    .description("write the current signed chain head (with the audit key's certificate) for auditors to keep outside the home")
    .requiredOption("--out <file>", "where to write the checkpoint (JSON)")
    .option("--root <root.pem|sha256>", "verify against this root before taking the checkpoint")
    .option("--force", "overwrite an existing file")
    .addHelpText("after", examples("trustline audit checkpoint --out /secure/audit-$(date +%F).json"))
    .action(async (opts: { out: string; root?: string; force?: boolean }, command: Command) => {
      const root = rootPin(opts.root);
      const home = await openHome(command, false);
      const checkpoint = await auditCheckpoint(home, root ? { root } : {});
      writeOutput(opts.out, `${JSON.stringify(checkpoint, null, 2)}\n`, { force: opts.force === true });
      emit(command, { out: opts.out, seq: checkpoint.seq, hash: checkpoint.hash, time: checkpoint.time }, () => `Checkpoint of entry ${checkpoint.seq} (${checkpoint.time}) written to ${opts.out}: keep it outside the home`);
    });

  audit
    .command("certify")
    .description("certify the home's audit key by the root (homes made before audit keys were certified); needs the passphrase")
    .addHelpText("after", examples("trustline --passphrase-file /secure/pass audit certify"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, true);
      const done = await certifyAuditKey(home);
      emit(command, done, () => `Audit key certified by the root: audit-signer certificate ${done.serial}, valid until ${done.notAfter}`);
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
