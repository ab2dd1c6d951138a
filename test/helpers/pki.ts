/** Test fixtures: real homes, real keys and CSRs (made with OpenSSL or node:crypto), a fixed clock. */
import { newKeyPair } from "./keys.js";
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { addOperator, type Credential, Home, initHome, type InitOptions } from "../../ca/index.js";
import { createDatabaseSync, onPostgres } from "./postgres.js";

export const PASSPHRASE = "test passphrase, not a secret";
export const FIXED_NOW = new Date("2026-03-01T12:00:00.000Z");
export const fixedClock = () => new Date(FIXED_NOW);

/** Repository root (tests run from dist/test/...). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      readFileSync(join(dir, "package.json"));
      if (!dir.endsWith("dist")) return dir;
    } catch {
      /* keep walking */
    }
    dir = dirname(dir);
  }
  throw new Error("repository root not found");
})();

export const CLI = resolve(REPO_ROOT, "dist/cli/main.js");

/**
 * Where the CLI keeps this test process's shift-session files (XDG_STATE_HOME): one folder per
 * test file, removed at exit, so `trustline login` in a test never writes to the user's home and
 * every CLI run of the test (and anything it spawns) finds the session of the home it names.
 */
export const STATE_HOME = mkdtempSync(join(tmpdir(), "trustline-state-"));
process.env.XDG_STATE_HOME = STATE_HOME;
process.on("exit", () => rmSync(STATE_HOME, { recursive: true, force: true }));

export function tempDir(prefix = "trustline-test-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Service-account tokens of the test homes' operators, by home directory and operator id. A test
 * home's first admin, alice, is a service account holding every role (so tests of other features
 * run under a real, checked credential at any clock); other operators are enrolled on first use.
 */
const TOKENS = new Map<string, Map<string, string>>();
const ALL_ROLES = ["admin", "officer", "issuer"] as const;

export async function makeHome(dir: string, options: Partial<InitOptions> = {}): Promise<Home> {
  const home = join(dir, "pki");
  const init = await initHome({
    home,
    ...(onPostgres() ? { store: { url: createDatabaseSync() } } : {}),
    organization: "Acme Devices",
    passphrase: async () => PASSPHRASE,
    clock: fixedClock,
    operator: "alice",
    station: "line-1",
    firstAdmin: { roles: [...ALL_ROLES], authenticator: { kind: "service" } },
    ...options,
  });
  if (init.firstAdmin.token) TOKENS.set(init.home, new Map([[init.operator, init.firstAdmin.token]]));
  return Home.open({ home, passphrase: async () => PASSPHRASE, clock: fixedClock, operator: "alice", station: "line-1", ...credentialOf(init.home, "alice") });
}

function credentialOf(home: string, operator: string): { credential?: Credential } {
  const token = TOKENS.get(home)?.get(operator);
  return token ? { credential: { kind: "service-token", token } } : {};
}

/** The test token of `operator` in `home`, enrolling it (every role but auditor) on first use. */
export async function operatorToken(home: Home, operator: string): Promise<string> {
  const tokens = TOKENS.get(home.dir);
  if (!tokens) throw new Error(`${home.dir} was not made by makeHome`);
  let token = tokens.get(operator);
  if (!token) {
    const admin = await Home.open({ home: home.dir, passphrase: async () => PASSPHRASE, clock: fixedClock, operator: "alice", ...credentialOf(home.dir, "alice") });
    token = (await addOperator(admin, { id: operator, roles: [...ALL_ROLES], authenticator: { kind: "service" } })).token!;
    await admin.close();
    tokens.set(operator, token);
  }
  return token;
}

export async function reopen(home: Home, overrides: { operator?: string; station?: string; clock?: () => Date; passphrase?: string } = {}): Promise<Home> {
  const pass = overrides.passphrase ?? PASSPHRASE;
  const operator = overrides.operator ?? "alice";
  const token = TOKENS.has(home.dir) ? await operatorToken(home, operator) : undefined;
  return Home.open({
    home: home.dir,
    passphrase: async () => pass,
    clock: overrides.clock ?? fixedClock,
    operator,
    station: overrides.station ?? "line-1",
    ...(token ? { credential: { kind: "service-token" as const, token } } : {}),
  });
}

export function openssl(args: readonly string[], input?: string | Uint8Array): SpawnSyncReturns<string> {
  return spawnSync("openssl", args, { encoding: "utf8", ...(input !== undefined ? { input } : {}) });
}

/** A CSR made by OpenSSL from a key it generates: the external referee's own request. */
export function opensslCsr(dir: string, name: string, subject: string, keyArgs: readonly string[] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]): { csr: Uint8Array; keyPath: string; csrPath: string } {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  execFileSync("openssl", ["req", "-new", ...keyArgs, "-nodes", "-keyout", keyPath, "-subj", subject, "-out", csrPath], { stdio: "pipe" });
  return { csr: new Uint8Array(readFileSync(csrPath)), keyPath, csrPath };
}

export function writeTemp(dir: string, name: string, data: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

export function ecKey(curve: "P-256" | "P-384" = "P-256"): { privateKey: KeyObject; publicKey: KeyObject } {
  return newKeyPair("ec", { namedCurve: curve });
}

/** Run the built CLI as a user would; returns status, stdout, stderr. */
export function runCli(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: STATE_HOME, ...options.env },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
