/** test/est/est-curl.test.ts again on a home in PostgreSQL: every answer and refusal the same. */
import { POSTGRES_MISSING } from "../../helpers/postgres.js";

if (!POSTGRES_MISSING) {
  process.env.TRUSTLINE_TEST_STORE = "postgres";
  await import("../../est/est-curl.test.js");
}
