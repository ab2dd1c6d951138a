/** Global options, shared by every command, and printing (human or --json). */
import type { Command } from "commander";
import { DEFAULT_CSR_LIMIT, Home, type HomeOptions, parseSizeLimit, TrustlineError } from "../ca/index.js";
import { type CredentialOptions, resolveCredential } from "./credential.js";
import { passphraseSource } from "./passphrase.js";

export interface GlobalOptions {
  readonly home: string;
  readonly json: boolean;
  readonly operator?: string;
  readonly station?: string;
  readonly passphraseFile?: string;
  /** Sign-in: a TOTP code, a service token file, a session file (cli/credential.ts). */
  readonly totp?: string;
  readonly tokenFile?: string;
  readonly sessionFile?: string;
  /** The largest CSR read (--max-input-size, TRUSTLINE_MAX_INPUT_SIZE; default 64 KiB). */
  readonly maxInputSize: number;
}

/**
 * Commands whose own --operator/--station select certificates (cert list, revoke) rather than say
 * who is acting; for them the actor comes from before the command name or the environment.
 */
export const selectorCommands = new WeakSet<Command>();

function root(command: Command): Command {
  let c = command;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * The global options. The program takes them before the command name (positional options); every
 * command also accepts them after its name, where scripts usually put them.
 */
export function globals(command: Command): GlobalOptions {
  const r = root(command).opts() as Record<string, string | boolean | undefined>;
  const l = (command === root(command) ? {} : command.opts()) as Record<string, string | boolean | undefined>;
  const actor = !selectorCommands.has(command);
  const pick = (name: string) => ((actor ? l[name] : undefined) ?? r[name]) as string | undefined;
  const operator = pick("operator") ?? process.env.TRUSTLINE_OPERATOR;
  const station = pick("station") ?? process.env.TRUSTLINE_STATION;
  const passphraseFile = (l.passphraseFile ?? r.passphraseFile) as string | undefined;
  const signIn = (name: string) => (l[name] ?? r[name]) as string | undefined;
  const totp = signIn("totp");
  const tokenFile = signIn("tokenFile");
  const sessionFile = signIn("sessionFile");
  const maxInput = ((l.maxInputSize ?? r.maxInputSize) as string | undefined) ?? process.env.TRUSTLINE_MAX_INPUT_SIZE;
  return {
    home: ((l.home ?? r.home) as string | undefined) ?? process.env.TRUSTLINE_HOME ?? "./pki",
    json: l.json === true || r.json === true,
    ...(operator ? { operator } : {}),
    ...(station ? { station } : {}),
    ...(passphraseFile ? { passphraseFile } : {}),
    ...(totp !== undefined ? { totp } : {}),
    ...(tokenFile ? { tokenFile } : {}),
    ...(sessionFile ? { sessionFile } : {}),
    maxInputSize: maxInput === undefined ? DEFAULT_CSR_LIMIT : parseSizeLimit(maxInput, "--max-input-size"),
  };
}

/** Give a command the global options too, so they work after its name. */
export function addGlobalOptions(command: Command): void {
  const has = (flag: string) => command.options.some((o) => o.long === flag);
  if (!has("--home")) command.option("--home <dir>", "CA home directory (env TRUSTLINE_HOME, default ./pki)");
  if (!has("--json")) command.option("--json", "print one JSON document on stdout (errors too)");
  if (!has("--passphrase-file")) command.option("--passphrase-file <file>", "file holding the CA passphrase (or env TRUSTLINE_PASSPHRASE)");
  if (!has("--operator")) command.option("--operator <id>", "who is acting (env TRUSTLINE_OPERATOR)");
  if (!has("--station")) command.option("--station <id>", "where (env TRUSTLINE_STATION)");
  if (!has("--totp")) command.option("--totp <code>", "sign in with the 6-digit code of your authenticator app (env TRUSTLINE_TOTP; asked on a terminal)");
  if (!has("--token-file")) command.option("--token-file <file>", "a service account's token file (env TRUSTLINE_TOKEN_FILE)");
  if (!has("--session-file")) command.option("--session-file <file>", "the shift session's token file written by `trustline login` (env TRUSTLINE_SESSION_FILE, or the token itself in TRUSTLINE_SESSION)");
  if (!has("--max-input-size")) command.option("--max-input-size <bytes>", "largest CSR file read, e.g. 64k (env TRUSTLINE_MAX_INPUT_SIZE, default 64 KiB)");
}

/**
 * Home options for a command. `keys: true` when the command opens a CA key (may prompt on a
 * terminal); otherwise the passphrase is used only if given, to sign the audit head.
 */
export function homeOptions(g: GlobalOptions, keys: boolean, confirm = false): HomeOptions {
  return {
    home: g.home,
    passphrase: passphraseSource({ ...(g.passphraseFile ? { passphraseFile: g.passphraseFile } : {}), interactive: keys, confirm }),
    ...(g.operator ? { operator: g.operator } : {}),
    ...(g.station ? { station: g.station } : {}),
    credential: () => resolveCredential(credentialOptions(g)),
    warn: (message) => process.stderr.write(`warning: ${message}\n`),
  };
}

export function credentialOptions(g: GlobalOptions): CredentialOptions {
  return {
    home: g.home,
    ...(g.operator ? { operator: g.operator } : {}),
    ...(g.totp !== undefined ? { totp: g.totp } : {}),
    ...(g.tokenFile ? { tokenFile: g.tokenFile } : {}),
    ...(g.sessionFile ? { sessionFile: g.sessionFile } : {}),
  };
}

/** Homes this process opened: their key backends (token sessions, vault clients) are closed at exit. */
const opened: Home[] = [];

export async function openHome(command: Command, keys: boolean): Promise<Home> {
  const home = await Home.open(homeOptions(globals(command), keys));
  opened.push(home);
  return home;
}

/** Release every opened home's key backends, so nothing keeps the process alive after its command. */
export async function closeOpenedHomes(): Promise<void> {
  await Promise.all(opened.splice(0).map((h) => h.close().catch(() => undefined)));
}

/** Print the result: JSON (one document) with --json, else the human text. */
export function emit(command: Command, json: unknown, human: () => string): void {
  if (globals(command).json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  else {
    const text = human();
    if (text.length > 0) process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }
}

/** Progress and notes for people: stderr, never in the way of --json or piped PEM. */
export function note(command: Command, text: string): void {
  if (!globals(command).json) process.stderr.write(`${text}\n`);
}

export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}

/**
 * The key store a command names (`--key-store`), with `--hsm` asking Key Vault for HSM-protected
 * key types (EC-HSM, RSA-HSM: Premium vaults and Managed HSM).
 */
export function keyStoreOption(store: string | undefined, hsm: boolean | undefined): string | undefined {
  if (!hsm) return store;
  if (store === undefined || !store.startsWith("azure-keyvault://")) throw new TrustlineError("USAGE", "--hsm applies to an azure-keyvault:// --key-store (PKCS#11 keys are in the HSM already)");
  return `${store}${store.includes("?") ? "&" : "?"}hsm=true`;
}
