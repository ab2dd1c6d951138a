/**
 * `trustline <command> --help | head`: a reader that closes the pipe early is not a failure. The
 * CLI ends quietly (exit 0 for help, nothing on stderr, no EPIPE stack trace), and a command keeps
 * its own exit status.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { CLI, STATE_HOME, tempDir } from "../helpers/pki.js";
import { initCliHome, type TestHome } from "./cli-helpers.js";

/** Run the CLI with its stdout pipe closed by the reader before anything is written. */
function runWithClosedStdout(args: readonly string[]): Promise<{ status: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", XDG_STATE_HOME: STATE_HOME } });
    child.stdout.destroy(); // the reader is gone: every write of the CLI meets EPIPE
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status, signal) => resolve({ status, signal, stderr }));
  });
}

describe("a closed stdout", { timeout: 60_000 }, () => {
  let t: ReturnType<typeof tempDir>;
  let h: TestHome;
  before(() => {
    t = tempDir("trustline-cli-epipe-");
    h = initCliHome(t.dir);
  });
  after(() => t.cleanup());

  for (const args of [["--help"], ["init", "--help"], ["issue", "device", "--help"], ["firmware", "verify", "--help"], ["cert", "--help"]]) {
    test(`trustline ${args.join(" ")} | (closed): exit 0, no trace`, async () => {
      const r = await runWithClosedStdout(args);
      assert.deepEqual(r, { status: 0, signal: null, stderr: "" });
    });
  }

  test("a command that prints keeps its own status: ca list → 0, an unknown serial → 3 with its one-line error", async () => {
    assert.deepEqual(await runWithClosedStdout([...h.gNoPass, "ca", "list"]), { status: 0, signal: null, stderr: "" });
    const missing = await runWithClosedStdout([...h.gNoPass, "cert", "show", "0badc0de"]);
    assert.equal(missing.status, 3);
    assert.match(missing.stderr, /^trustline: no certificate with serial 0badc0de .*\[NOT_FOUND\]\n$/);
  });
});
