/**
 * Reaching the PostgreSQL store. The URL names host (or a Unix-socket folder), port, user and
 * database; the password never travels in it (a URL ends up in argv, shell history and logs): it
 * comes from a file (`passwordFile`, TRUSTLINE_DATABASE_PASSWORD_FILE) or from libpq's own
 * PGPASSFILE / ~/.pgpass, which the driver reads. `pg` is loaded only by homes that use it.
 */
import { readFileSync } from "node:fs";
import type { Pool, PoolClient } from "pg";
import { TrustlineError } from "../../errors.js";

/** What a query needs: a pool or one checked-out client. */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface DatabaseOptions {
  /** A file holding the password (first line). */
  readonly passwordFile?: string;
  /** Connections this process may hold (default 4). */
  readonly max?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface Database {
  readonly pool: Pool;
  /** The URL without its password, for messages. */
  readonly where: string;
  /** Run `work` in one transaction on one connection; ROLLBACK on any error. */
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export const isDatabaseUrl = (text: string): boolean => /^postgres(ql)?:\/\//i.test(text);

/** The URL as people may see it: user, host, port, database; never a password. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

function checkedUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrustlineError("USAGE", `"${url.slice(0, 60)}" is not a database URL (postgres://user@host:5432/db, or postgres:///db?host=/socket/folder)`);
  }
  if (!/^postgres(ql)?:$/i.test(u.protocol)) throw new TrustlineError("USAGE", `a database URL starts with postgres://, not ${u.protocol}//`);
  if (u.password) {
    throw new TrustlineError("USAGE", `the database URL carries a password: put it in a file (--db-password-file, TRUSTLINE_DATABASE_PASSWORD_FILE) or in PGPASSFILE, never in the URL`, { details: { url: redactedUrl(url) } });
  }
  return u;
}

/** A refused connection or query, as a store error a person can act on. */
export function databaseError(e: unknown, where: string): TrustlineError {
  if (e instanceof TrustlineError) return e;
  const err = e as NodeJS.ErrnoException & { code?: string };
  const code = err.code ?? "";
  if (code === "28P01" || code === "28000") return new TrustlineError("STORE_UNAVAILABLE", `the database ${where} refused the credentials (${err.message}); check the user and its password file`, { details: { sqlstate: code } });
  if (code === "3D000") return new TrustlineError("STORE_UNAVAILABLE", `the database ${where} does not exist; create it (createdb) and run \`trustline db migrate\``, { details: { sqlstate: code } });
  if (code === "ECONNREFUSED" || code === "ENOENT" || code === "ETIMEDOUT" || code === "EHOSTUNREACH" || code === "ENOTFOUND") {
    return new TrustlineError("STORE_UNAVAILABLE", `cannot reach the database ${where} (${code}); is PostgreSQL running there?`, { details: { code } });
  }
  return new TrustlineError("STORE_UNAVAILABLE", `the database ${where} failed: ${err.message}`, { details: { sqlstate: code || null }, cause: e });
}

export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  checkedUrl(url);
  const where = redactedUrl(url);
  const env = options.env ?? process.env;
  const passwordFile = options.passwordFile ?? env.TRUSTLINE_DATABASE_PASSWORD_FILE;
  let password: string | undefined;
  if (passwordFile) {
    try {
      password = readFileSync(passwordFile, "utf8").split(/\r?\n/)[0];
    } catch (e) {
      throw new TrustlineError("INPUT_INVALID", `cannot read the database password file ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: url, ...(password !== undefined ? { password } : {}), max: options.max ?? 4, connectionTimeoutMillis: 10_000, allowExitOnIdle: true });
  // An idle client losing its server must not crash the process: the next query reports it.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw databaseError(e, where);
  }
  let closing: Promise<void> | undefined;
  return {
    pool,
    where,
    async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
      const client = await pool.connect().catch((e: unknown) => {
        throw databaseError(e, where);
      });
      try {
        await client.query("BEGIN");
        const result = await work(client);
        await client.query("COMMIT");
        return result;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw databaseError(e, where);
      } finally {
        client.release();
      }
    },
    close: () => (closing ??= pool.end()),
  };
}
