/**
 * Throwaway SoftHSM2 tokens for the PKCS#11 tests. SoftHSM reads its configuration (where tokens
 * live) from SOFTHSM2_CONF when the module is initialised, once per process: so a process gets one
 * token directory, and each test makes its own token in it, found by label.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./pki.js";

export const TOKEN_PIN = "1234-not-a-secret";
const SO_PIN = "5678-not-a-secret";

/** The SoftHSM2 module on this machine, or why there is none (tests skip with the reason). */
export function softhsmModule(): { path: string } | { skip: string } {
  if (spawnSync("softhsm2-util", ["--version"]).status !== 0) return { skip: "softhsm2-util is not installed (.ci/run installs softhsm2)" };
  const listed = spawnSync("dpkg", ["-L", "libsofthsm2"], { encoding: "utf8" }).stdout ?? "";
  const path = listed.split("\n").find((l) => l.endsWith("/libsofthsm2.so") && existsSync(l)) ?? ["/usr/lib/softhsm/libsofthsm2.so"].find(existsSync);
  return path ? { path } : { skip: "libsofthsm2.so not found" };
}

export interface SoftHsm {
  /** The environment a process needs to use these tokens through Trustline. */
  readonly env: Record<string, string>;
  readonly modulePath: string;
  readonly pinFile: string;
  readonly dir: string;
  /** Make a token (0.1 s); its label is returned. */
  token(label: string): string;
  cleanup(): void;
}

/** One token directory; `process.env.SOFTHSM2_CONF` points at it for in-process use. */
export function softhsm(modulePath: string): SoftHsm {
  const t = tempDir("trustline-softhsm-");
  mkdirSync(join(t.dir, "tokens"));
  const conf = join(t.dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${join(t.dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const pinFile = join(t.dir, "pin");
  writeFileSync(pinFile, `${TOKEN_PIN}\n`, { mode: 0o600 });
  process.env.SOFTHSM2_CONF = conf;
  const env = { SOFTHSM2_CONF: conf, TRUSTLINE_PKCS11_MODULE: modulePath, TRUSTLINE_PKCS11_PIN_FILE: pinFile };
  return {
    env,
    modulePath,
    pinFile,
    dir: t.dir,
    token(label: string) {
      execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", TOKEN_PIN], { env: { ...process.env, SOFTHSM2_CONF: conf }, stdio: "pipe" });
      return label;
    },
    cleanup: () => t.cleanup(),
  };
}
