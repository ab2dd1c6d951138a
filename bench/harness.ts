/** Benchmark plumbing: timing child processes, peak RSS, the result table. */
import { type Credential, initHome } from "../ca/index.js";
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(fileURLToPath(import.meta.url), "../../..");
export const CLI = resolve(REPO, "dist/cli/main.js");
const RSS_REPORTER = resolve(REPO, "bench/report-rss.cjs");

export interface Run {
  readonly wallMs: number;
  readonly maxRssKb: number;
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A bench home's first admin signs in as a service account holding every writing role (benches
 * measure issuing, not sign-in): the library's credential for it.
 */
export async function benchHome(homeDir: string, passphrase: () => Promise<string>, storeUrl?: string): Promise<{ credential: Extract<Credential, { kind: "service-token" }> }> {
  const init = await initHome({ home: homeDir, organization: "Bench", passphrase, operator: "bench", firstAdmin: { roles: ["admin", "officer", "issuer"], authenticator: { kind: "service" } }, ...(storeUrl ? { store: { url: storeUrl } } : {}) });
  return { credential: { kind: "service-token", token: init.firstAdmin.token! } };
}

/** Run `node [args]` with the RSS reporter preloaded; wall time from spawn to exit. */
export function runNode(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["-r", RSS_REPORTER, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => {
      const wallMs = performance.now() - started;
      const m = /TRUSTLINE_BENCH_MAXRSS_KB (\d+)/.exec(stderr);
      resolvePromise({ wallMs, maxRssKb: m ? Number(m[1]) : NaN, status: code ?? -1, stdout, stderr: stderr.replace(/\nTRUSTLINE_BENCH_MAXRSS_KB \d+\n/, "") });
    });
  });
}

export function runSync(cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Write back the dirty pages a set-up phase left (10,000 fresh CSR files, say) before a timed
 * phase starts, so the kernel's write-back does not run on the two cores during the measurement.
 */
export function flushDirtyPages(): void {
  runSync("sync", []);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Row {
  readonly suite: string;
  readonly metric: string;
  readonly value: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly ok: boolean | undefined;
}

export function printTable(rows: readonly Row[]): void {
  const header = ["suite", "metric", "trustline", "baseline (same run)", "ratio", "target", "ok"];
  const cells = rows.map((r) => [r.suite, r.metric, r.value, r.baseline, r.ratio, r.target, r.ok === undefined ? "" : r.ok ? "yes" : "NO"]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const c of cells) console.log(line(c));
}

export const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
