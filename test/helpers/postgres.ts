/**
 * A real PostgreSQL for the tests, never a mock: one server per test run, started by
 * scripts/run-tests.ts (which exports TRUSTLINE_TEST_PGHOST, its Unix-socket folder), or, when a
 * test file runs alone, by the file itself. The server lives in a temp folder, listens on a Unix
 * socket only (listen_addresses=''), runs as an unprivileged user (initdb refuses root), trusts
 * local connections and skips fsync (no test here is about the disk's durability). Each test
 * gets a database of its own: tests share the server, never data.
 */
import { execFileSync } from "node:child_process";
import { bin, POSTGRES_MISSING, startPostgres } from "../../scripts/postgres-server.js";

export { POSTGRES_MISSING, startPostgres };

export interface TestPostgres {
  /** The Unix-socket folder. */
  readonly host: string;
  /** A new, empty database: its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): void;
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
