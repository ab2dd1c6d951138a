/**
 * Several lines, one CA (issue 18), on a PostgreSQL started here with its default durability
 * (fsync on, synchronous commit):
 *  (a) 4 processes as 4 stations, each `trustline issue batch` of N CSRs into one database at once:
 *      aggregate certificates/s, against one embedded-store batch of N measured in this run; then
 *      the database is counted: every certificate there once;
 *  (b) one `trustline issue device` on PostgreSQL (median of 7) against the embedded store's, with
 *      an empty inventory and with 1,000,000 records seeded into the database.
 */
import { cpSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { createCsr, newKeyPair, openDatabase, PostgresInventory, secretOfOtpauthUri, toPem, totp } from "../ca/index.js";
import { POSTGRES_MISSING, startPostgres } from "../scripts/postgres-server.js";
import { syntheticRecords } from "./batch-issuance.js";
import { CLI, flushDirtyPages, fmt, median, type Row, runNode } from "./harness.js";

const PASS = "bench passphrase";
const LATENCY_RUNS = 7;

function writeCsrs(dir: string, count: number, prefix: string): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const id = `${prefix}-${String(i).padStart(6, "0")}`;
    writeFileSync(join(dir, `${id}.csr`), toPem(createCsr(privateKey, id), "CERTIFICATE REQUEST"));
  }
}

async function initAndLogin(home: string, passFile: string, store: readonly string[]): Promise<void> {
  const r = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "--operator", "bench", "--json", "init", "--org", "Bench Devices", "--roles", "admin,officer,issuer", ...store]);
  if (r.status !== 0) throw new Error(`init failed: ${r.stderr}`);
  const uri = (JSON.parse(r.stdout) as { firstAdmin: { otpauthUri: string } }).firstAdmin.otpauthUri;
  const login = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "--operator", "bench", "login", "--totp", totp(secretOfOtpauthUri(uri), new Date())]);
  if (login.status !== 0) throw new Error(`login failed: ${login.stderr}`);
}

async function latency(home: string, passFile: string, csr: string): Promise<number> {
  const walls: number[] = [];
  for (let i = 0; i < LATENCY_RUNS; i++) {
    const r = await runNode([CLI, "--home", home, "--passphrase-file", passFile, "issue", "device", "--csr", csr, "--json"]);
    if (r.status !== 0) throw new Error(`issue device failed: ${r.stdout} ${r.stderr}`);
    walls.push(r.wallMs);
  }
  return median(walls);
}

/** `count` synthetic records straight into the database, in groups (the seed of a large plant). */
async function seed(url: string, count: number): Promise<void> {
  const db = await openDatabase(url, { max: 1 });
  const store = new PostgresInventory(db);
  const group = 10_000;
  for (let start = 0; start < count; start += group) {
    await store.putCertificates(syntheticRecords(start, Math.min(count, start + group)));
    if ((start / group) % 20 === 0) console.error(`[postgres] seeded ${fmt(Math.min(count, start + group))}`);
  }
  await db.close();
}

export async function postgresBench(dir: string, options: { certs: number; seed: number }): Promise<Row[]> {
  if (POSTGRES_MISSING) {
    console.error(`[postgres] skipped: ${POSTGRES_MISSING}`);
    return [];
  }
  const passFile = join(dir, "pg-pass.txt");
  writeFileSync(passFile, `${PASS}\n`);
  const server = startPostgres({ durable: true });
  try {
    const admin = new pg.Client({ host: server.host, user: "postgres", database: "postgres" });
    await admin.connect();
    await admin.query("CREATE DATABASE bench");
    await admin.end();
    const url = `postgres:///bench?host=${encodeURIComponent(server.host)}&user=postgres`;

    console.error(`[postgres] writing 4 × ${fmt(options.certs)} CSRs`);
    const csrDirs = [0, 1, 2, 3].map((i) => join(dir, `pg-csr-${i}`));
    csrDirs.forEach((d, i) => writeCsrs(d, options.certs, `line${i}`));

    // Baseline: one batch into an embedded home, this run.
    const embedded = join(dir, "pg-embedded");
    await initAndLogin(embedded, passFile, []);
    flushDirtyPages();
    const single = await runNode([CLI, "--home", embedded, "--passphrase-file", passFile, "--json", "issue", "batch", "--csr-dir", csrDirs[0]!, "--out-dir", join(dir, "pg-e-out"), "--batch", "E"]);
    if (single.status !== 0) throw new Error(`embedded batch failed: ${single.stderr}`);
    const embeddedRate = options.certs / (single.wallMs / 1000);
    console.error(`[postgres] embedded single batch: ${fmt(embeddedRate)} certs/s`);

    // The plant: one home in PostgreSQL, four station folders (store.json and the key files).
    const plant = join(dir, "pg-plant");
    await initAndLogin(plant, passFile, ["--store", url]);
    const stations = [0, 1, 2, 3].map((i) => {
      const folder = join(dir, `pg-station-${i}`);
      cpSync(plant, folder, { recursive: true });
      return folder;
    });
    const { defaultSessionFile } = await import("../cli/credential.js");
    const session = defaultSessionFile(plant);
    flushDirtyPages();
    const started = performance.now();
    const runs = await Promise.all(
      stations.map((home, i) =>
        runNode([CLI, "--home", home, "--passphrase-file", passFile, "--session-file", session, "--station", `line-${i}`, "--json", "issue", "batch", "--csr-dir", csrDirs[i]!, "--out-dir", join(dir, `pg-out-${i}`), "--batch", `L${i}`]),
      ),
    );
    const wall = performance.now() - started;
    runs.forEach((r, i) => {
      if (r.status !== 0) throw new Error(`station ${i} failed: ${r.stderr}`);
    });
    const aggregate = (4 * options.certs) / (wall / 1000);
    const check = new pg.Client({ connectionString: url });
    await check.connect();
    const counted = (await check.query<{ n: string; d: string }>("SELECT count(*) AS n, count(DISTINCT serial) AS d FROM certificates WHERE batch LIKE 'L%'")).rows[0]!;
    await check.end();
    const written = stations.reduce((n, _, i) => n + readdirSync(join(dir, `pg-out-${i}`)).filter((f) => f.endsWith(".cert.pem") || f.endsWith(".pem")).length, 0);
    const complete = Number(counted.n) === 4 * options.certs && Number(counted.d) === 4 * options.certs;
    console.error(`[postgres] 4 stations: ${fmt(aggregate)} certs/s aggregate, ${counted.n} records (${counted.d} distinct), ${written} files written`);

    // One issue device: embedded vs PostgreSQL, empty, then PostgreSQL with the seed.
    const csr = join(dir, "pg-one.csr");
    writeFileSync(csr, toPem(createCsr(newKeyPair("ec", { namedCurve: "P-256" }).privateKey, "one-device"), "CERTIFICATE REQUEST"));
    const embeddedMs = await latency(embedded, passFile, csr);
    const pgMs = await latency(plant, passFile, csr);
    console.error(`[postgres] issue device: embedded ${fmt(embeddedMs)} ms, PostgreSQL ${fmt(pgMs)} ms; seeding ${fmt(options.seed)} records`);
    await seed(url, options.seed);
    const pgSeededMs = await latency(plant, passFile, csr);
    console.error(`[postgres] issue device with ${fmt(options.seed)} records: ${fmt(pgSeededMs)} ms`);

    return [
      {
        suite: "postgres",
        metric: `4 stations × ${fmt(options.certs)} CSRs into one PostgreSQL at once (every record once: ${complete ? "yes" : "NO"})`,
        value: `${fmt(aggregate)} certs/s`,
        baseline: `embedded, one batch ${fmt(embeddedRate)}/s`,
        ratio: `${fmt(aggregate / embeddedRate, 2)}x`,
        target: ">= 2,000/s, no loss, no duplicate",
        ok: aggregate >= 2000 && complete,
      },
      {
        suite: "postgres",
        metric: "one `issue device`, empty inventory (median of 7)",
        value: `${fmt(pgMs)} ms`,
        baseline: `embedded ${fmt(embeddedMs)} ms`,
        ratio: `${fmt(pgMs / embeddedMs, 2)}x`,
        target: "<= 1.5x",
        ok: pgMs <= 1.5 * embeddedMs,
      },
      {
        suite: "postgres",
        metric: `one \`issue device\`, ${fmt(options.seed)} records in PostgreSQL`,
        value: `${fmt(pgSeededMs)} ms`,
        baseline: `PostgreSQL empty ${fmt(pgMs)} ms`,
        ratio: `${fmt(pgSeededMs / pgMs, 2)}x`,
        target: "<= 1.2x (flat)",
        ok: pgSeededMs <= 1.2 * pgMs,
      },
    ];
  } finally {
    server.stop();
  }
}
