/**
 * Where the CA passphrase comes from, in order: --passphrase-file, TRUSTLINE_PASSPHRASE, a prompt
 * on a terminal. Never from argv: command lines end up in shell history and `ps` output.
 */
import { readFileSync } from "node:fs";
import { type ErrorCode, TrustlineError, type PassphraseSource } from "../ca/index.js";

/**
 * A secret kept in a file (a passphrase, a connection string): one line, whose trailing newline
 * (from `echo` or an editor) is not part of it. Unreadable: `code`, or by errno NOT_FOUND/INPUT_INVALID.
 */
export function readSecretFile(path: string, what: string, code?: ErrorCode): string {
  try {
    return readFileSync(path, "utf8").replace(/\r?\n$/, "");
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code ?? (errno === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID"), `cannot read the ${what} file ${path}: ${errno === "ENOENT" ? "no such file" : (errno ?? (e as Error).message)}`);
  }
}

export async function prompt(question: string): Promise<string> {
  const { stdin, stderr } = process;
  return new Promise((resolve, reject) => {
    stderr.write(question);
    let value = "";
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (err?: Error) => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.removeListener("data", onData);
      stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new TrustlineError("PASSPHRASE_REQUIRED", "passphrase entry interrupted"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

export function passphraseSource(options: { passphraseFile?: string; interactive: boolean; confirm?: boolean }): PassphraseSource {
  return async () => {
    if (options.passphraseFile) return readSecretFile(options.passphraseFile, "passphrase", "KEY_UNAVAILABLE");
    const env = process.env.TRUSTLINE_PASSPHRASE;
    if (env !== undefined && env.length > 0) return env;
    if (options.interactive && process.stdin.isTTY && process.stderr.isTTY) {
      const first = await prompt("CA passphrase: ");
      if (options.confirm) {
        const again = await prompt("Repeat passphrase: ");
        if (again !== first) throw new TrustlineError("USAGE", "the two passphrases differ");
      }
      return first;
    }
    throw new TrustlineError(
      "PASSPHRASE_REQUIRED",
      "this command opens a CA key: give the passphrase with --passphrase-file <file> or the TRUSTLINE_PASSPHRASE environment variable (or run it on a terminal to be asked)",
    );
  };
}

/**
 * The backup passphrase, in order: --backup-passphrase-file, TRUSTLINE_BACKUP_PASSPHRASE, a prompt
 * on a terminal (asked twice when making an archive). Never from argv.
 */
export async function backupPassphrase(options: { file?: string; confirm?: boolean }): Promise<string> {
  if (options.file) return readSecretFile(options.file, "backup passphrase", "KEY_UNAVAILABLE");
  const env = process.env.TRUSTLINE_BACKUP_PASSPHRASE;
  if (env !== undefined && env.length > 0) return env;
  if (process.stdin.isTTY && process.stderr.isTTY) {
    const first = await prompt("Backup passphrase: ");
    if (options.confirm && (await prompt("Repeat backup passphrase: ")) !== first) throw new TrustlineError("USAGE", "the two passphrases differ");
    return first;
  }
  throw new TrustlineError("PASSPHRASE_REQUIRED", "a backup archive is encrypted: give its passphrase with --backup-passphrase-file <file> or the TRUSTLINE_BACKUP_PASSPHRASE environment variable (or run on a terminal to be asked)");
}
