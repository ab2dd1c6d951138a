/**
 * `npm run bench -- report`: the auditor's report over a home of 1,000,000 certificates (seeded
 * straight into the inventory, issued over the last 30 days by 5 operators at 10 stations in 100
 * batches): `trustline report` as JSON and as CSV, wall time from process start to exit and peak RSS,
 * against `trustline cert list --json` reading the same records in the same run.
 */
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { CLI, fmt, type Row, runNode } from "./harness.js";
import { initHome, seedInventory } from "./batch-issuance.js";

const DAY = 86_400_000;

export async function reportBench(dir: string, options: { records: number }): Promise<Row[]> {
  const home = join(dir, "pki-report");
  const passFile = join(dir, "report-pass.txt");
  writeFileSync(passFile, "bench passphrase\n", { mode: 0o600 });
  await initHome(home, passFile);
  const now = Date.now();
  console.error(`[report] seeding ${fmt(options.records)} records…`);
  await seedInventory(home, options.records, (i) => ({
    operator: `op-${i % 5}`,
    station: `line-${i % 10}`,
    batch: `B-${i % 100}`,
    issuedAt: new Date(now - 29 * DAY + Math.floor((i / options.records) * 29 * DAY)).toISOString(),
    notAfter: new Date(now + ((i % 400) + 1) * DAY).toISOString(),
  }));
  const g = ["--home", home];
  console.error("[report] cert list --json (baseline)…");
  const list = await runNode([CLI, ...g, "--json", "cert", "list"]);
  if (list.status !== 0) throw new Error(`cert list failed: ${list.stderr}`);
  console.error("[report] report --format json…");
  const json = await runNode([CLI, ...g, "--json", "report", "--out", join(dir, "report.json")]);
  if (json.status !== 0) throw new Error(`report failed: ${json.stderr}`);
  const issued = (JSON.parse(json.stdout) as { issued: number }).issued;
  if (issued < options.records) throw new Error(`the report counted ${issued} of ${options.records}`);
  console.error("[report] report --format csv…");
  const csv = await runNode([CLI, ...g, "--json", "report", "--format", "csv", "--out", join(dir, "report.csv")]);
  if (csv.status !== 0) throw new Error(`report csv failed: ${csv.stderr}`);
  const s = (ms: number) => `${fmt(ms / 1000, 1)} s`;
  const target = { time: 15_000, rss: 300 * 1024 };
  return [
    { suite: "report", metric: `JSON report over ${fmt(options.records)} certificates (process start to exit)`, value: s(json.wallMs), baseline: `cert list --json ${s(list.wallMs)}`, ratio: `${fmt(json.wallMs / list.wallMs, 2)}x`, target: "<= 15 s", ok: json.wallMs <= target.time },
    { suite: "report", metric: "CSV report, one row per certificate", value: s(csv.wallMs), baseline: `cert list --json ${s(list.wallMs)}`, ratio: `${fmt(csv.wallMs / list.wallMs, 2)}x`, target: "<= 15 s", ok: csv.wallMs <= target.time },
    { suite: "report", metric: "peak RSS JSON / CSV", value: `${fmt(json.maxRssKb / 1024)} / ${fmt(csv.maxRssKb / 1024)} MB`, baseline: `cert list --json ${fmt(list.maxRssKb / 1024)} MB`, ratio: "", target: "< 300 MB", ok: Math.max(json.maxRssKb, csv.maxRssKb) < target.rss },
  ];
}
