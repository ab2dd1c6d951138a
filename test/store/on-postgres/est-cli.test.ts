/**
 * test/est/est-cli.test.ts again on a home in PostgreSQL: two `serve --est` processes on one
 * database (two machines behind a load balancer); the same batch pushed to both at once is issued
 * once per request, nothing lost.
 */
import { POSTGRES_MISSING } from "../../helpers/postgres.js";

if (!POSTGRES_MISSING) {
  process.env.TRUSTLINE_TEST_STORE = "postgres";
  await import("../../est/est-cli.test.js");
}
