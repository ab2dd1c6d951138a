/**
 * The home's state in PostgreSQL: one row, the same JSON document the embedded store keeps in
 * state.json, checked with the same shape rules when read. Changes happen under the home's write
 * lock (storage.ts), as for the file.
 */
import { TrustlineError } from "../../errors.js";
import type { StateStore } from "../home-storage.js";
import { checkStateShape } from "../state-shape.js";
import type { HomeState } from "../state.js";
import { type Database, databaseError } from "./connect.js";

export class PostgresStateStore implements StateStore {
  constructor(readonly db: Database) {}

  async read(): Promise<HomeState> {
    let rows: { state: string }[];
    try {
      rows = (await this.db.pool.query<{ state: string }>("SELECT state::text AS state FROM home_state WHERE id = 1")).rows;
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
    if (!rows[0]) throw new TrustlineError("CONFIG_INVALID", `no CA home in the database ${this.db.where}; run "trustline init --store <url>" first`);
    let value: unknown;
    try {
      value = JSON.parse(rows[0].state);
    } catch (e) {
      throw new TrustlineError("STORE_CORRUPT", `the home's state in ${this.db.where} is not valid JSON; restore it from a backup`, { cause: e });
    }
    const state = checkStateShape(value, `${this.db.where} (home_state)`);
    if (state === null || typeof state !== "object" || state.format !== "trustline-home/1") throw new TrustlineError("CONFIG_INVALID", `the database ${this.db.where} does not hold a Trustline home`);
    return state;
  }

  async create(state: HomeState): Promise<void> {
    try {
      await this.db.pool.query("INSERT INTO home_state (id, state) VALUES (1, $1)", [JSON.stringify(state)]);
    } catch (e) {
      if ((e as { code?: string }).code === "23505") throw new TrustlineError("ALREADY_EXISTS", `the database ${this.db.where} already holds a CA home; refusing to overwrite it`);
      throw databaseError(e, this.db.where);
    }
  }

  async update(change: (state: HomeState) => HomeState): Promise<HomeState> {
    const next = change(await this.read());
    try {
      await this.db.pool.query("UPDATE home_state SET state = $1, updated_at = now() WHERE id = 1", [JSON.stringify(next)]);
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
    return next;
  }
}
