#!/usr/bin/env node
/** The `trustline` command: parse, call ca/, print, map errors to documented exit statuses. */
import { Command, CommanderError } from "commander";
import { isTrustlineError } from "../ca/index.js";
import { auditCommand } from "./commands/audit.js";
import { caCommand } from "./commands/ca.js";
import { certCommand } from "./commands/cert.js";
import { initCommand } from "./commands/init.js";
import { issueCommand } from "./commands/issue.js";
import { revokeCommand } from "./commands/revoke.js";
import { crlCommand } from "./commands/crl.js";
import { serveCommand } from "./commands/serve.js";
import { firmwareCommand } from "./commands/firmware.js";
import { dpsCommand } from "./commands/dps.js";
import { storeCommand } from "./commands/store.js";
import { loginCommand, logoutCommand, operatorCommand, sessionCommand } from "./commands/operator.js";
import { configCommand } from "./commands/config.js";
import { reportCommand } from "./commands/report.js";
import { dbCommand } from "./commands/db.js";
import { stationCommand } from "./commands/station.js";
import { backupCommand, restoreCommand } from "./commands/backup.js";
import { enrollCommand } from "./commands/enroll.js";
import { EXIT, EXIT_FOR_CODE } from "./exit-codes.js";
import { addGlobalOptions, closeOpenedHomes } from "./context.js";

const EXIT_HELP = `
Exit status:
  0  success
  1  a verification said no (audit verify found tampering, cert verify found no valid path)
  2  usage error
  3  input rejected (bad CSR, policy violation, unreadable file, unknown serial, refused by DPS,
     a damaged or altered backup archive)
  4  environment or state (wrong passphrase, locked or damaged home, existing output,
     Azure credentials refused, etag conflict, service unreachable, wrong backup passphrase)
  5  not allowed (sign-in refused: wrong, reused or stale code, expired session, locked operator;
     or the operator's roles do not allow the command)

Environment: TRUSTLINE_HOME, TRUSTLINE_OPERATOR, TRUSTLINE_STATION, TRUSTLINE_PASSPHRASE, TRUSTLINE_MAX_INPUT_SIZE,
TRUSTLINE_TOTP, TRUSTLINE_SESSION, TRUSTLINE_SESSION_FILE, TRUSTLINE_TOKEN_FILE, TRUSTLINE_BACKUP_PASSPHRASE.
`;

export function buildProgram(): Command {
  const program = new Command("trustline")
    .description("certificate authority for connected devices: device identities, firmware signers, traceability")
    .option("--home <dir>", "CA home directory (env TRUSTLINE_HOME, default ./pki)")
    .option("--json", "print one JSON document on stdout (errors too)")
    .option("--operator <id>", "who is acting (env TRUSTLINE_OPERATOR, default the OS user)")
    .option("--station <id>", "where (env TRUSTLINE_STATION)")
    .option("--passphrase-file <file>", "file holding the CA passphrase (or env TRUSTLINE_PASSPHRASE, or a prompt)")
    .option("--totp <code>", "sign in with the 6-digit code of your authenticator app (env TRUSTLINE_TOTP; asked on a terminal)")
    .option("--token-file <file>", "a service account's token file (env TRUSTLINE_TOKEN_FILE)")
    .option("--session-file <file>", "the shift session's token file written by `trustline login` (env TRUSTLINE_SESSION_FILE, or the token itself in TRUSTLINE_SESSION)")
    .option("--max-input-size <bytes>", "largest CSR file read, e.g. 64k (env TRUSTLINE_MAX_INPUT_SIZE, default 64 KiB)")
    .showHelpAfterError()
    .enablePositionalOptions()
    .addHelpText("after", EXIT_HELP);
  for (const c of [initCommand(), caCommand(), issueCommand(), certCommand(), revokeCommand(), crlCommand(), serveCommand(), firmwareCommand(), dpsCommand(), auditCommand(), storeCommand(), operatorCommand(), loginCommand(), logoutCommand(), sessionCommand(), configCommand(), reportCommand(), backupCommand(), restoreCommand(), dbCommand(), stationCommand(), enrollCommand()]) program.addCommand(c);
  const configure = (c: Command) => {
    c.exitOverride();
    c.configureOutput({ writeErr: (s) => process.stderr.write(s) });
    if (c.commands.length === 0 && c !== program) addGlobalOptions(c);
    else c.enablePositionalOptions();
    c.commands.forEach(configure);
  };
  configure(program);
  return program;
}

function wantsJson(argv: readonly string[]): boolean {
  return argv.includes("--json");
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    // A command may finish with a non-zero status of its own (a batch with refused requests).
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT.OK;
      if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: { code: "USAGE", message: e.message } })}\n`);
      return EXIT.USAGE;
    }
    if (isTrustlineError(e)) {
      if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: e.toJSON() }, null, 2)}\n`);
      else process.stderr.write(`trustline: ${e.message} [${e.code}]\n`);
      return EXIT_FOR_CODE[e.code];
    }
    const message = e instanceof Error ? e.message : String(e);
    if (wantsJson(argv)) process.stdout.write(`${JSON.stringify({ error: { code: "INTERNAL", message } })}\n`);
    process.stderr.write(`trustline: internal error: ${message}\n${e instanceof Error && process.env.TRUSTLINE_DEBUG ? `${e.stack}\n` : ""}`);
    return 70; // EX_SOFTWARE: a bug, not a user error
  } finally {
    await closeOpenedHomes();
  }
}

/**
 * A reader that closed the pipe (`trustline init --help | head`) is not a failure: stop writing and
 * finish quietly, with the command's own status (0 for help), never a stack trace. The command
 * itself runs to its end, so a closed pipe never leaves an operation half done.
 */
function quietWhenThePipeCloses(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") return;
    throw e;
  });
}
quietWhenThePipeCloses(process.stdout);
quietWhenThePipeCloses(process.stderr);

process.exitCode = await main(process.argv.slice(2));
