/**
 * The PostgreSQL schema, as numbered migrations. `trustline db migrate` applies those a database
 * lacks, each in its own transaction, under an advisory lock (two stations migrating at once run
 * them once). Every command checks the version at start: a database older than this code says
 * "run trustline db migrate", a newer one "upgrade trustline" — never a half-understood schema.
 *
 * Times are ISO 8601 text ("2026-12-05T10:00:00.000Z"), as the embedded store keeps them: they
 * sort as they compare, and a record reads back byte for byte as it was written.
 */
import { TrustlineError } from "../../errors.js";
import { type Database, databaseError, type Queryable } from "./connect.js";

export interface Migration {
  readonly version: number;
  readonly title: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    title: "certificate inventory and revocation events",
    sql: `
      CREATE TABLE certificates (
        serial text PRIMARY KEY CHECK (serial ~ '^[0-9a-f]{1,40}$'),
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        ca text NOT NULL,
        profile text NOT NULL,
        operator text NOT NULL,
        station text NOT NULL,
        batch text,
        request_sha256 text NOT NULL,
        issued_at text NOT NULL,
        not_after text NOT NULL,
        record json NOT NULL
      );
      -- A request is issued once per batch, whichever station runs it: what makes a batch resumable.
      CREATE UNIQUE INDEX certificates_batch_request ON certificates (batch, request_sha256) WHERE batch IS NOT NULL;
      CREATE INDEX certificates_batch_seq ON certificates (batch, seq) WHERE batch IS NOT NULL;
      CREATE INDEX certificates_issued_at ON certificates (issued_at);
      CREATE INDEX certificates_station ON certificates (station, issued_at);
      CREATE INDEX certificates_operator ON certificates (operator, issued_at);
      CREATE TABLE revocation_events (
        id bigserial PRIMARY KEY,
        serial text NOT NULL REFERENCES certificates (serial),
        ca text NOT NULL,
        event json NOT NULL
      );
      CREATE INDEX revocation_events_ca ON revocation_events (ca, id);
    `,
  },
  {
    version: 2,
    title: "audit log and its signed head",
    sql: `
      CREATE TABLE audit_entries (
        seq bigint PRIMARY KEY CHECK (seq > 0),
        line text NOT NULL
      );
      CREATE TABLE audit_head (
        id integer PRIMARY KEY CHECK (id = 1),
        head json NOT NULL
      );
    `,
  },
  {
    version: 3,
    title: "the home's state",
    sql: `
      CREATE TABLE home_state (
        id integer PRIMARY KEY CHECK (id = 1),
        state json NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 4,
    title: "the latest CRL of each CA",
    // Derived data (re-issued when missing): backups and `store copy` leave it out. `covers` is the
    // last revocation event id when it was issued: every event up to it is in the CRL.
    sql: `
      CREATE TABLE crls (
        ca text PRIMARY KEY,
        crl_number bigint NOT NULL CHECK (crl_number > 0),
        this_update text NOT NULL,
        next_update text NOT NULL,
        entries integer NOT NULL,
        dropped integer NOT NULL,
        covers bigint NOT NULL,
        der bytea NOT NULL
      );
    `,
  },
];

/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The advisory lock migrations hold: (class, id) = ("tl" in ASCII, 1). */
const MIGRATION_LOCK = "7468, 1";

/** The database's schema version; 0 for an empty database. */
export async function schemaVersion(db: Queryable): Promise<number> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('trustline_schema') IS NOT NULL AS present");
  if (!exists.rows[0]!.present) return 0;
  const r = await db.query<{ version: number | null }>("SELECT max(version) AS version FROM trustline_schema");
  return r.rows[0]!.version ?? 0;
}

/** Refuse a database this code cannot use, with what to do about it. */
export async function checkSchemaVersion(db: Queryable, where: string): Promise<void> {
  const version = await schemaVersion(db);
  if (version === SCHEMA_VERSION) return;
  if (version < SCHEMA_VERSION) {
    throw new TrustlineError("STORE_OUTDATED", `the database ${where} has schema version ${version}, this trustline needs ${SCHEMA_VERSION}: run \`trustline db migrate\``, { details: { version, required: SCHEMA_VERSION } });
  }
  throw new TrustlineError("STORE_OUTDATED", `the database ${where} has schema version ${version}, newer than this trustline knows (${SCHEMA_VERSION}): upgrade trustline`, { details: { version, required: SCHEMA_VERSION } });
}

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly { readonly version: number; readonly title: string }[];
}

/** Apply the migrations the database lacks (up to `target`, default all), each in one transaction. */
export async function migrate(database: Database, target = SCHEMA_VERSION): Promise<MigrationResult> {
  // One connection throughout: the advisory lock and each transaction belong to a session.
  const db = await database.pool.connect().catch((e: unknown) => {
    throw databaseError(e, database.where);
  });
  try {
    await db.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    return await migrateLocked(db, target);
  } catch (e) {
    throw databaseError(e, database.where);
  } finally {
    await db.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => undefined);
    db.release();
  }
}

async function migrateLocked(db: Queryable, target: number): Promise<MigrationResult> {
  await db.query("CREATE TABLE IF NOT EXISTS trustline_schema (version integer PRIMARY KEY, title text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  const from = await schemaVersion(db);
  if (from > SCHEMA_VERSION) throw new TrustlineError("STORE_OUTDATED", `the database has schema version ${from}, newer than this trustline knows (${SCHEMA_VERSION}): upgrade trustline`);
  const applied: { version: number; title: string }[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= from || m.version > target) continue;
    await db.query("BEGIN");
    try {
      await db.query(m.sql);
      await db.query("INSERT INTO trustline_schema (version, title) VALUES ($1, $2)", [m.version, m.title]);
      await db.query("COMMIT");
    } catch (e) {
      await db.query("ROLLBACK");
      throw new TrustlineError("STORE_UNAVAILABLE", `migration ${m.version} (${m.title}) failed and was rolled back: ${(e as Error).message}`, { cause: e });
    }
    applied.push({ version: m.version, title: m.title });
  }
  return { from, to: await schemaVersion(db), applied };
}
