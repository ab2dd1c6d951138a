/**
 * `serve --workers`: the passphrase reaches the worker processes over their IPC channel only. A
 * worker's environment (readable in /proc/<pid>/environ) holds no TRUSTLINE_PASSPHRASE nor any other
 * secret variable, even when the operator started the server with it in the environment.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { SECRET_ENVIRONMENT } from "../../ca/secret-environment.js";
import { CLI, PASSPHRASE, tempDir } from "../helpers/pki.js";
import { initCliHome, type TestHome } from "../cli/cli-helpers.js";

let t: { dir: string; cleanup: () => void };
let h: TestHome;
before(() => {
  t = tempDir("trustline-serve-env-");
  h = initCliHome(t.dir);
});
after(() => t.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function childrenOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // Field 4 of /proc/<pid>/stat is the parent pid (after the parenthesised command name).
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

test("no secret in the environment of the worker processes", async () => {
  const secrets = Object.fromEntries(SECRET_ENVIRONMENT.map((name) => [name, `secret-value-of-${name}`]));
  const port = 21_000 + Math.floor(Math.random() * 20_000);
  const server = spawn(process.execPath, [CLI, "--home", h.home, "serve", "--port", String(port), "--workers", "2"], {
    stdio: "ignore",
    env: { ...process.env, ...secrets, TRUSTLINE_PASSPHRASE: PASSPHRASE },
  });
  const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));
  try {
    let up = false;
    for (let i = 0; i < 100 && !up; i++) {
      up = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!up) await sleep(100);
    }
    assert.ok(up, "the workers answer: they received the passphrase over IPC");
    const workers = childrenOf(server.pid!);
    assert.equal(workers.length, 2, `worker pids ${workers.join(", ")}`);
    for (const pid of workers) {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      for (const name of SECRET_ENVIRONMENT) assert.ok(!environ.some((e) => e.startsWith(`${name}=`)), `worker ${pid} inherited ${name}`);
      assert.ok(!environ.some((e) => e.includes(PASSPHRASE)), `worker ${pid} holds the passphrase in its environment`);
      assert.ok(environ.some((e) => e.startsWith("PATH=")), "the rest of the environment is inherited");
    }
  } finally {
    server.kill("SIGTERM");
  }
  assert.equal(await Promise.race([exited, sleep(5000).then(() => "timeout")]), 0);
});
