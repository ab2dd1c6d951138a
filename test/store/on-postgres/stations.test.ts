/**
 * test/stations/stations.test.ts again, on a home whose state, inventory and audit log live in
 * PostgreSQL: identifyStation follows the database's revocation events the same way.
 */
import { POSTGRES_MISSING } from "../../helpers/postgres.js";

if (!POSTGRES_MISSING) {
  process.env.TRUSTLINE_TEST_STORE = "postgres";
  await import("../../stations/stations.test.js");
}
