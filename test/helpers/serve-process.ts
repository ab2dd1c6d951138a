/**
 * `trustline serve` as its own process, the way an operator runs it: started on a random port,
 * waited for until /healthz answers, stopped with SIGTERM. And the processes it forked.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { CLI, STATE_HOME } from "./pki.js";

export interface ServeProcess {
  readonly url: string;
  readonly process: ChildProcess;
  /** What the server wrote on stderr so far (for assertion messages). */
  stderr(): string;
  /** SIGTERM, then its exit code (undefined when it did not end within 5 s). */
  stop(): Promise<number | null | undefined>;
}

/** Start `trustline <globalArgs> serve --port <random> <serveArgs>` with `env`, and wait until it answers. */
export async function startServeProcess(globalArgs: readonly string[], serveArgs: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [CLI, ...globalArgs, "serve", "--port", String(port), ...serveArgs], { env: { XDG_STATE_HOME: STATE_HOME, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill("SIGTERM");
    return Promise.race([exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 5000))]);
  };
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) return { url, process: child, stderr: () => stderr, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error(`trustline serve did not answer on ${url} within 10 s: ${stderr}`);
}

/** The processes whose parent is `pid` (field 4 of /proc/<pid>/stat, after the command name). */
export function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
