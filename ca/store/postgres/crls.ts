/**
 * The latest CRL of each CA in PostgreSQL (table `crls`, schema version 4): what every `serve`
 * process on every machine serves, so they all serve the same one. Replaced under the home's
 * write lock by the process that issued it.
 */
import type { CrlStore, StoredCrl } from "../home-storage.js";
import { type Database, databaseError } from "./connect.js";

interface Row {
  crl_number: string;
  this_update: string;
  next_update: string;
  entries: number;
  dropped: number;
  covers: string;
  der: Buffer | null;
}

export class PostgresCrlStore implements CrlStore {
  /** The last CRL read per CA: workers ask several times a second, and the DER is sent only when it changed. */
  readonly #read = new Map<string, StoredCrl>();

  constructor(readonly db: Database) {}

  async latest(ca: string): Promise<StoredCrl | undefined> {
    const known = this.#read.get(ca);
    let rows: Row[];
    try {
      // A CRL number is issued once: the same number is the same CRL, whose DER we already hold.
      rows = (
        await this.db.pool.query<Row>(
          "SELECT crl_number, this_update, next_update, entries, dropped, covers, CASE WHEN crl_number = $2 THEN NULL ELSE der END AS der FROM crls WHERE ca = $1",
          [ca, known?.crlNumber ?? -1],
        )
      ).rows;
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
    const row = rows[0];
    if (!row) return undefined;
    const crl: StoredCrl = {
      ca,
      // Its coverage may have moved on (past other CAs' revocations) without a new number.
      der: row.der !== null ? new Uint8Array(row.der) : known!.der,
      crlNumber: Number(row.crl_number),
      thisUpdate: row.this_update,
      nextUpdate: row.next_update,
      entries: row.entries,
      dropped: row.dropped,
      coversRevocations: Number(row.covers),
    };
    this.#read.set(ca, crl);
    return crl;
  }

  async put(crl: StoredCrl): Promise<void> {
    try {
      await this.db.pool.query(
        `INSERT INTO crls (ca, crl_number, this_update, next_update, entries, dropped, covers, der) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (ca) DO UPDATE SET crl_number = EXCLUDED.crl_number, this_update = EXCLUDED.this_update, next_update = EXCLUDED.next_update,
           entries = EXCLUDED.entries, dropped = EXCLUDED.dropped, covers = EXCLUDED.covers, der = EXCLUDED.der`,
        [crl.ca, crl.crlNumber, crl.thisUpdate, crl.nextUpdate, crl.entries, crl.dropped, crl.coversRevocations, Buffer.from(crl.der)],
      );
    } catch (e) {
      throw databaseError(e, this.db.where);
    }
  }
}
