/**
 * Where a command's sign-in comes from, in order: a TOTP code (--totp, TRUSTLINE_TOTP) for the
 * --operator; a service account's token file (--token-file, TRUSTLINE_TOKEN_FILE); a shift
 * session (TRUSTLINE_SESSION, --session-file, TRUSTLINE_SESSION_FILE, or this station's session
 * file for the home, written by `trustline login`); else a prompt for a code on a terminal.
 * Tokens are read from files or the environment, never from argv.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { type Credential, TrustlineError } from "../ca/index.js";
import { writeFileAtomic } from "../ca/store/atomic.js";
import { prompt } from "./passphrase.js";

export interface CredentialOptions {
  readonly home: string;
  readonly operator?: string;
  readonly totp?: string;
  readonly tokenFile?: string;
  readonly sessionFile?: string;
}

/** This station's session file for a home: outside the home (the home keeps only the token's hash). */
export function defaultSessionFile(home: string): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "trustline", "sessions", `${createHash("sha256").update(resolve(home)).digest("hex").slice(0, 16)}.session`);
}

/** This station's session file for an EST service (`trustline login --est`): one per service URL. */
export function defaultEstSessionFile(estBaseUrl: string): string {
  return defaultSessionFile(`est:${estBaseUrl}`);
}

export function sessionFileOf(options: CredentialOptions): string {
  return options.sessionFile ?? process.env.TRUSTLINE_SESSION_FILE ?? defaultSessionFile(options.home);
}

/** A token file: one line, at most 1 KiB; a file others can read is refused (anyone on the machine could act as its owner). */
export function readTokenFile(path: string, what: string): string {
  let text: string;
  try {
    const stat = statSync(path);
    if (stat.size > 1024) throw new TrustlineError("INPUT_INVALID", `the ${what} file ${path} is larger than a token`);
    if ((stat.mode & 0o077) !== 0) throw new TrustlineError("AUTH_FAILED", `the ${what} file ${path} can be read by other users: chmod 600 it (or make a new token), then run the command again`, { details: { reason: "token-file-mode" } });
    text = readFileSync(path, "utf8");
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    const errno = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(errno === "ENOENT" ? "NOT_FOUND" : "INPUT_INVALID", `cannot read the ${what} file ${path}: ${errno === "ENOENT" ? "no such file" : (errno ?? (e as Error).message)}`);
  }
  return text.trim();
}

/** Write a token to a new 0600 file (its folder 0700). */
export function writeTokenFile(path: string, token: string, options: { replace?: boolean } = {}): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    writeFileAtomic(path, `${token}\n`, { mode: 0o600, exclusive: options.replace !== true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") throw new TrustlineError("ALREADY_EXISTS", `${path} already exists; refusing to overwrite a token file`);
    throw e;
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}

/** The TOTP code given for this command, if any. */
export function givenTotp(options: CredentialOptions): string | undefined {
  return options.totp ?? (process.env.TRUSTLINE_TOTP || undefined);
}

/** A code from --totp, TRUSTLINE_TOTP or a prompt on a terminal; undefined when there is none. */
export async function totpCode(options: CredentialOptions, operator: string): Promise<string | undefined> {
  const given = givenTotp(options);
  if (given !== undefined) return given;
  if (process.stdin.isTTY && process.stderr.isTTY) return prompt(`TOTP code for ${operator}: `);
  return undefined;
}

/** The credential of a command, resolved when its first write asks. */
export async function resolveCredential(options: CredentialOptions): Promise<Credential | undefined> {
  const operator = options.operator ?? process.env.TRUSTLINE_OPERATOR ?? osUser();
  const code = givenTotp(options);
  if (code !== undefined) return { kind: "totp", operator, code };
  const tokenFile = options.tokenFile ?? process.env.TRUSTLINE_TOKEN_FILE;
  if (tokenFile) return { kind: "service-token", token: readTokenFile(tokenFile, "service token") };
  const sessionToken = process.env.TRUSTLINE_SESSION;
  if (sessionToken) return { kind: "session", token: sessionToken };
  const sessionFile = sessionFileOf(options);
  if (existsSync(sessionFile)) return { kind: "session", token: readTokenFile(sessionFile, "session") };
  const prompted = await totpCode(options, operator);
  return prompted === undefined ? undefined : { kind: "totp", operator, code: prompted };
}
