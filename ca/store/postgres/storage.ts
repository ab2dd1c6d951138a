/**
 * A home on PostgreSQL: state, inventory, revocations and audit log in one database that every
 * station shares. The home's write lock is a PostgreSQL advisory lock held by one connection for
 * the length of the write, so writers on every machine take turns as processes on one machine do
 * with the embedded store's lock file; a writer that dies releases it with its connection.
 */
import type { PoolClient } from "pg";
import { TrustlineError } from "../../errors.js";
import type { HomeStorage } from "../home-storage.js";
import { PostgresAuditStorage } from "./audit-storage.js";
import { PostgresCrlStore } from "./crls.js";
import { type Database, type DatabaseOptions, databaseError, openDatabase } from "./connect.js";
import { PostgresInventory, REVOCATIONS_CHANNEL } from "./inventory.js";
import { checkSchemaVersion, migrate, schemaVersion } from "./migrations.js";
import { PostgresStateStore } from "./state.js";

/** A home's storage in PostgreSQL, with its database (a backup reads it in one snapshot). */
export interface PostgresHomeStorage extends HomeStorage {
  readonly kind: "postgres";
  readonly db: Database;
}

export const isPostgresStorage = (storage: HomeStorage): storage is PostgresHomeStorage => storage.kind === "postgres" && "db" in storage;

/** The advisory lock that is the home's write lock: (class, id) = ("tl" in ASCII, 2). */
const HOME_LOCK = "7468, 2";
const LOCK_TIMEOUT_MS = 60_000;


/**
 * For `init --store`: the storage of a new home, in a database that holds none yet. An empty
 * database is migrated first; one that already holds a home is refused. `discard` removes what a
 * failed init wrote, so the database is empty again.
 */
export async function createPostgresStorage(url: string, options: DatabaseOptions = {}): Promise<{ storage: HomeStorage; discard: () => Promise<void> }> {
  const db = await openDatabase(url, options);
  try {
    if ((await schemaVersion(db.pool)) === 0) await migrate(db);
    await checkSchemaVersion(db.pool, db.where);
    const held = await db.pool.query("SELECT 1 FROM home_state");
    if ((held.rowCount ?? 0) > 0) throw new TrustlineError("ALREADY_EXISTS", `the database ${db.where} already holds a CA home; refusing to overwrite it (each home needs a database of its own)`);
  } catch (e) {
    await db.close();
    throw databaseError(e, db.where);
  }
  const storage = postgresStorage(db);
  return {
    storage,
    discard: async () => {
      await db.pool.query("TRUNCATE home_state, audit_head, audit_entries, revocation_events, certificates, crls").catch(() => undefined);
      await db.close();
    },
  };
}

/**
 * Refuse a database a home cannot be written into (ALREADY_EXISTS when it holds one, STORE_OUTDATED
 * for a schema of another version), changing nothing: `restore` asks before it reads the archive,
 * and migrates only once the archive has proved whole (createPostgresStorage).
 */
export async function assertDatabaseFree(url: string, options: DatabaseOptions = {}): Promise<void> {
  const db = await openDatabase(url, options);
  try {
    if ((await schemaVersion(db.pool)) === 0) return;
    await checkSchemaVersion(db.pool, db.where);
    const held = await db.pool.query("SELECT 1 FROM home_state");
    if ((held.rowCount ?? 0) > 0) throw new TrustlineError("ALREADY_EXISTS", `the database ${db.where} already holds a CA home; refusing to overwrite it (restore into an empty database)`);
  } catch (e) {
    throw databaseError(e, db.where);
  } finally {
    await db.close();
  }
}

export async function openPostgresStorage(url: string, options: DatabaseOptions = {}): Promise<PostgresHomeStorage> {
  const db = await openDatabase(url, options);
  try {
    await checkSchemaVersion(db.pool, db.where);
  } catch (e) {
    await db.close();
    throw e;
  }
  return postgresStorage(db);
}

/**
 * Run `fn` holding the home's write lock on `client`, waiting in PostgreSQL's lock queue
 * (pg_advisory_lock under lock_timeout) instead of polling as writers do. A poller can starve
 * behind a batch that takes the lock again the moment it lets go; a queued waiter is granted it at
 * the batch's next release. For a short hold that must not wait out a whole batch: the first read
 * of a backup's snapshot. The lock is the session's: if `fn` leaves a transaction aborted, the
 * unlock fails with it, so release such a client destroyed (`release(true)`), which drops it.
 */
export async function withQueuedHomeLock<T>(client: PoolClient, where: string, fn: () => Promise<T>): Promise<T> {
  try {
    await client.query(`SELECT set_config('lock_timeout', '${LOCK_TIMEOUT_MS}', false)`);
    await client.query(`SELECT pg_advisory_lock(${HOME_LOCK})`);
  } catch (e) {
    if ((e as { code?: string }).code === "55P03") throw new TrustlineError("STORE_CONFLICT", `the CA home in ${where} is locked by another writer; try again when it has finished`);
    throw databaseError(e, where);
  } finally {
    await client.query("RESET lock_timeout").catch(() => undefined);
  }
  try {
    return await fn();
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${HOME_LOCK})`).catch(() => undefined);
  }
}

function postgresStorage(db: Database): PostgresHomeStorage {
  // In-process turns first (one connection waits, not every caller), then the database's lock.
  let queue: Promise<unknown> = Promise.resolve();
  const hold = async <T>(fn: () => Promise<T>): Promise<T> => {
    let client: PoolClient;
    try {
      client = await db.pool.connect();
    } catch (e) {
      throw databaseError(e, db.where);
    }
    try {
      // Waiting in PostgreSQL's own queue: writers get the lock in turn, none starves (a batch that
      // releases and retakes it between commit groups lets the next waiter in).
      return await withQueuedHomeLock(client, db.where, fn);
    } catch (e) {
      if (e instanceof TrustlineError) throw e;
      if ((e as { code?: string }).code && /^[0-9A-Z]{5}$/.test((e as { code: string }).code)) throw databaseError(e, db.where);
      throw e;
    } finally {
      client.release();
    }
  };
  return {
    kind: "postgres",
    db,
    where: db.where,
    state: new PostgresStateStore(db),
    inventory: new PostgresInventory(db),
    audit: new PostgresAuditStorage(db),
    crls: new PostgresCrlStore(db),
    lock: <T>(fn: () => Promise<T>): Promise<T> => {
      const run = queue.catch(() => undefined).then(() => hold(fn));
      queue = run.catch(() => undefined);
      return run;
    },
    watchRevocations: async (onChange, onError) => {
      // A connection of the pool kept for LISTEN: released (destroyed) when watching stops, so the pool can end.
      const client = await db.pool.connect().catch((e: unknown) => {
        throw databaseError(e, db.where);
      });
      let stopped = false;
      const onNotification = (m: { channel: string }) => {
        if (m.channel === REVOCATIONS_CHANNEL) onChange();
      };
      // A checked-out client's error with no listener would end the process; the poll carries on.
      const onClientError = (e: Error) => {
        if (!stopped) onError(databaseError(e, db.where));
      };
      client.on("notification", onNotification);
      client.on("error", onClientError);
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        client.off("notification", onNotification);
        client.release(true);
      };
      try {
        await client.query(`LISTEN ${REVOCATIONS_CHANNEL}`);
      } catch (e) {
        await stop();
        throw databaseError(e, db.where);
      }
      return stop;
    },
    close: () => db.close(),
  };
}
