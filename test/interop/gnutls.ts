/**
 * Helpers for the GnuTLS interop tests: GnuTLS 3.7 (Debian's gnutls-bin: certtool, ocsptool,
 * gnutls-serv, gnutls-cli) is the second referee, next to OpenSSL. .ci/run installs it; elsewhere
 * the tests skip, saying why.
 */
import { spawn, spawnSync } from "node:child_process";
import { connect } from "node:net";

export interface Run {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

function has(tool: string): boolean {
  const r = spawnSync(tool, ["--version"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** false, or the reason the GnuTLS tests skip (for node:test's `skip` option). */
export const GNUTLS_MISSING: false | string = (() => {
  const missing = ["certtool", "ocsptool", "gnutls-serv", "gnutls-cli"].filter((t) => !has(t));
  return missing.length === 0 ? false : `GnuTLS tools not installed (${missing.join(", ")}): install Debian's gnutls-bin (.ci/run does)`;
})();

/** Run a GnuTLS tool synchronously (never while this process serves a socket the tool talks to). */
export function gnutls(tool: string, args: readonly string[], options: { cwd?: string } = {}): Run {
  const r = spawnSync(tool, args, { encoding: "utf8", ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run a GnuTLS tool without blocking the event loop (against a server in this process). */
export function gnutlsAsync(tool: string, args: readonly string[], options: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { stdio: ["pipe", "pipe", "pipe"], ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill(), options.timeoutMs ?? 20_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** certtool's verdict line: "Chain verification output: ..." (--verify) or "Verification output: ..." (--verify-crl). */
export function verdictLine(output: string): string {
  return /^(?:Chain verification output|Verification output): (.*)$/m.exec(output)?.[1]?.trim() ?? `(no verdict in: ${output.slice(0, 400)})`;
}

/** Resolve once something accepts connections on 127.0.0.1:port (a server started as a child). */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
