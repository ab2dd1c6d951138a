/**
 * A reader that stops early (`trustline <command> --help | head`) closes the CLI's stdout: the CLI
 * ends quietly, exit 0 for help, and no stack trace on stderr.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { CLI } from "../helpers/pki.js";

function runClosingEarly(args: readonly string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // Close our end at once, as `head` does once it has what it wants: every write of the CLI meets a closed pipe.
    child.stdout.destroy();
    child.once("exit", (status) => resolve({ status, stderr }));
  });
}

for (const args of [["cert", "list", "--help"], ["issue", "--help"], ["--help"]]) {
  test(`trustline ${args.join(" ")} | head: exit 0, no stack trace`, async () => {
    const r = await runClosingEarly(args);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /EPIPE|at .*\(|Error/);
  });
}
