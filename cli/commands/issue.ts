import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import {
  generateDeviceCertificate,
  type IssuedCertificate,
  issueDeviceCertificate,
  issueSignerCertificate,
  type KeyAlgorithm,
  TrustlineError,
} from "../../ca/index.js";
import { emit, examples, note, openHome } from "../context.js";
import { ensureDir, readInput, writeOutput } from "../files.js";

function parseDays(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TrustlineError("USAGE", `--days must be a whole number of days, not "${v}"`);
  return n;
}

function issuedJson(issued: IssuedCertificate, files: Record<string, string>) {
  const { der: _der, ...record } = issued.record;
  void _der;
  return { ...record, pem: issued.pem, chain: issued.chain, files };
}

function describeIssued(issued: IssuedCertificate): string {
  const r = issued.record;
  return `Issued ${r.profile} certificate ${r.subject}\n  serial ${r.serial}\n  CA ${r.ca}, valid ${r.notBefore} .. ${r.notAfter}\n  operator ${r.operator}, station ${r.station}${r.batch ? `, batch ${r.batch}` : ""}`;
}

/** Refuse before issuing when an output exists: a refused write must not leave an orphan certificate. */
function assertFree(paths: readonly string[], force: boolean): void {
  if (force) return;
  for (const p of paths) if (existsSync(p)) throw new TrustlineError("ALREADY_EXISTS", `${p} already exists; refusing to overwrite it (use --force)`);
}

export function issueCommand(): Command {
  const issue = new Command("issue").description("issue certificates: devices and firmware signers");

  issue
    .command("device")
    .description("issue a device identity certificate from the device's CSR (CN = DPS registration ID), or generate key + certificate")
    .option("--csr <file>", "the device's PKCS#10 request (PEM or DER)")
    .option("--generate <registration-id>", "generate the device key here (for devices that cannot)")
    .option("--out-dir <dir>", "with --generate: where key, certificate and chain are written")
    .option("--ca <name>", "issuing CA", "device")
    .option("--batch <id>", "production batch id, recorded with the certificate")
    .option("--out <file>", "with --csr: write the certificate here instead of stdout")
    .option("--chain", "with --out: append the issuing CA chain (not the root)")
    .option("--days <n>", "validity in days (default: the profile's)", parseDays)
    .addOption(new Option("--algorithm <alg>", "with --generate: device key algorithm").choices(["p256", "p384", "rsa2048", "rsa3072"]).default("p256"))
    .option("--force", "overwrite existing output files")
    .addHelpText(
      "after",
      examples(
        "trustline issue device --csr dev-0001.csr --batch B-2026-11 --station line-7 --out dev-0001.pem --chain",
        "trustline issue device --generate dev-0002 --out-dir ./out --json",
      ),
    )
    .action(async (opts: { csr?: string; generate?: string; outDir?: string; ca: string; batch?: string; out?: string; chain?: boolean; days?: number; algorithm: KeyAlgorithm; force?: boolean }, command: Command) => {
      if ((opts.csr === undefined) === (opts.generate === undefined)) throw new TrustlineError("USAGE", "give exactly one of --csr <file> or --generate <registration-id>");
      const common = { ca: opts.ca, ...(opts.batch ? { batch: opts.batch } : {}), ...(opts.days !== undefined ? { validityDays: opts.days } : {}) };
      const force = opts.force === true;
      if (opts.csr !== undefined) {
        const csr = readInput(opts.csr, "CSR");
        if (opts.out) assertFree([opts.out], force);
        const home = await openHome(command, true);
        const issued = await issueDeviceCertificate(home, csr, common);
        const files: Record<string, string> = {};
        if (opts.out) {
          writeOutput(opts.out, issued.pem + (opts.chain ? issued.chain.join("") : ""), { force });
          files.certificate = opts.out;
        }
        emit(command, issuedJson(issued, files), () => (opts.out ? `${describeIssued(issued)}\n  wrote ${opts.out}` : issued.pem + (opts.chain ? issued.chain.join("") : "")));
        if (!opts.out) note(command, describeIssued(issued));
        return;
      }
      if (!opts.outDir) throw new TrustlineError("USAGE", "--generate needs --out-dir <dir> for the key, certificate and chain");
      const id = opts.generate!;
      const safe = id.replace(/[^A-Za-z0-9._:-]/g, "_");
      const paths = { key: join(opts.outDir, `${safe}.key.pem`), certificate: join(opts.outDir, `${safe}.cert.pem`), chain: join(opts.outDir, `${safe}.chain.pem`) };
      ensureDir(opts.outDir);
      assertFree(Object.values(paths), force);
      const home = await openHome(command, true);
      const generated = await generateDeviceCertificate(home, id, { ...common, algorithm: opts.algorithm });
      writeOutput(paths.key, generated.privateKeyPem, { force, mode: 0o600 });
      writeOutput(paths.certificate, generated.pem, { force });
      writeOutput(paths.chain, generated.pem + generated.chain.join(""), { force });
      emit(command, issuedJson(generated, paths), () => `${describeIssued(generated)}\n  wrote ${paths.key} (private key, mode 600), ${paths.certificate}, ${paths.chain}`);
    });

  issue
    .command("signer")
    .description("issue a firmware-signing certificate to a person or a CI pipeline")
    .requiredOption("--csr <file>", "the signer's PKCS#10 request (PEM or DER)")
    .requiredOption("--name <who>", "who signs: a person or a pipeline, e.g. 'ci-release-pipeline'")
    .option("--ca <name>", "issuing CA", "firmware")
    .option("--out <file>", "write the certificate here instead of stdout")
    .option("--chain", "with --out: append the issuing CA chain (not the root)")
    .option("--days <n>", "validity in days (default: the profile's)", parseDays)
    .option("--force", "overwrite --out if it exists")
    .addHelpText("after", examples("trustline issue signer --csr ci.csr --name ci-release-pipeline --out ci-signer.pem --chain"))
    .action(async (opts: { csr: string; name: string; ca: string; out?: string; chain?: boolean; days?: number; force?: boolean }, command: Command) => {
      const csr = readInput(opts.csr, "CSR");
      const force = opts.force === true;
      if (opts.out) assertFree([opts.out], force);
      const home = await openHome(command, true);
      const issued = await issueSignerCertificate(home, csr, opts.name, { ca: opts.ca, ...(opts.days !== undefined ? { validityDays: opts.days } : {}) });
      const files: Record<string, string> = {};
      if (opts.out) {
        writeOutput(opts.out, issued.pem + (opts.chain ? issued.chain.join("") : ""), { force });
        files.certificate = opts.out;
      }
      emit(command, issuedJson(issued, files), () => (opts.out ? `${describeIssued(issued)}\n  wrote ${opts.out}` : issued.pem + (opts.chain ? issued.chain.join("") : "")));
      if (!opts.out) note(command, describeIssued(issued));
    });

  return issue;
}
