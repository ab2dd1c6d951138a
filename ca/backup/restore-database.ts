/**
 * `restore --to <url>`: an archive, of either kind, into an empty PostgreSQL database: the second
 * site's copy of a plant's database, or a new server the day the first is lost.
 *
 * The archive goes first where every restore goes, into a temporary embedded home (restore.ts:
 * every chunk, every file's SHA-256, the counts, the chain head, the admin signed in, the CA
 * passphrase opening the audit key, `audit verify`, `store.restore` recorded), and only then into
 * the database, by the same copy as `store copy` (copy.ts): the empty database is migrated, the
 * home is written state last, and the copy is read back and checked (counts, audit verify). So a
 * damaged archive is refused before anything reaches the database, and a copy that fails midway is
 * discarded, leaving the database empty. The temporary home is removed either way.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { TrustlineError } from "../errors.js";
import { copyHome } from "../store/copy.js";
import { assertDatabaseFree } from "../store/postgres/storage.js";
import { KEYS_DIR } from "./file-home-layout.js";
import { restoreHome, type RestoreOptions, type RestoreResult } from "./restore.js";

export interface DatabaseRestoreOptions extends Omit<RestoreOptions, "to"> {
  /** The database to fill: empty (migrated here) or migrated without a home. */
  readonly url: string;
  /** The station folder to write (store.json naming the database, and the archive's key files): absent or empty. */
  readonly outHome?: string;
  /** The database password's file (else TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE). */
  readonly passwordFile?: string;
}

export interface DatabaseRestoreResult extends Omit<RestoreResult, "home"> {
  /** The database, without a password. */
  readonly database: string;
  /** The station folder written (`outHome`), or null. */
  readonly home: string | null;
  /** Whether the archive's key files went into the station folder. */
  readonly keysCopied: boolean;
}

const notEmpty = (dir: string) => existsSync(dir) && readdirSync(dir).length > 0;

export async function restoreHomeToDatabase(path: string, options: DatabaseRestoreOptions): Promise<DatabaseRestoreResult> {
  const { url, outHome: out, passwordFile, ...restoreOptions } = options;
  const outHome = out ? resolve(out) : undefined;
  if (outHome && notEmpty(outHome)) throw new TrustlineError("ALREADY_EXISTS", `${outHome} already exists and is not empty; give a new folder for the station (--out-home)`, { details: { path: outHome } });
  const db = { ...(passwordFile ? { passwordFile } : {}), ...(options.env ? { env: options.env } : {}) };
  await assertDatabaseFree(url, db); // before the archive is read: an occupied database is said at once

  // Beside the station folder when there is one (same disk, same permissions), else in the system's temp.
  const parent = outHome ? dirname(outHome) : tmpdir();
  mkdirSync(parent, { recursive: true });
  const scratch = mkdtempSync(join(parent, ".trustline-restore-"));
  try {
    const { home: restored, ...result } = await restoreHome(path, { ...restoreOptions, to: join(scratch, "home") });
    if (!outHome && notEmpty(join(restored, KEYS_DIR))) {
      throw new TrustlineError("USAGE", `the archive holds the home's key files (${KEYS_DIR}/, encrypted): give --out-home <dir> so that a station folder keeps them; nothing was written to the database`);
    }
    const copied = await copyHome({ from: restored, to: url, ...(outHome ? { outHome } : {}), ...db });
    return { ...result, database: copied.to, home: copied.outHome, keysCopied: copied.keysCopied };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
