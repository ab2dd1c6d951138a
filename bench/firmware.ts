/**
 * Firmware (issue 5): sign and verify a 1 GiB image with the CLI, against `openssl dgst -sha256`
 * (the floor: reading and hashing the file) and `openssl cms -verify` on the same file.
 */
import { randomFillSync } from "node:crypto";
import { closeSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createCsr, exportCa, Home, issueCrl, issueSignerCertificate, newKeyPair } from "../ca/index.js";
import { benchHome, CLI, fmt, type Row, runNode } from "./harness.js";
import { spawnSync } from "node:child_process";

function writeImage(path: string, bytes: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.allocUnsafe(8 << 20);
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

function timed(cmd: string, args: readonly string[]): number {
  const started = performance.now();
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return performance.now() - started;
}

export async function firmwareBench(dir: string, options: { bytes: number }): Promise<Row[]> {
  const passphrase = async () => "bench passphrase";
  const homeDir = join(dir, "pki-fw");
  const { credential } = await benchHome(homeDir, passphrase);
  const home = await Home.open({ home: homeDir, passphrase, credential });
  const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
  const keyFile = join(dir, "signer.key");
  writeFileSync(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }) as string);
  const signer = await issueSignerCertificate(home, createCsr(privateKey, "bench"), "bench-pipeline");
  const certFile = join(dir, "signer.pem");
  writeFileSync(certFile, signer.pem + signer.chain.join(""));
  const root = join(dir, "root.pem");
  writeFileSync(root, await exportCa(home, "root"));
  const crls = ["firmware", "root"].map((ca) => join(dir, `${ca}.crl`));
  writeFileSync(crls[0]!, (await issueCrl(home, "firmware")).der);
  writeFileSync(crls[1]!, (await issueCrl(home, "root")).der);
  const image = join(dir, "image.bin");
  console.error(`[firmware] writing a ${fmt(options.bytes / 2 ** 30, 2)} GiB image…`);
  writeImage(image, options.bytes);
  const gib = options.bytes / 2 ** 30;

  // Warm the page cache once so every contender reads the same way.
  timed("openssl", ["dgst", "-sha256", image]);
  const dgstMs = Math.min(timed("openssl", ["dgst", "-sha256", image]), timed("openssl", ["dgst", "-sha256", image]));
  console.error("[firmware] trustline firmware sign…");
  const sign = await runNode([CLI, "firmware", "sign", image, "--cert", certFile, "--key", keyFile, "--version", "1.0", "--hardware", "bench", "--out", `${image}.p7s`, "--force"]);
  if (sign.status !== 0) throw new Error(sign.stderr);
  console.error("[firmware] trustline firmware verify…");
  const verify = await runNode([CLI, "firmware", "verify", image, "--signature", `${image}.p7s`, "--trust", root, "--crl", crls[0]!, "--crl", crls[1]!, "--hardware", "bench"]);
  if (verify.status !== 0) throw new Error(verify.stdout + verify.stderr);
  const cmsMs = timed("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", `${image}.p7s`, "-content", image, "-CAfile", root, "-purpose", "any", "-out", "/dev/null"]);
  const row = (what: string, run: { wallMs: number; maxRssKb: number }): Row => ({
    suite: "firmware",
    metric: `${what} ${fmt(gib, 0)} GiB image (CLI, process start to exit)`,
    value: `${fmt(run.wallMs / 1000, 2)} s, ${fmt(gib / (run.wallMs / 1000), 2)} GiB/s, ${fmt(run.maxRssKb / 1024)} MB RSS`,
    baseline: `openssl dgst -sha256 ${fmt(dgstMs / 1000, 2)} s`,
    ratio: `${fmt(run.wallMs / dgstMs, 2)}x`,
    target: "<= 1.2x, <= 120 MB",
    ok: run.wallMs / dgstMs <= 1.2 && run.maxRssKb / 1024 <= 120,
  });
  return [
    row("sign", sign),
    row("verify (chain, CRLs, manifest)", verify),
    { suite: "firmware", metric: "verify, against openssl cms -verify", value: `${fmt(verify.wallMs / 1000, 2)} s`, baseline: `openssl cms -verify ${fmt(cmsMs / 1000, 2)} s`, ratio: `${fmt(verify.wallMs / cmsMs, 2)}x`, target: "", ok: undefined },
  ];
}
