import { basename, join, resolve } from "node:path";
import { Command, Option } from "commander";
import {
  devicePkcs12,
  generateDeviceCertificate,
  issueBatchFromFolder,
  enrollFolderThroughEst,
  EST_BATCH_IN_FLIGHT,
  countCsrFiles,
  type IssuedCertificate,
  issueDeviceCertificate,
  issueSignerCertificate,
  type KeyAlgorithm,
  TrustlineError,
  withoutDer,
} from "../../ca/index.js";
import { emit, examples, globals, note, openHome } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { estClientFrom, type EstClientFlags } from "./enroll.js";
import { readSecretFile } from "../passphrase.js";
import { assertWritable, ensureDir, readInput, writeOutput } from "../files.js";

function parseDays(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TrustlineError("USAGE", `--days must be a whole number of days, not "${v}"`);
  return n;
}

function issuedJson(issued: IssuedCertificate, files: Record<string, string>) {
  const record = withoutDer(issued.record);
  return { ...record, pem: issued.pem, chain: issued.chain, files };
}

function describeIssued(issued: IssuedCertificate): string {
  const r = issued.record;
  return `Issued ${r.profile} certificate ${r.subject}\n  serial ${r.serial}\n  CA ${r.ca}, valid ${r.notBefore} .. ${r.notAfter}\n  operator ${r.operator}, station ${r.station}${r.batch ? `, batch ${r.batch}` : ""}`;
}

/**
 * Write what was issued. The record is durable by now, so a failure here is not a refused input:
 * DELIVERY_FAILED (exit 4) with the serial, and how to deliver it again.
 */
function delivering(issued: IssuedCertificate, write: () => void, generatedKey = false): void {
  try {
    write();
  } catch (e) {
    const serial = issued.record.serial;
    const why = e instanceof Error ? e.message : String(e);
    throw new TrustlineError(
      "DELIVERY_FAILED",
      generatedKey
        ? `certificate ${serial} was issued and recorded, but its files could not be written (${why}); the generated private key is lost, so revoke it: trustline revoke ${serial} --reason superseded`
        : `certificate ${serial} was issued and recorded, but it could not be written (${why}); deliver it again with: trustline cert show ${serial} --out <file>`,
      { cause: e, details: { serial } },
    );
  }
}

/** Hand out an issued certificate: to --out (with the chain on --chain) or stdout; the trace on stderr or in JSON. */
function deliver(command: Command, issued: IssuedCertificate, opts: { out?: string; chain?: boolean; force?: boolean }): void {
  const text = issued.pem + (opts.chain ? issued.chain.join("") : "");
  if (opts.out) delivering(issued, () => writeOutput(opts.out!, text, { force: opts.force === true }));
  emit(command, issuedJson(issued, opts.out ? { certificate: opts.out } : {}), () => (opts.out ? `${describeIssued(issued)}\n  wrote ${opts.out}` : text));
  if (!opts.out) note(command, describeIssued(issued));
}

/**
 * Refuse before issuing when an output cannot be written (it exists, or its folder is missing or
 * read-only): a refused write must not leave an issued certificate nobody received.
 */
function assertFree(paths: readonly string[], force: boolean): void {
  for (const p of paths) assertWritable(p, force);
}

/** Checked before anything is issued: a certificate must not be signed for a delivery that cannot happen. */
function pkcs12Password(file: string | undefined): string {
  if (file) {
    const password = readSecretFile(file, "PKCS#12 passphrase", "INPUT_INVALID");
    if (password.length === 0) throw new TrustlineError("INPUT_INVALID", `the PKCS#12 passphrase file ${file} is empty; nothing was issued`);
    return password;
  }
  const env = process.env.TRUSTLINE_PKCS12_PASSPHRASE;
  if (env) return env;
  throw new TrustlineError("PASSPHRASE_REQUIRED", "--pkcs12 needs a password: --pkcs12-passphrase-file <file> or TRUSTLINE_PKCS12_PASSPHRASE");
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
    .option("--pkcs12", "with --generate: write <id>.p12 (key + certificate + chain) instead of the plain key file")
    .option("--pkcs12-passphrase-file <file>", "password for the .p12 (or env TRUSTLINE_PKCS12_PASSPHRASE)")
    .option("--force", "overwrite existing output files")
    .addHelpText(
      "after",
      examples(
        "trustline issue device --csr dev-0001.csr --batch B-2026-11 --station line-7 --out dev-0001.pem --chain",
        "trustline issue device --generate dev-0002 --out-dir ./out --json",
        "trustline issue device --generate dev-0003 --out-dir ./out --pkcs12 --pkcs12-passphrase-file ./p12-pass",
      ),
    )
    .action(async (opts: { csr?: string; generate?: string; outDir?: string; ca: string; batch?: string; out?: string; chain?: boolean; days?: number; algorithm: KeyAlgorithm; pkcs12?: boolean; pkcs12PassphraseFile?: string; force?: boolean }, command: Command) => {
      if ((opts.csr === undefined) === (opts.generate === undefined)) throw new TrustlineError("USAGE", "give exactly one of --csr <file> or --generate <registration-id>");
      const common = { ca: opts.ca, ...(opts.batch ? { batch: opts.batch } : {}), ...(opts.days !== undefined ? { validityDays: opts.days } : {}) };
      const force = opts.force === true;
      if (opts.csr !== undefined) {
        const csr = readInput(opts.csr, "CSR", globals(command).maxInputSize);
        if (opts.out) assertFree([opts.out], force);
        const home = await openHome(command, true);
        deliver(command, await issueDeviceCertificate(home, csr, common), opts);
        return;
      }
      if (!opts.outDir) throw new TrustlineError("USAGE", "--generate needs --out-dir <dir> for the key, certificate and chain");
      const id = opts.generate!;
      const safe = id.replace(/[^A-Za-z0-9._:-]/g, "_");
      const p12Password = opts.pkcs12 ? pkcs12Password(opts.pkcs12PassphraseFile) : undefined;
      const paths: Record<string, string> = {
        ...(opts.pkcs12 ? { pkcs12: join(opts.outDir, `${safe}.p12`) } : { key: join(opts.outDir, `${safe}.key.pem`) }),
        certificate: join(opts.outDir, `${safe}.cert.pem`),
        chain: join(opts.outDir, `${safe}.chain.pem`),
      };
      ensureDir(opts.outDir);
      assertFree(Object.values(paths), force);
      const home = await openHome(command, true);
      const generated = await generateDeviceCertificate(home, id, { ...common, algorithm: opts.algorithm });
      const p12 = p12Password !== undefined ? await devicePkcs12(generated, p12Password) : undefined;
      delivering(
        generated,
        () => {
          if (p12 !== undefined) writeOutput(paths.pkcs12!, p12, { force, mode: 0o600 });
          else writeOutput(paths.key!, generated.privateKeyPem, { force, mode: 0o600 });
          writeOutput(paths.certificate!, generated.pem, { force });
          writeOutput(paths.chain!, generated.pem + generated.chain.join(""), { force });
        },
        true,
      );
      emit(command, issuedJson(generated, paths), () => `${describeIssued(generated)}\n  wrote ${Object.values(paths).join(", ")} (private key files mode 600)`);
    });

  issue
    .command("batch")
    .description("issue device certificates for a whole folder of CSRs, under one batch id; resumable")
    .requiredOption("--csr-dir <dir>", "folder of PKCS#10 requests (PEM or DER), one per file")
    .requiredOption("--out-dir <dir>", "where <name>.pem is written for each <name>.csr")
    .option("--ca <name>", "issuing CA", "device")
    .option("--batch <id>", "batch id recorded with every certificate (default: the CSR folder's name)")
    .option("--chain", "append the issuing CA chain (not the root) to each certificate file")
    .option("--days <n>", "validity in days (default: the profile's)", parseDays)
    .option("--workers <n>", "worker threads (default: one per core)", (v) => Number(v))
    .option("--est <url>", "push the folder through a Trustline EST service instead of a local home (no CA key here)")
    .option("--cert <file>", "with --est: this station's certificate (env TRUSTLINE_EST_CERT)")
    .option("--key <file>", "with --est: its private key (env TRUSTLINE_EST_KEY)")
    .option("--cacert <file>", "with --est: the CA certificates that identify the server (env TRUSTLINE_EST_CACERT)")
    .option("--in-flight <n>", "with --est: requests in flight, each on its own connection (default 128)", (v) => Number(v))
    .addHelpText(
      "after",
      examples(
        "trustline issue batch --csr-dir ./delivery-2026-11 --out-dir ./certs --batch CM-2026-11 --station cm-intake",
        "trustline issue batch --csr-dir ./delivery-2026-11 --out-dir ./certs --batch CM-2026-11   # after a crash: issues only what is missing",
        "TRUSTLINE_SESSION_FILE=~/.shift trustline issue batch --est https://ca.plant:8443 --cert line-7.pem --key line-7.key --cacert root.pem --csr-dir ./delivery --out-dir ./certs --batch CM-2026-11",
      ) +
        "\nBad or refused CSRs are listed with their reasons; the good ones are still issued (exit status 3 when any was refused).\n",
    )
    .action(async (opts: { csrDir: string; outDir: string; ca: string; batch?: string; chain?: boolean; days?: number; workers?: number; est?: string; cert?: string; key?: string; cacert?: string; inFlight?: number }, command: Command) => {
      const batch = opts.batch ?? basename(resolve(opts.csrDir)).replace(/[^A-Za-z0-9._:-]/g, "-").replace(/^[^A-Za-z0-9]+/, "").slice(0, 64);
      if (opts.est !== undefined) return batchThroughEst(command, { ...opts, est: opts.est, batch });
      const total = countCsrFiles(opts.csrDir);
      const home = await openHome(command, true);
      const tty = process.stderr.isTTY && !globals(command).json;
      let last = 0;
      const summary = await issueBatchFromFolder(home, {
        maxRequestBytes: globals(command).maxInputSize,
        csrDir: opts.csrDir,
        outDir: opts.outDir,
        batch,
        ca: opts.ca,
        chain: opts.chain === true,
        ...(opts.days !== undefined ? { validityDays: opts.days } : {}),
        ...(opts.workers !== undefined ? { workers: opts.workers } : {}),
        onProgress: (p) => {
          if (!tty || p.elapsedMs - last < 200) return;
          last = p.elapsedMs;
          const done = p.issued + p.skipped + p.rejected;
          const rate = p.issued / (p.elapsedMs / 1000);
          const eta = rate > 0 ? Math.max(0, (total - done) / rate) : 0;
          process.stderr.write(`\r${done}/${total}  issued ${p.issued}  skipped ${p.skipped}  rejected ${p.rejected}  ${rate.toFixed(0)}/s  ETA ${eta.toFixed(0)} s   `);
        },
      });
      if (tty) process.stderr.write("\n");
      emit(command, summary, () =>
        [
          `Batch ${summary.batch} from CA ${summary.ca}: ${summary.total} requests`,
          `  issued   ${summary.issued} (${summary.certificatesPerSecond.toFixed(0)} certificates/s, ${(summary.durationMs / 1000).toFixed(1)} s)`,
          `  skipped  ${summary.skipped} (already issued in this batch${summary.restoredOutputs ? `; ${summary.restoredOutputs} missing outputs written again` : ""})`,
          `  rejected ${summary.rejected.length}`,
          ...summary.rejected.map((r) => `    ${printable(r.id)}: [${r.code}] ${printable(r.message)}`),
          ...(summary.duplicates.length ? [`  duplicates ${summary.duplicates.length} (the same request as another file: the same certificate, written for each name)`] : []),
          ...summary.duplicates.map((d) => `    ${printable(d.id)}: certificate ${d.serial}`),
          ...(summary.notDelivered.length ? [`  NOT DELIVERED ${summary.notDelivered.length} (issued and recorded, but the file could not be written) [DELIVERY_FAILED]`] : []),
          ...summary.notDelivered.map((d) => `    ${printable(d.id)}: ${printable(d.reason)}`),
          `  certificates in ${summary.outDir}`,
        ].join("\n"),
      );
      if (summary.notDelivered.length > 0) process.exitCode = EXIT.ENVIRONMENT;
      else if (summary.rejected.length > 0) process.exitCode = EXIT.INPUT_REJECTED;
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
      const csr = readInput(opts.csr, "CSR", globals(command).maxInputSize);
      const force = opts.force === true;
      if (opts.out) assertFree([opts.out], force);
      const home = await openHome(command, true);
      deliver(command, await issueSignerCertificate(home, csr, opts.name, { ca: opts.ca, ...(opts.days !== undefined ? { validityDays: opts.days } : {}) }), opts);
    });

  return issue;
}

/** `issue batch --est`: the folder through the EST service (ca/est/batch.ts). */
async function batchThroughEst(command: Command, opts: EstClientFlags & { csrDir: string; outDir: string; batch: string; chain?: boolean; inFlight?: number; days?: number; ca: string }): Promise<void> {
  if (opts.days !== undefined) throw new TrustlineError("USAGE", "--days is the service's to decide: the EST service issues with the profile's validity");
  if (opts.ca !== "device") throw new TrustlineError("USAGE", "with --est, name the CA in the URL: https://<host>:<port>/.well-known/est/<ca>");
  if (opts.inFlight !== undefined && !(Number.isInteger(opts.inFlight) && opts.inFlight >= 1 && opts.inFlight <= 256)) throw new TrustlineError("USAGE", "--in-flight is a whole number from 1 to 256");
  const inFlight = opts.inFlight ?? EST_BATCH_IN_FLIGHT;
  const total = countCsrFiles(opts.csrDir);
  const client = estClientFrom(command, opts, { session: true, connections: inFlight });
  const tty = process.stderr.isTTY && !globals(command).json;
  let last = 0;
  try {
    const summary = await enrollFolderThroughEst(client, {
      csrDir: opts.csrDir,
      outDir: opts.outDir,
      batch: opts.batch,
      chain: opts.chain === true,
      inFlight,
      maxRequestBytes: globals(command).maxInputSize,
      onProgress: (p) => {
        if (!tty || p.elapsedMs - last < 200) return;
        last = p.elapsedMs;
        process.stderr.write(`\r${p.done}/${total}  issued ${p.issued}  reused ${p.reused}  rejected ${p.rejected}  ${(p.issued / (p.elapsedMs / 1000)).toFixed(0)}/s   `);
      },
    });
    if (tty) process.stderr.write("\n");
    emit(command, { ...summary, service: client.base.href }, () =>
      [
        `Batch ${summary.batch} through ${client.base.href}: ${summary.total} requests`,
        `  issued   ${summary.issued} (${summary.certificatesPerSecond.toFixed(0)} certificates/s, ${(summary.durationMs / 1000).toFixed(1)} s)`,
        `  reused   ${summary.reused} (issued in this batch before: the same certificate, written again)`,
        `  skipped  ${summary.skipped} (their files already exist)`,
        `  rejected ${summary.rejected.length}`,
        ...summary.rejected.map((r) => `    ${printable(r.id)}: [${r.code}] ${printable(r.message)}`),
        ...(summary.notDelivered.length ? [`  NOT DELIVERED ${summary.notDelivered.length} (issued, but the file could not be written; run the batch again to write them) [DELIVERY_FAILED]`] : []),
        ...summary.notDelivered.map((d) => `    ${printable(d.output)}: ${printable(d.reason)}`),
        `  certificates in ${summary.outDir}`,
      ].join("\n"),
    );
    if (summary.notDelivered.length > 0) process.exitCode = EXIT.ENVIRONMENT;
    else if (summary.rejected.length > 0) process.exitCode = EXIT.INPUT_REJECTED;
  } finally {
    client.close();
  }
}

/** A file name as it may be printed on a terminal line: control characters escaped (a name may hold a newline). */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
