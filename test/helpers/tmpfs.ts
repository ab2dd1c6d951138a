/** Small tmpfs mounts, for the paths where a disk is full (root only; the tests that need one skip otherwise). */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./pki.js";

/** Mount a tmpfs of `size` at `dir`; false when this machine does not let us (not root, no mount). */
export function mountTmpfs(dir: string, size: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Fill a file system until it refuses: what is left is no space at all. */
export function fill(dir: string): void {
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(join(dir, `filler-${i}`), chunk);
    } catch {
      try {
        writeFileSync(join(dir, `filler-small-${i}`), Buffer.alloc(512, 1));
      } catch {
        return;
      }
    }
  }
}

/** Remove what `fill` wrote. */
export function unfill(dir: string): void {
  for (const f of readdirSync(dir)) if (f.startsWith("filler-")) rmSync(join(dir, f));
}

/** Whether this machine lets the tests mount a tmpfs (root, and a kernel that allows it here). */
export function probeMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = tempDir("trustline-mount-probe-");
  try {
    if (!mountTmpfs(join(probe.dir, "m"), "64k")) return false;
    execFileSync("umount", [join(probe.dir, "m")]);
    return true;
  } catch {
    return false;
  } finally {
    probe.cleanup();
  }
}
