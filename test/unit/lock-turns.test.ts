/**
 * The home's file lock between processes: one that takes it back to back does not starve another
 * that waits. A child process holds the lock 5 ms at a time, again and again, for two seconds;
 * this process takes it twenty times meanwhile. Without turns, each of this process's tries (up
 * to 50 ms apart) almost never falls in the microseconds between the child's release and its next
 * take, and it waits until the child stops.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { withLock } from "../../ca/store/lock.js";
import { tempDir } from "../helpers/pki.js";

const t = tempDir();
after(() => t.cleanup());
const LOCK_MODULE = fileURLToPath(new URL("../../ca/store/lock.js", import.meta.url));

test("a process waiting for the lock gets its turn from one that takes it back to back; `.next` is gone after", async () => {
  const lock = join(t.dir, ".lock");
  const started = join(t.dir, "started");
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { withLock } from ${JSON.stringify(LOCK_MODULE)};
       import { writeFileSync } from "node:fs";
       const end = Date.now() + 2000;
       let held = 0;
       while (Date.now() < end) {
         await withLock(${JSON.stringify(lock)}, async () => { const until = Date.now() + 5; while (Date.now() < until); });
         if (++held === 3) writeFileSync(${JSON.stringify(started)}, "");
       }
       process.stdout.write(String(held));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", r));
  while (!existsSync(started)) await new Promise((r) => setTimeout(r, 5));

  const waits: number[] = [];
  for (let i = 0; i < 20; i++) {
    const asked = performance.now();
    await withLock(lock, async () => void waits.push(performance.now() - asked));
  }
  const stillRunning = child.exitCode === null;
  assert.equal(await exited, 0);
  assert.ok(stillRunning, "the child was still taking the lock when this process had taken it twenty times");
  // Each turn comes within a few of the child's 5 ms holds (generous for a loaded CI machine).
  assert.ok(Math.max(...waits) < 300, `waits: ${waits.map((w) => w.toFixed(0)).join(", ")} ms`);
  assert.ok(Number(out) > 20, `the child kept its share too: ${out} holds`);
  assert.equal(existsSync(`${lock}.next`), false);
  assert.equal(existsSync(lock), false);
});

test("a `.next` left by a dead or hostile process holds nobody up for long: 20 ms when fresh, not at all when stale, whatever its size", async () => {
  const lock = join(t.dir, "other.lock");
  const next = `${lock}.next`;
  writeFileSync(next, `999999 elsewhere\n${"x".repeat(32 * 1024 * 1024)}`); // fresh, someone else's, huge
  let asked = performance.now();
  await withLock(lock, async () => undefined);
  const fresh = performance.now() - asked;
  assert.ok(fresh >= 19 && fresh < 250, `a fresh marker: waited ${fresh.toFixed(1)} ms`);
  const old = new Date(Date.now() - 5_000);
  utimesSync(next, old, old);
  asked = performance.now();
  await withLock(lock, async () => undefined);
  const stale = performance.now() - asked;
  assert.ok(stale < 15, `a stale marker: waited ${stale.toFixed(1)} ms`);
  assert.equal(existsSync(next), true, "not ours: left where it is (a waiter that claims the turn removes a stale one)");
});
