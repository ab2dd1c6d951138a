/** `trustline backup`, `trustline backup verify` and `trustline restore`: encrypted archives of a home. */
import { Command } from "commander";
import { backupHome, type BackupSummary, isDatabaseUrl, restoreHome, restoreHomeToDatabase, TrustlineError, verifyBackup } from "../../ca/index.js";
import { addGlobalOptions, emit, examples, globals, homeOptions, openHome } from "../context.js";
import { backupPassphrase } from "../passphrase.js";

const size = (bytes: number) => (bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : bytes >= 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`);

function describe(s: BackupSummary): string[] {
  return [
    `  archive SHA-256 ${s.sha256}, ${size(s.size)}`,
    `  "${s.organization}", taken ${s.createdAt} from ${s.source === "postgres" ? "a home in PostgreSQL" : "an embedded home"}: ${s.files} files, ${size(s.contentBytes)}`,
    `  ${s.counts.certificates} certificates, ${s.counts.revocationEvents} revocation events, ${s.counts.auditEntries} audit entries${s.auditHead ? ` (chain head: entry ${s.auditHead.seq}, ${s.auditHead.hash})` : ""}`,
  ];
}

const PASSPHRASE_OPTION = ["--backup-passphrase-file <file>", "file holding the backup passphrase (or env TRUSTLINE_BACKUP_PASSPHRASE, or a prompt); never the CA passphrase"] as const;

export function backupCommand(): Command {
  const backup = new Command("backup")
    .description("write one encrypted, authenticated archive of the home (admin): state, encrypted keys, inventory, revocations, audit trail")
    .option("--out <file>", "the archive to write (refused if it exists)")
    .option(...PASSPHRASE_OPTION)
    .addHelpText(
      "after",
      examples(
        "trustline backup --out /backups/pki-$(date +%F).tlbk --backup-passphrase-file /run/secrets/backup-pass",
        "TRUSTLINE_BACKUP_PASSPHRASE=... trustline backup --out /backups/pki-$(date +%F).tlbk --json   # from a scheduled job",
        "trustline backup verify /backups/pki-2026-12-05.tlbk --backup-passphrase-file /run/secrets/backup-pass",
      ),
    )
    .action(async (opts: { out?: string; backupPassphraseFile?: string }, command: Command) => {
      if (!opts.out) throw new TrustlineError("USAGE", "backup needs --out <file> (or: trustline backup verify <file>)");
      const home = await openHome(command, true);
      const passphrase = await backupPassphrase({ ...(opts.backupPassphraseFile ? { file: opts.backupPassphraseFile } : {}), confirm: true });
      const s = await backupHome(home, { out: opts.out, secret: { passphrase } });
      emit(command, s, () => [`Backup written: ${s.archive}`, ...describe(s), "  Check each copy with `trustline backup verify`; keep the backup passphrase apart from the archives."].join("\n"));
    });
  // `backup` has a subcommand, so the program does not give it the global options: add them here.
  addGlobalOptions(backup);

  backup
    .command("verify")
    .argument("<file>", "the archive")
    .description("decrypt and check a whole archive without writing anything: every chunk, every file's SHA-256, the counts and the audit chain head; exit 0 only if intact")
    .option(...PASSPHRASE_OPTION)
    .addHelpText(
      "after",
      examples(
        "trustline backup verify /backups/pki-2026-12-05.tlbk --backup-passphrase-file /run/secrets/backup-pass",
        "trustline backup verify offsite/pki-2026-12-05.tlbk --json | jq .counts",
      ),
    )
    .action(async (file: string, opts: { backupPassphraseFile?: string }, command: Command) => {
      const passphrase = await backupPassphrase(opts.backupPassphraseFile ? { file: opts.backupPassphraseFile } : {});
      const s = await verifyBackup(file, { passphrase });
      emit(command, s, () => [`Backup intact: ${s.archive}`, ...describe(s)].join("\n"));
    });
  return backup;
}

export function restoreCommand(): Command {
  return new Command("restore")
    .description("restore an archive (of an embedded home or one in PostgreSQL) into a new home folder or an empty PostgreSQL database, all or nothing; an admin of the restored home signs in, with its CA passphrase")
    .requiredOption("--from <file>", "the archive")
    .requiredOption("--to <home|url>", "the home to create (absent or an empty folder), or an empty PostgreSQL database (migrated first)")
    .option("--out-home <dir>", "with a database destination: the station folder to write (store.json and the archive's key files); needed when the archive holds key files")
    .option("--db-password-file <file>", "a file holding the database password (else TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE)")
    .option(...PASSPHRASE_OPTION)
    .addHelpText(
      "after",
      examples(
        "trustline restore --from pki-2026-12-05.tlbk --to /srv/pki --backup-passphrase-file /run/secrets/backup-pass \\\n      --passphrase-file /run/secrets/ca-pass --operator alice --totp 123456",
        "trustline restore --from pki-2026-12-05.tlbk --to /srv/pki --token-file /run/secrets/trustline-admin.token --json",
        "trustline restore --from pki-2026-12-05.tlbk --to postgres://trustline@db2.dr:5432/ca --out-home /srv/pki-dr \\\n      --db-password-file /etc/trustline/db-password --backup-passphrase-file /run/secrets/backup-pass --token-file /run/secrets/trustline-admin.token",
      ),
    )
    .action(async (opts: { from: string; to: string; outHome?: string; dbPasswordFile?: string; backupPassphraseFile?: string }, command: Command) => {
      const toDatabase = isDatabaseUrl(opts.to);
      if (opts.outHome && !toDatabase) throw new TrustlineError("USAGE", "--out-home is for a database destination (--to postgres://...): a folder destination is itself the new home");
      if (opts.dbPasswordFile && !toDatabase) throw new TrustlineError("USAGE", "--db-password-file is for a database destination (--to postgres://...)");
      const passphrase = await backupPassphrase(opts.backupPassphraseFile ? { file: opts.backupPassphraseFile } : {});
      // The restored home is the one signed in to (a session file of that home is found by its path).
      const { home: _home, ...options } = homeOptions({ ...globals(command), home: toDatabase ? (opts.outHome ?? opts.to) : opts.to }, true);
      const signedIn = (r: { audit: { entries: number; signedThrough: number }; restoredBy: string }) =>
        `  audit log intact: ${r.audit.entries} entries, head signed through entry ${r.audit.signedThrough} (store.restore by ${r.restoredBy})`;
      if (toDatabase) {
        const r = await restoreHomeToDatabase(opts.from, {
          ...options,
          url: opts.to,
          secret: { passphrase },
          ...(opts.outHome ? { outHome: opts.outHome } : {}),
          ...(opts.dbPasswordFile ? { passwordFile: opts.dbPasswordFile } : {}),
        });
        emit(command, r, () =>
          [
            `Restored into the database ${r.database} from ${r.archive}`,
            ...describe(r),
            signedIn(r),
            "  checked in the database: the same counts, audit verify intact",
            r.home ? `  station folder: ${r.home} (store.json${r.keysCopied ? " and the key files, still encrypted" : ""})` : "  no station folder written (--out-home): a station needs a store.json naming this database",
          ].join("\n"),
        );
        return;
      }
      const r = await restoreHome(opts.from, { ...options, to: opts.to, secret: { passphrase } });
      emit(command, r, () => [`Restored ${r.home} from ${r.archive}`, ...describe(r), signedIn(r)].join("\n"));
    });
}
