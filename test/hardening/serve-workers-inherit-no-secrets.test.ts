/**
 * `serve --workers`: the passphrase reaches the worker processes over their IPC channel only. A
 * worker's environment (readable in /proc/<pid>/environ) holds no TRUSTLINE_PASSPHRASE nor any other
 * secret variable, even when the operator started the server with it in the environment.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { SECRET_ENVIRONMENT } from "../../ca/secret-environment.js";
import { PASSPHRASE, tempDir } from "../helpers/pki.js";
import { childrenOf, startServeProcess } from "../helpers/serve-process.js";
import { initCliHome, type TestHome } from "../cli/cli-helpers.js";

let t: { dir: string; cleanup: () => void };
let h: TestHome;
before(() => {
  t = tempDir("trustline-serve-env-");
  h = initCliHome(t.dir);
});
after(() => t.cleanup());

test("no secret in the environment of the worker processes", async () => {
  const secrets: Record<string, string> = Object.fromEntries(SECRET_ENVIRONMENT.map((name) => [name, `secret-value-of-${name}`]));
  // The sign-in secrets must be real for serve to sign in (it publishes CRLs): alice's session token, and no code.
  secrets.TRUSTLINE_SESSION = readFileSync(h.sessionFile, "utf8").trim();
  secrets.TRUSTLINE_TOTP = "";
  // It answering at all shows the workers received the passphrase over IPC.
  const server = await startServeProcess(["--home", h.home], ["--workers", "2"], { ...process.env, ...secrets, TRUSTLINE_PASSPHRASE: PASSPHRASE });
  try {
    const workers = childrenOf(server.process.pid!);
    assert.equal(workers.length, 2, `worker pids ${workers.join(", ")}`);
    for (const pid of workers) {
      const environ = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      for (const name of SECRET_ENVIRONMENT) assert.ok(!environ.some((e) => e.startsWith(`${name}=`)), `worker ${pid} inherited ${name}`);
      assert.ok(!environ.some((e) => e.includes(PASSPHRASE)), `worker ${pid} holds the passphrase in its environment`);
      assert.ok(environ.some((e) => e.startsWith("PATH=")), "the rest of the environment is inherited");
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});
