/**
 * Helpers for the interop tests: OpenSSL (3.0) is the referee. Run it, read its text output, and
 * turn the bits the tests compare (extensions, dates, serials) into plain values.
 */
import { spawn, spawnSync } from "node:child_process";
import { FIXED_NOW } from "../helpers/pki.js";

/** `-attime` for `openssl verify`: FIXED_NOW + 1 day, so results do not depend on today's date. */
export const ATTIME = String(Math.floor(FIXED_NOW.getTime() / 1000) + 86_400);

export const DAY_MS = 86_400_000;

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run openssl synchronously (never while this process must serve a socket: use `opensslAsync`). */
export function openssl(args: readonly string[], options: { cwd?: string; input?: string | Uint8Array } = {}): Run {
  const r = spawnSync("openssl", args, {
    encoding: "utf8",
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run openssl and insist on exit 0; returns stdout. */
export function opensslOk(args: readonly string[], options: { cwd?: string; input?: string | Uint8Array } = {}): string {
  const r = openssl(args, options);
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * Run openssl without blocking the event loop (for s_client against a server in this process).
 * `onStdout` sees the stdout read so far and may end the child's stdin (s_client then says goodbye).
 */
export function opensslAsync(
  args: readonly string[],
  options: { cwd?: string; onStdout?: (stdoutSoFar: string, endStdin: () => void) => void } = {},
): { done: Promise<Run>; kill: () => void } {
  const child = spawn("openssl", args, { stdio: ["pipe", "pipe", "pipe"], ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  let stdout = "";
  let stderr = "";
  const endStdin = () => child.stdin!.end();
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    options.onStdout?.(stdout, endStdin);
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
  return { done, kill: () => child.kill() };
}

/** Certificates are written once and never changed by the tests, so their OpenSSL readings are cached. */
const readings = new Map<string, string>();
function cachedOpenssl(args: readonly string[]): string {
  const key = args.join("\0");
  let out = readings.get(key);
  if (out === undefined) readings.set(key, (out = opensslOk(args)));
  return out;
}

/** `openssl x509 -noout -text`. */
export function x509Text(path: string): string {
  return cachedOpenssl(["x509", "-in", path, "-noout", "-text"]);
}

/** One `openssl x509 -noout <flag>` value, e.g. field(p, "-serial") -> "55E2...", field(p, "-subject") -> "CN = dev-0001". */
export function x509Field(path: string, flag: "-serial" | "-subject" | "-issuer" | "-startdate" | "-enddate"): string {
  const out = cachedOpenssl(["x509", "-in", path, "-noout", flag]).trim();
  const eq = out.indexOf("=");
  if (eq < 0) throw new Error(`unexpected openssl output for ${flag}: ${out}`);
  return out.slice(eq + 1);
}

export interface ExtensionText {
  readonly critical: boolean;
  /** The extension's value lines as OpenSSL prints them, trimmed. */
  readonly lines: readonly string[];
}

/**
 * The "X509v3 extensions:" section of `openssl x509 -text`, by OpenSSL's display name
 * ("X509v3 Basic Constraints", "Authority Information Access", ...), in certificate order.
 */
export function extensions(text: string): Map<string, ExtensionText> {
  const out = new Map<string, ExtensionText>();
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === "X509v3 extensions:");
  if (start < 0) return out;
  let current: { critical: boolean; lines: string[] } | undefined;
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith("            ")) break; // the outer "Signature Algorithm:" ends the section
    if (!line.startsWith("             ")) {
      const m = /^ {12}(.+?):( critical)?\s*$/.exec(line);
      if (!m) throw new Error(`unexpected extension header: ${JSON.stringify(line)}`);
      current = { critical: m[2] !== undefined, lines: [] };
      out.set(m[1]!, current);
    } else if (current) {
      current.lines.push(line.trim());
    }
  }
  return out;
}

/** The extension `name`, failing the test with the whole listing when it is absent. */
export function extension(text: string, name: string): ExtensionText {
  const ext = extensions(text).get(name);
  if (!ext) throw new Error(`extension "${name}" not found in:\n${text}`);
  return ext;
}

/** A key identifier as OpenSSL prints it (upper-case hex with colons), without a "keyid:" prefix. */
export function keyId(text: string, name: "X509v3 Subject Key Identifier" | "X509v3 Authority Key Identifier"): string {
  const ext = extension(text, name);
  const id = ext.lines.map((l) => l.replace(/^keyid:/, "")).find((l) => /^[0-9A-F]{2}(:[0-9A-F]{2})+$/.test(l));
  if (!id) throw new Error(`${name} has no key identifier: ${ext.lines.join(" | ")}`);
  return id;
}

/** Every "Signature Algorithm:" line of `-text` (the TBS one and the outer one). */
export function signatureAlgorithms(text: string): string[] {
  return [...text.matchAll(/^\s*Signature Algorithm: (.+)$/gm)].map((m) => m[1]!.trim());
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** A date as OpenSSL 3.0 prints ASN1_TIME: "Mar  1 12:00:00 2026 GMT". */
export function opensslDate(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${d.getUTCFullYear()} GMT`;
}

export function parseOpensslDate(s: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4}) GMT$/.exec(s.trim());
  if (!m) throw new Error(`not an OpenSSL date: ${s}`);
  return new Date(Date.UTC(Number(m[6]), MONTHS.indexOf(m[1]!), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
}

export interface Asn1Line {
  readonly offset: number;
  readonly depth: number;
  readonly headerLength: number;
  readonly length: number;
  readonly kind: "prim" | "cons";
  readonly type: string;
  readonly value: string;
}

/** `openssl asn1parse` output, one entry per line. */
export function asn1parse(path: string, inform: "PEM" | "DER" = "PEM"): Asn1Line[] {
  const out = opensslOk(["asn1parse", "-in", path, "-inform", inform]);
  return out
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const m = /^\s*(\d+):d=(\d+)\s+hl=(\d+)\s+l=\s*(\d+)\s+(prim|cons):\s*(.*?)\s*(?::(.*))?$/.exec(l);
      if (!m) throw new Error(`unexpected asn1parse line: ${l}`);
      return {
        offset: Number(m[1]),
        depth: Number(m[2]),
        headerLength: Number(m[3]),
        length: Number(m[4]),
        kind: m[5] as "prim" | "cons",
        type: m[6]!.trim(),
        value: (m[7] ?? "").trim(),
      };
    });
}
