/**
 * A real PostgreSQL for the tests, never a mock: one server per test run, started by
 * scripts/run-tests.ts (which exports TRUSTLINE_TEST_PGHOST, its Unix-socket folder), or, when a
 * test file runs alone, by the file itself. The server lives in a temp folder, listens on a Unix
 * socket only (listen_addresses=''), runs as an unprivileged user (initdb refuses root), trusts
 * local connections and skips fsync (no test here is about the disk's durability). Each test
 * gets a database of its own: tests share the server, never data.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestPostgres {
  /** The Unix-socket folder. */
  readonly host: string;
  /** A new, empty database: its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): void;
}

const BIN_DIRS = ["/usr/local/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"];

function bin(name: string): string | undefined {
  for (const dir of BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  const which = spawnSync("which", [name], { encoding: "utf8" });
  return which.status === 0 ? which.stdout.trim() : undefined;
}

/** Why the PostgreSQL tests cannot run here (no server binaries), or false. */
export const POSTGRES_MISSING: string | false = bin("initdb") && bin("pg_ctl") ? false : "PostgreSQL server binaries (initdb, pg_ctl) are not installed: .ci/run installs postgresql";

/** Run a server binary as the unprivileged `postgres` user when we are root. */
function asServerUser(cmd: string, args: readonly string[]): void {
  const root = process.getuid?.() === 0;
  const argv = root ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", cmd, ...args] : [cmd, ...args];
  execFileSync(argv[0]!, argv.slice(1), { stdio: "pipe", env: { PATH: process.env.PATH ?? "", LC_ALL: "C" } });
}

/** Start a server in a temp folder (the caller stops it). */
export function startPostgres(): { host: string; stop: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "tl-pg-"));
  const data = join(dir, "data");
  const root = process.getuid?.() === 0;
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o755);
  asServerUser(bin("initdb")!, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  writeFileSync(join(data, "postgresql.auto.conf"), `listen_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n`);
  asServerUser(bin("pg_ctl")!, ["-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  let stopped = false;
  return {
    host: dir,
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        asServerUser(bin("pg_ctl")!, ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let counter = 0;
let ownHost: string | undefined;

/** The run's shared server, or one started (synchronously) for this process and stopped at its exit. */
function serverHost(): string {
  const shared = process.env.TRUSTLINE_TEST_PGHOST;
  if (shared) return shared;
  if (!ownHost) {
    const own = startPostgres();
    ownHost = own.host;
    process.once("exit", () => own.stop());
  }
  return ownHost;
}

/** A new, empty database on the test server (createdb, synchronously): its URL. */
export function createDatabaseSync(): string {
  const host = serverHost();
  const db = `t_${process.pid}_${++counter}_${Date.now().toString(36)}`;
  execFileSync(bin("createdb") ?? "createdb", ["-h", host, "-U", "postgres", db], { stdio: "pipe" });
  return databaseUrl(host, db);
}

/**
 * Whether this test process runs its homes on PostgreSQL (TRUSTLINE_TEST_STORE=postgres, set by the
 * test/store/on-postgres/ files before they load a suite written for homes in general).
 */
export const onPostgres = (): boolean => process.env.TRUSTLINE_TEST_STORE === "postgres";

/** The run's shared server (TRUSTLINE_TEST_PGHOST), or one for this process, stopped at exit. */
export async function testPostgres(): Promise<TestPostgres> {
  const socketHost = serverHost();
  const { default: pg } = await import("pg");
  return {
    host: socketHost,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `t_${process.pid}_${++counter}_${Date.now().toString(36)}`;
      const admin = new pg.Client({ host: socketHost, user: "postgres", database: "postgres" });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${db}"`);
      } finally {
        await admin.end();
      }
      return databaseUrl(socketHost, db);
    },
    stop: () => undefined, // the server outlives the test: the run (or this process's exit) stops it
  };
}

/** postgres:///<db>?host=<socket folder>&user=postgres */
export function databaseUrl(host: string, db: string): string {
  return `postgres:///${db}?host=${encodeURIComponent(host)}&user=postgres`;
}
