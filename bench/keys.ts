/**
 * Where the issuing CA's key lives (issue 15): `trustline issue batch` end to end (CLI process
 * start to exit) with the issuing CA key in an encrypted file (the baseline, this run), on a
 * SoftHSM2 token, and in a loopback Key Vault that adds 20 ms to every answer and enforces 200
 * signatures/s with 429 + Retry-After, as an HSM P-256 key in Azure does. The root, the audit key
 * and the home stay as usual: only the issuing CA moves.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsr, newKeyPair, toPem } from "../ca/index.js";
import { startFakeKeyVault } from "../test/helpers/fake-keyvault.js";
import { softhsmModule } from "../test/helpers/softhsm.js";
import { CLI, fmt, type Row, runNode } from "./harness.js";

const PASS = "bench passphrase";
const VAULT_LIMIT = 200;

function writeCsrs(dir: string, count: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
    const id = `key-${String(i).padStart(6, "0")}`;
    writeFileSync(join(dir, `${id}.csr`), toPem(createCsr(privateKey, id), "CERTIFICATE REQUEST"));
  }
}

async function cli(args: readonly string[], env: Record<string, string>): Promise<{ wallMs: number; stdout: string }> {
  const r = await runNode([CLI, ...args], env);
  if (r.status !== 0) throw new Error(`trustline ${args.join(" ")} failed (${r.status}): ${r.stdout} ${r.stderr}`);
  return r;
}

/** A home with a file root and audit key, plus issuing CA `line` whose key is made at `store`; the batch rate. */
async function batchRate(dir: string, name: string, csrDir: string, count: number, store: string, env: Record<string, string>): Promise<number> {
  const home = join(dir, `pki-${name}`);
  const passFile = join(dir, "pass");
  const g = ["--home", home, "--passphrase-file", passFile];
  await cli([...g, "init", "--org", "Bench Devices"], env);
  await cli([...g, "ca", "create", "line", "--profile", "device-ca", "--key-store", store], env);
  const run = await cli([...g, "--json", "issue", "batch", "--ca", "line", "--csr-dir", csrDir, "--out-dir", join(dir, `out-${name}`), "--batch", `BENCH-${name}`], env);
  const summary = JSON.parse(run.stdout) as { issued: number };
  if (summary.issued !== count) throw new Error(`${name}: issued ${summary.issued} of ${count}`);
  const rate = count / (run.wallMs / 1000);
  console.error(`[keys] ${name}: ${fmt(count)} certificates in ${fmt(run.wallMs / 1000, 1)} s, ${fmt(rate)}/s`);
  return rate;
}

export async function keysBench(dir: string, options: { certs: number; vaultCerts: number }): Promise<Row[]> {
  writeFileSync(join(dir, "pass"), PASS);
  const csrDir = join(dir, "key-csrs");
  const vaultCsrDir = join(dir, "key-csrs-vault");
  console.error(`[keys] writing ${fmt(options.certs)} + ${fmt(options.vaultCerts)} CSR files…`);
  writeCsrs(csrDir, options.certs);
  writeCsrs(vaultCsrDir, options.vaultCerts);
  const rows: Row[] = [];

  const fileRate = await batchRate(dir, "file", csrDir, options.certs, "file:", {});

  const found = softhsmModule();
  if ("path" in found) {
    const module = found.path;
    const tokens = join(dir, "softhsm");
    mkdirSync(join(tokens, "tokens"), { recursive: true });
    writeFileSync(join(tokens, "conf"), `directories.tokendir = ${join(tokens, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    writeFileSync(join(tokens, "pin"), "1234\n");
    const env = { SOFTHSM2_CONF: join(tokens, "conf"), TRUSTLINE_PKCS11_MODULE: module, TRUSTLINE_PKCS11_PIN_FILE: join(tokens, "pin") };
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", "bench", "--so-pin", "5678", "--pin", "1234"], { env: { ...process.env, ...env }, stdio: "pipe" });
    const hsmRate = await batchRate(dir, "softhsm", csrDir, options.certs, "pkcs11:token=bench", env);
    rows.push({ suite: "keys", metric: `${fmt(options.certs)} P-256 certs, issuing CA key on SoftHSM2 (PKCS#11)`, value: `${fmt(hsmRate)} certs/s`, baseline: `key in a file ${fmt(fileRate)}/s`, ratio: `${fmt(hsmRate / fileRate, 2)}x`, target: ">= 1,500/s", ok: hsmRate >= 1500 });
  } else {
    console.error(`[keys] the PKCS#11 row is skipped: ${found.skip}`);
  }

  const vault = await startFakeKeyVault({ latencyMs: 20, signsPerSecond: VAULT_LIMIT });
  try {
    writeFileSync(join(dir, "vault-ca.pem"), vault.certificate);
    writeFileSync(join(dir, "vault-token"), "test-token\n");
    const env = { NODE_EXTRA_CA_CERTS: join(dir, "vault-ca.pem"), TRUSTLINE_AZURE_TOKEN_FILE: join(dir, "vault-token") };
    const vaultRate = await batchRate(dir, "keyvault", vaultCsrDir, options.vaultCerts, `azure-keyvault://${vault.host}/keys/`, env);
    console.error(`[keys] the vault answered ${fmt(vault.counts.signs)} signatures and throttled ${fmt(vault.counts.throttled)} requests`);
    rows.push({
      suite: "keys",
      metric: `${fmt(options.vaultCerts)} P-256 certs, issuing CA key in Key Vault (loopback, +20 ms, ${VAULT_LIMIT}/s enforced)`,
      value: `${fmt(vaultRate)} certs/s`,
      baseline: `vault limit ${VAULT_LIMIT}/s`,
      ratio: `${fmt((100 * vaultRate) / VAULT_LIMIT, 1)}%`,
      target: ">= 90% of the limit",
      ok: vaultRate >= 0.9 * VAULT_LIMIT,
    });
  } finally {
    await vault.close();
  }
  rows.unshift({ suite: "keys", metric: `${fmt(options.certs)} P-256 certs, issuing CA key in an encrypted file`, value: `${fmt(fileRate)} certs/s`, baseline: "", ratio: "", target: "", ok: undefined });
  return rows;
}
