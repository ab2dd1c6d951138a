/**
 * `npm run bench [-- suite...]`: each row is measured in this run, on this machine, against a
 * baseline measured in the same run. Suites: batch (production-line scale), revocation (CRLs,
 * OCSP), firmware (1 GiB sign and verify), validate (path validation), postgres (four stations
 * into one PostgreSQL, issue latency on it), est (EST enrollments over mutual TLS), keys (batch issuance with the
 * issuing CA key in a file, on a SoftHSM2 token, in a rate-limited loopback Key Vault).
 * Options: --certs N (default 10000), --seed N (inventory size for the CLI test, default 1000000),
 * --image-bytes N (firmware image size, default 1 GiB), --leaves N (distinct device certificates
 * for the validation suite, default 2000), --key-certs N (file and token rows, default 10000),
 * --vault-certs N (Key Vault row, default 4000: 20 s at the vault's limit), --pg-certs N (CSRs per
 * station in the PostgreSQL suite, default 10000), --pg-seed N (records seeded into PostgreSQL for
 * the latency row, default 1000000), --est-certs N (EST enrollments and batch size, default 10000),
 * --est-workers N (serve --est processes, default 1), --est-rounds N (EST rounds, each row's median
 * reported with every round, default 3), --est-postgres (the EST rows on PostgreSQL too, with one
 * and two server processes).
 */
import { reportBench } from "./report.js";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { batchIssuanceBench } from "./batch-issuance.js";
import { revocationBench } from "./revocation.js";
import { firmwareBench } from "./firmware.js";
import { printTable, type Row } from "./harness.js";
import { pathValidationBench } from "./path-validation.js";
import { keysBench } from "./keys.js";
import { postgresBench } from "./postgres.js";
import { estBenches } from "./est.js";

const args = process.argv.slice(2);
const num = (flag: string, fallback: number) => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const suites = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
const want = (s: string) => suites.length === 0 || suites.includes(s);

const dir = mkdtempSync(join(tmpdir(), "trustline-bench-"));
// Shift-session files of the benches' homes go to the scratch folder, not the user's home.
process.env.XDG_STATE_HOME = dir;
const rows: Row[] = [];
try {
  console.error(`trustline bench on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, node ${process.version}; scratch ${dir}`);
  if (want("batch")) rows.push(...(await batchIssuanceBench(dir, { certs: num("--certs", 10_000), seed: num("--seed", 1_000_000) })));
  if (want("revocation")) rows.push(...(await revocationBench(dir)));
  if (want("firmware")) rows.push(...(await firmwareBench(dir, { bytes: num("--image-bytes", 2 ** 30) })));
  if (want("validate")) rows.push(...(await pathValidationBench(dir, { leaves: num("--leaves", 2000) })));
  if (want("report")) rows.push(...(await reportBench(dir, { records: num("--report-records", 1_000_000) })));
  if (want("postgres")) rows.push(...(await postgresBench(dir, { certs: num("--pg-certs", 10_000), seed: num("--pg-seed", 1_000_000) })));
  if (want("est")) rows.push(...(await estBenches(dir, { certs: num("--est-certs", 10_000), workers: num("--est-workers", 1), rounds: num("--est-rounds", 3), postgres: args.includes("--est-postgres") })));
  if (want("keys")) rows.push(...(await keysBench(dir, { certs: num("--key-certs", 10_000), vaultCerts: num("--vault-certs", 4000) })));
  printTable(rows);
  if (rows.some((r) => r.ok === false)) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
