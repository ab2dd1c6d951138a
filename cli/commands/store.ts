import { Command } from "commander";
import { checkStore, copyHome } from "../../ca/index.js";
import { emit, examples, note, openHome } from "../context.js";
import { EXIT } from "../exit-codes.js";

export function storeCommand(): Command {
  const store = new Command("store").description("the certificate store: its integrity, and moving a home between stores");

  store
    .command("check")
    .description("compare the inventory and the revocation log with the audit trail: exit 0 when every issued certificate and revocation is there, 1 when something is missing")
    .addHelpText("after", examples("trustline store check", "trustline store check --json | jq .missingRevocations"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const report = await checkStore(home);
      emit(command, report, () =>
        [
          report.consistent ? "Store consistent with the audit trail" : "Store NOT consistent with the audit trail",
          `  ${report.auditEntries} audit entries: ${report.certificatesInTrail} certificates issued, ${report.revocationsInTrail} revoked or on hold`,
          ...report.missingCertificates.map((s) => `  missing certificate ${s} (issued per the audit trail, not in the inventory)`),
          ...report.missingRevocations.map((r) => `  missing revocation ${r.serial} (${r.reason} per the audit trail, not in the revocation log: it would read as not revoked)`),
          ...report.unrecordedRevocations.map((s) => `  revocation of ${s} is in the revocation log but not in the audit trail`),
          ...report.unreadable.map((m) => `  unreadable: ${m}`),
        ].join("\n"),
      );
      if (!report.consistent) process.exitCode = EXIT.VERIFICATION_FAILED;
    });

  store
    .command("copy")
    .description("copy a home's state, inventory, revocations and audit trail to another store (embedded folder <-> PostgreSQL), under the source's write lock, then check the copy: counts and audit verify")
    .requiredOption("--from <home|url>", "the source: a home folder, or a PostgreSQL URL holding a home")
    .requiredOption("--to <home|url>", "the destination: a new home folder (embedded), or an empty PostgreSQL database (migrated first)")
    .option("--out-home <dir>", "with a database destination: also write a station folder for it (store.json and the source's key files)")
    .option("--db-password-file <file>", "a file holding the database password (else TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE)")
    .addHelpText(
      "after",
      examples(
        "trustline store copy --from ./pki --to postgres://trustline@db.plant:5432/ca --out-home ./pki-shared --db-password-file /etc/trustline/db-password",
        "trustline store copy --from ./pki-shared --to ./pki-embedded",
      ),
    )
    .action(async (opts: { from: string; to: string; outHome?: string; dbPasswordFile?: string }, command: Command) => {
      const summary = await copyHome({
        from: opts.from,
        to: opts.to,
        ...(opts.outHome ? { outHome: opts.outHome } : {}),
        ...(opts.dbPasswordFile ? { passwordFile: opts.dbPasswordFile } : {}),
        progress: ({ certificates }) => {
          if (certificates % 100_000 === 0) note(command, `  ${certificates} certificates copied`);
        },
      });
      emit(command, summary, () =>
        [
          `Copied ${summary.from} -> ${summary.to}`,
          `  ${summary.certificates} certificates, ${summary.revocationEvents} revocation events, ${summary.auditEntries} audit entries (head ${summary.auditHead?.seq ?? "none"}); audit verify at the destination: intact`,
          summary.keysCopied ? "  key files copied (still encrypted)" : "  no key files copied (keys in a vault or on a token, or the source is a database: copy a station's keys/ folder yourself)",
          summary.outHome ? `  station folder for the database: ${summary.outHome}` : "",
        ]
          .filter(Boolean)
          .join("\n"),
      );
    });

  return store;
}
