/**
 * `trustline db`: the PostgreSQL store's schema. `db migrate` applies the migrations a database
 * lacks (safe to run from several stations at once); `db status` says which version it has and
 * whether this trustline can use it. The URL comes from --store or TRUSTLINE_DATABASE_URL, the
 * password from --db-password-file, TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE, never argv.
 */
import { Command } from "commander";
import { checkSchemaVersion, migrate, openDatabase, schemaVersion, SCHEMA_VERSION, TrustlineError } from "../../ca/index.js";
import { emit, examples } from "../context.js";

interface DbOptions {
  store?: string;
  dbPasswordFile?: string;
}

function withDatabaseOptions(command: Command): Command {
  return command
    .option("--store <url>", "the database: postgres://user@host:5432/db or postgres:///db?host=/socket/folder (default: TRUSTLINE_DATABASE_URL)")
    .option("--db-password-file <file>", "a file holding the database password (default: TRUSTLINE_DATABASE_PASSWORD_FILE, else PGPASSFILE / ~/.pgpass)");
}

async function open(opts: DbOptions) {
  const url = opts.store ?? process.env.TRUSTLINE_DATABASE_URL;
  if (!url) throw new TrustlineError("USAGE", "name the database with --store <postgres://...> or TRUSTLINE_DATABASE_URL");
  return openDatabase(url, { ...(opts.dbPasswordFile ? { passwordFile: opts.dbPasswordFile } : {}), max: 1 });
}

export function dbCommand(): Command {
  const db = new Command("db").description("the PostgreSQL store's schema: migrate it, or show its version");
  withDatabaseOptions(db.command("migrate"))
    .description("apply the schema migrations the database lacks (each in one transaction; several stations may run it at once)")
    .addHelpText("after", examples("TRUSTLINE_DATABASE_URL=postgres://trustline@db.plant:5432/ca trustline db migrate", "trustline db migrate --store 'postgres:///ca?host=/run/postgresql' --db-password-file /etc/trustline/db-password"))
    .action(async (opts: DbOptions, command: Command) => {
      const database = await open(opts);
      try {
        const result = await migrate(database);
        emit(command, { database: database.where, ...result }, () =>
          result.applied.length === 0 ? `${database.where}: schema version ${result.to}, up to date` : `${database.where}: schema ${result.from} -> ${result.to}\n${result.applied.map((m) => `  applied ${m.version}: ${m.title}`).join("\n")}`,
        );
      } finally {
        await database.close();
      }
    });
  withDatabaseOptions(db.command("status"))
    .description("the database's schema version and whether this trustline can use it (exit 4 if not)")
    .addHelpText("after", examples("trustline db status --store postgres://trustline@db.plant:5432/ca --json"))
    .action(async (opts: DbOptions, command: Command) => {
      const database = await open(opts);
      try {
        await checkSchemaVersion(database.pool, database.where); // an unusable version is the error, with both versions
        const version = await schemaVersion(database.pool);
        emit(command, { database: database.where, version, required: SCHEMA_VERSION }, () => `${database.where}: schema version ${version}, as this trustline needs`);
      } finally {
        await database.close();
      }
    });
  return db;
}
