/**
 * `npm test`: the whole suite under Node's test runner, with one PostgreSQL for the run (the
 * PostgreSQL store's tests share it, each in a database of its own) instead of one per test file.
 * Arguments are passed to `node --test` (default: every test under dist/test/). The runner's
 * output is passed through untouched: CI reads its summary.
 */
import { spawn } from "node:child_process";
import { POSTGRES_MISSING, startPostgres } from "./postgres-server.js";

const args = process.argv.slice(2);
let server: ReturnType<typeof startPostgres> | undefined;
if (!POSTGRES_MISSING) {
  try {
    server = startPostgres();
  } catch (e) {
    // The PostgreSQL test files then start their own server, and say why if they cannot.
    process.stderr.write(`run-tests: could not start the shared PostgreSQL (${(e as Error).message.split("\n")[0]}); test files will start their own\n`);
  }
}
const child = spawn(process.execPath, ["--test", "--test-concurrency=2", ...(args.length ? args : ["dist/test/"])], {
  stdio: "inherit",
  env: { ...process.env, ...(server ? { TRUSTLINE_TEST_PGHOST: server.host } : {}) },
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  server?.stop();
  process.exit(code ?? (signal ? 1 : 0));
});
