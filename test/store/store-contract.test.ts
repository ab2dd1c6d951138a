/**
 * One Store contract, two stores: the embedded FileInventory (files in a temp folder) and the
 * PostgreSQL inventory (a real PostgreSQL 15 on a Unix socket, a database of its own, migrated
 * from empty). Same tests, same assertions.
 */
import { join } from "node:path";
import { migrate, openDatabase, PostgresInventory } from "../../ca/index.js";
import { FileInventory } from "../../ca/store/file-inventory.js";
import { tempDir } from "../helpers/pki.js";
import { POSTGRES_MISSING, testPostgres } from "../helpers/postgres.js";
import { storeContract } from "./store-contract.js";

storeContract("embedded (FileInventory)", async () => {
  const t = tempDir();
  const store = new FileInventory(join(t.dir, "inventory"));
  store.create();
  return { store, close: async () => t.cleanup() };
});

storeContract(
  "PostgreSQL",
  async () => {
    const pg = await testPostgres();
    const db = await openDatabase(await pg.createDatabase());
    await migrate(db);
    return { store: new PostgresInventory(db), close: () => db.close() };
  },
  { skip: POSTGRES_MISSING },
);
