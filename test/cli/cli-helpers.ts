/**
 * Helpers for the CLI tests: one initialised home per test file, JSON output parsing, inventory and
 * audit snapshots, an async runner (for concurrency), and a tiny DER toolkit to doctor CSRs and to
 * build requests OpenSSL refuses to make (a 65-character CN).
 */
import { createDatabaseSync, onPostgres } from "../helpers/postgres.js";
import { newKeyPair } from "../helpers/keys.js";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, sign as nodeSign } from "node:crypto";
import { join } from "node:path";
import { CLI, PASSPHRASE, runCli, STATE_HOME, writeTemp } from "../helpers/pki.js";
import { defaultSessionFile } from "../../cli/credential.js";
import { totpNow } from "../helpers/totp.js";

export interface CliResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TestHome {
  /** The home directory (…/pki). */
  readonly home: string;
  /** The passphrase file. */
  readonly passFile: string;
  /** alice's shift session file, at the station's default place for this home (she is the first admin, with every role but auditor). */
  readonly sessionFile: string;
  /** The first admin's otpauth URI (test/helpers/totp.ts makes its codes). */
  readonly otpauthUri: string;
  /** Global options: --home <home> --passphrase-file <file> (alice's session is found by the home). Put them before the subcommand. */
  readonly g: readonly string[];
  /** Global options without a passphrase source (alice's session still signs in). */
  readonly gNoPass: readonly string[];
  /** The test folder (token files of other operators go there). */
  readonly dir: string;
}

/**
 * `trustline --home <dir>/pki init --org "Acme Devices" --operator alice --roles admin,officer,issuer`,
 * then `trustline login` with alice's TOTP code (a shift session the test's commands run under);
 * both asserted to succeed.
 */
export function initCliHome(dir: string, extra: readonly string[] = []): TestHome {
  const passFile = writeTemp(dir, "ca-pass.txt", `${PASSPHRASE}\n`);
  const home = join(dir, "pki");
  const store = onPostgres() ? ["--store", createDatabaseSync()] : [];
  const r = runCli(["--home", home, "--json", "--operator", "alice", ...extra, "init", "--org", "Acme Devices", "--passphrase-file", passFile, "--roles", "admin,officer,issuer", ...store]);
  assert.equal(r.status, 0, `init failed: ${r.stdout}${r.stderr}`);
  const otpauthUri = json(r).firstAdmin.otpauthUri as string;
  const sessionFile = loginCli(home, "alice", otpauthUri, passFile);
  return { home, passFile, sessionFile, otpauthUri, dir, g: ["--home", home, "--passphrase-file", passFile], gNoPass: ["--home", home] };
}

/**
 * `trustline login` as `operator` (its TOTP code from `otpauthUri`) at station line-1 for 24 h,
 * (the CA passphrase opens the home's data key), into the station's session file for `home` (under the test's XDG_STATE_HOME): every later CLI
 * run naming that home signs in with it. Returns the session file.
 */
export function loginCli(home: string, operator: string, otpauthUri: string, passFile: string): string {
  const login = runCli(["--home", home, "--passphrase-file", passFile, "--operator", operator, "--station", "line-1", "login", "--totp", totpNow(otpauthUri), "--ttl", "24h"]);
  assert.equal(login.status, 0, `login failed: ${login.stdout}${login.stderr}`);
  return defaultSessionFile(home);
}

const cliTokens = new Map<string, string>();

/**
 * Sign-in options for another operator of a CLI test home: a service account with every role but
 * auditor, enrolled by alice on first use. Put them after h.g (a token file outranks the session).
 */
export function asOperator(h: TestHome, id: string, roles = "admin,officer,issuer"): string[] {
  const key = `${h.home}|${id}|${roles}`;
  let file = cliTokens.get(key);
  if (!file) {
    file = join(h.dir, `${id}-${cliTokens.size}.token`);
    const r = runCli([...h.g, "operator", "add", id, "--service", "--role", roles, "--token-out", file]);
    assert.equal(r.status, 0, `operator add ${id} failed: ${r.stdout}${r.stderr}`);
    cliTokens.set(key, file);
  }
  return ["--token-file", file, "--operator", id];
}

export function describeRun(r: CliResult): string {
  return `status ${r.status}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Parse the one JSON document on stdout. */
export function json<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    assert.fail(`stdout is not one JSON document:\n${describeRun(r)}`);
  }
}

/** Assert an exit status and, with --json, the error code; returns the error object. */
export function expectError(r: CliResult, status: number, code: string): { code: string; message: string; details?: any } {
  assert.equal(r.status, status, `expected exit ${status} (${code}), got:\n${describeRun(r)}`);
  const doc = json<{ error?: { code: string; message: string; details?: unknown } }>(r);
  assert.ok(doc.error, `no "error" in the JSON output:\n${describeRun(r)}`);
  assert.equal(doc.error.code, code, `expected error code ${code}:\n${describeRun(r)}`);
  assert.equal(typeof doc.error.message, "string");
  assert.ok(doc.error.message.length > 10, `the message is not helpful: ${doc.error.message}`);
  return doc.error as { code: string; message: string; details?: any };
}

export function expectOk(r: CliResult): void {
  assert.equal(r.status, 0, `expected success:\n${describeRun(r)}`);
}

/** Run the built CLI asynchronously (child_process.spawn): for concurrency and for parallel reads. */
export function runCliAsync(args: readonly string[], options: { env?: Record<string, string> } = {}): Promise<CliResult> {
  return runNode([CLI, ...args], options);
}

/** Run `node <args>` asynchronously; stdin is /dev/null (not a TTY). Killed after `timeoutMs`. */
export function runNode(args: readonly string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...args], {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: STATE_HOME, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      stderr += `\n[test helper: killed after ${options.timeoutMs ?? 60_000} ms]\n`;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 60_000);
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}

export interface ListedRecord {
  serial: string;
  ca: string;
  profile: string;
  policyOids: string[];
  subject: string;
  commonName: string;
  notBefore: string;
  notAfter: string;
  requestSha256: string;
  keySource: string;
  operator: string;
  station: string;
  batch: string | null;
  issuedAt: string;
  status: string;
}

/** `trustline cert list --json [filters]` → the array. */
export async function certList(h: TestHome, filters: readonly string[] = []): Promise<ListedRecord[]> {
  const r = await runCliAsync([...h.gNoPass, "--json", "cert", "list", ...filters]);
  expectOk(r);
  const list = json<ListedRecord[]>(r);
  assert.ok(Array.isArray(list), `cert list --json is not an array: ${r.stdout}`);
  return list;
}

export interface AuditLine {
  seq: number;
  action: string;
  outcome: string;
  operator: string;
  station: string;
  serial?: string;
  requestSha256?: string;
  reason?: string;
  profile?: string;
  ca?: string;
  subject?: string;
  details?: Record<string, unknown>;
}

/** `trustline audit log --json` → the entries (JSON lines). */
export async function auditLog(h: TestHome): Promise<AuditLine[]> {
  const r = await runCliAsync([...h.gNoPass, "--json", "audit", "log"]);
  expectOk(r);
  return r.stdout
    .split("\n")
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as AuditLine);
}

/** `trustline audit verify` must exit 0. */
export async function assertAuditIntact(h: TestHome): Promise<void> {
  const r = await runCliAsync([...h.g, "audit", "verify"]);
  assert.equal(r.status, 0, `audit verify failed:\n${describeRun(r)}`);
}

/** Inventory and audit log, read in parallel. */
export async function snapshot(h: TestHome): Promise<{ certs: ListedRecord[]; audit: AuditLine[] }> {
  const [certs, audit] = await Promise.all([certList(h), auditLog(h)]);
  return { certs, audit };
}

export const HEX40 = /^[0-9a-f]{40}$/;
export const HEX64 = /^[0-9a-f]{64}$/;

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------------------------------------
// PEM and DER

export function pemToDer(pem: string | Uint8Array): Uint8Array {
  const text = typeof pem === "string" ? pem : Buffer.from(pem).toString("utf8");
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  assert.ok(m, "no PEM block");
  return new Uint8Array(Buffer.from(m[2]!.replace(/\s+/g, ""), "base64"));
}

export function derToPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END ${label}-----\n`;
}

export function countPemBlocks(text: string, label = "CERTIFICATE"): number {
  return text.split(`-----BEGIN ${label}-----`).length - 1;
}

function encLen(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content);
  return new Uint8Array(Buffer.concat([Buffer.from([tag, ...encLen(body.length)]), body]));
}

const OID_CN = new Uint8Array([0x06, 0x03, 0x55, 0x04, 0x03]);
const OID_ECDSA_SHA256 = new Uint8Array([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]);

/**
 * A P-256 PKCS#10 request built by hand with node:crypto, for subjects OpenSSL refuses to encode
 * (a CN over 64 characters). The self-signature is valid.
 */
export function handmadeCsr(commonName: string): Uint8Array {
  const { privateKey, publicKey } = newKeyPair("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const cn = tlv(0x0c, new Uint8Array(Buffer.from(commonName, "utf8")));
  const name = tlv(0x30, tlv(0x31, tlv(0x30, OID_CN, cn)));
  const cri = tlv(0x30, new Uint8Array([0x02, 0x01, 0x00]), name, spki, new Uint8Array([0xa0, 0x00]));
  const signature = new Uint8Array(nodeSign("sha256", cri, privateKey));
  return tlv(0x30, cri, tlv(0x30, OID_ECDSA_SHA256), tlv(0x03, new Uint8Array([0]), signature));
}
