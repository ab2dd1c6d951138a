/**
 * test/unit/crl-shared-store.test.ts again, on a home whose state, inventory, audit log and CRLs
 * live in PostgreSQL (a real server, a database per home): the same assertions must hold on both stores.
 */
import { POSTGRES_MISSING } from "../../helpers/postgres.js";

if (!POSTGRES_MISSING) {
  process.env.TRUSTLINE_TEST_STORE = "postgres";
  await import("../../unit/crl-shared-store.test.js");
}
