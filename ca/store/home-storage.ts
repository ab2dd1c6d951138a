/**
 * Where a home keeps its data: the seam between the CA and its storage engine. The embedded
 * engine (the default, nothing to install) keeps state.json, the inventory and the audit log in
 * the home folder; the PostgreSQL engine (`trustline init --store postgres://...`) keeps them in
 * one database that every station shares, and the home folder holds only configuration
 * (`store.json`, naming the database) and, for file-backed keys, the encrypted key files.
 * Issuing, revocation and audit code see only these interfaces.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditStorage, FileAuditStorage } from "../audit/log.js";
import { TrustlineError } from "../errors.js";
import { FileCrlStore } from "./file-crls.js";
import { FileInventory } from "./file-inventory.js";
import { withLock } from "./lock.js";
import { type HomeState, StateFile } from "./state.js";
import type { RevocationEntry, Store } from "./types.js";

/** The home's state (configuration, CAs, operators, counters). */
export interface StateStore {
  read(): Promise<HomeState>;
  /** Create it; refuses when it exists. */
  create(state: HomeState): Promise<void>;
  /** Read, change, write: caller holds the home's write lock. */
  update(change: (state: HomeState) => HomeState): Promise<HomeState>;
}

/** How far a reader got in a batch's requests: opaque, each engine its own. */
export type BatchCursor = object;

/** The certificate inventory and revocation events, as issuing, serving and DPS use them. */
export interface Inventory extends Store {
  /** Prepare an empty inventory (at init). */
  create(): Promise<void>;
  /** Revocation events after `position` (0: all), and the position to ask from next: a responder follows the log. */
  revocationEventsSince(position: number): Promise<{ entries: RevocationEntry[]; next: number }>;
  /**
   * Where the revocation log ends now, in the positions revocationEventsSince speaks (the embedded
   * log's byte length, the last event id in PostgreSQL): the same number for every process on the
   * store, and one that only grows while the log does. Cheap: no event is read.
   */
  revocationPosition(): Promise<number>;
  /** Every (request SHA-256, serial) of a batch recorded after `cursor`, handed to `add`; the next cursor. */
  readBatchRequests(batch: string, cursor: BatchCursor | undefined, add: (requestSha256: string, serial: string) => void): Promise<BatchCursor | undefined>;
}

/** A CA's latest CRL as the store keeps it, for every process serving the home. */
export interface StoredCrl {
  readonly ca: string;
  readonly der: Uint8Array;
  readonly crlNumber: number;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  readonly entries: number;
  /** Revoked certificates left off because they expired before the retention window. */
  readonly dropped: number;
  /** Inventory.revocationPosition() read before the revocations it lists: every event up to there is in it. */
  readonly coversRevocations: number;
}

/**
 * The latest CRL of each CA. Derived data: it can be lost (a backup and `store copy` leave it out)
 * and is issued again, with the next number from the home's state, by the next process that serves.
 */
export interface CrlStore {
  latest(ca: string): Promise<StoredCrl | undefined>;
  /** Replace the CA's latest CRL: caller holds the home's write lock. */
  put(crl: StoredCrl): Promise<void>;
}

export interface HomeStorage {
  readonly kind: "embedded" | "postgres";
  /** For messages: the home folder, or the database URL without its password. */
  readonly where: string;
  readonly state: StateStore;
  readonly inventory: Inventory;
  readonly audit: AuditStorage;
  readonly crls: CrlStore;
  /**
   * Where the engine can push it (PostgreSQL's LISTEN/NOTIFY): call `onChange` when any process
   * recorded revocation events, so responders need not wait for their next poll. Readers poll
   * anyway: a push is lost with its connection (then `onError`, and no more pushes). Returns the
   * function that stops watching. Absent for the embedded store (the poll is a file stat).
   */
  watchRevocations?(onChange: () => void, onError: (e: Error) => void): Promise<() => Promise<void>>;
  /** Run `fn` holding the home's exclusive write lock (not re-entrant). */
  lock<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The embedded engine: files in the home folder. */
export function embeddedStorage(dir: string): HomeStorage {
  const inventory = new FileInventory(join(dir, "inventory"));
  return {
    kind: "embedded",
    where: dir,
    state: new StateFile(join(dir, "state.json")),
    inventory,
    audit: new FileAuditStorage(join(dir, "audit")),
    crls: new FileCrlStore(join(dir, "crl")),
    // The inventory's index update finishes under the lock it was started in.
    lock: (fn) =>
      withLock(join(dir, ".lock"), async () => {
        try {
          return await fn();
        } finally {
          await inventory.settle();
        }
      }),
    close: async () => undefined,
  };
}

/** The home folder's pointer to its database (written by `init --store`). */
export interface StoreConfig {
  readonly format: "trustline-store/1";
  /** postgres://user@host:port/db (never with a password). */
  readonly url: string;
  /** Where the database password is read from, if not from TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE. */
  readonly passwordFile?: string;
}

export const STORE_CONFIG = "store.json";

/** The home folder's store.json, if any. */
export function readStoreConfig(dir: string): StoreConfig | undefined {
  const path = join(dir, STORE_CONFIG);
  if (!existsSync(path)) return undefined;
  let config: Partial<StoreConfig> | null;
  try {
    config = JSON.parse(readFileSync(path, "utf8")) as Partial<StoreConfig> | null;
  } catch (e) {
    throw new TrustlineError("CONFIG_INVALID", `${path} is not valid JSON; it names the home's database: restore it (\`trustline init --store\` wrote it)`, { cause: e });
  }
  if (config === null || typeof config !== "object" || config.format !== "trustline-store/1" || typeof config.url !== "string" || (config.passwordFile !== undefined && typeof config.passwordFile !== "string")) {
    throw new TrustlineError("CONFIG_INVALID", `${path} is not a Trustline store configuration (format trustline-store/1 with the database url)`);
  }
  return config as StoreConfig;
}

/**
 * The storage of the home at `dir`: PostgreSQL when its store.json says so (TRUSTLINE_DATABASE_URL,
 * when set, names the same database from this machine), else the embedded files.
 */
export async function openHomeStorage(dir: string, env: NodeJS.ProcessEnv = process.env): Promise<HomeStorage> {
  const config = readStoreConfig(dir);
  if (!config) return embeddedStorage(dir);
  const { openPostgresStorage } = await import("./postgres/storage.js"); // pg is loaded only by homes that use it
  return openPostgresStorage(env.TRUSTLINE_DATABASE_URL || config.url, { ...(config.passwordFile ? { passwordFile: config.passwordFile } : {}), env });
}
