/**
 * One station writing into a shared PostgreSQL store (postgres.test.ts runs four at once):
 * `node postgres-writer.js <url> <station> <count> <group>` stores `count` records in groups and
 * prints each serial once its group is committed.
 */
import { openDatabase, PostgresInventory } from "../../ca/index.js";
import { record } from "./store-contract.js";

const [url, station, count, group] = process.argv.slice(2);
// node --test also runs every file under test/ on its own, with no arguments: then there is nothing to do.
if (url && station && count && group) {
  const db = await openDatabase(url, { max: 1 });
  const store = new PostgresInventory(db);
  const total = Number(count);
  const size = Number(group);
  for (let i = 0; i < total; i += size) {
    const records = Array.from({ length: Math.min(size, total - i) }, () => record({ station, batch: `batch-${station}` }));
    await store.putCertificates(records);
    process.stdout.write(`${records.map((r) => r.serial).join("\n")}\n`);
  }
  await db.close();
}
