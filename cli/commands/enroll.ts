import { Command } from "commander";
import { existsSync } from "node:fs";
import { EstClient, estBase, TrustlineError, csrDer, toPem } from "../../ca/index.js";
import { defaultEstSessionFile, readTokenFile } from "../credential.js";
import { emit, examples, globals } from "../context.js";
import { assertWritable, readInput, readPemInput, writeOutput } from "../files.js";

export interface EstClientFlags {
  readonly est: string;
  readonly cert?: string;
  readonly key?: string;
  readonly cacert?: string;
}

/**
 * An EST client from the flags (or TRUSTLINE_EST_CERT, TRUSTLINE_EST_KEY, TRUSTLINE_EST_CACERT) and,
 * when `session`, the operator's shift session (TRUSTLINE_SESSION, --session-file, TRUSTLINE_SESSION_FILE,
 * or the file `trustline login --est` wrote for this service).
 */
export function estClientFrom(command: Command, flags: EstClientFlags, options: { session: boolean; connections?: number }): EstClient {
  const cert = flags.cert ?? process.env.TRUSTLINE_EST_CERT;
  const key = flags.key ?? process.env.TRUSTLINE_EST_KEY;
  if (!cert || !key) throw new TrustlineError("USAGE", "--est needs this station's certificate and key: --cert <file> --key <file> (or TRUSTLINE_EST_CERT, TRUSTLINE_EST_KEY)");
  const cacert = flags.cacert ?? process.env.TRUSTLINE_EST_CACERT;
  let sessionToken: string | undefined;
  if (options.session) {
    const g = globals(command);
    sessionToken = process.env.TRUSTLINE_SESSION || undefined;
    const file = g.sessionFile ?? process.env.TRUSTLINE_SESSION_FILE;
    if (!sessionToken && file) sessionToken = readTokenFile(file, "session");
    if (!sessionToken) {
      // Where `trustline login --est <url>` wrote it.
      const fallback = defaultEstSessionFile(estBase(flags.est).href);
      if (existsSync(fallback)) sessionToken = readTokenFile(fallback, "session");
    }
  }
  return new EstClient({
    url: flags.est,
    certificatePem: readPemInput(cert, "certificate"),
    keyPem: readPemInput(key, "private key"),
    ...(cacert ? { trustPem: readPemInput(cacert, "CA certificate file") } : {}),
    ...(sessionToken ? { sessionToken } : {}),
    ...(options.connections !== undefined ? { connections: options.connections } : {}),
  });
}

export function enrollCommand(): Command {
  return new Command("enroll")
    .description("get a device certificate from a Trustline EST service (RFC 7030) over mutual TLS: no CA key on this machine")
    .requiredOption("--est <url>", "the EST service, e.g. https://ca.plant:8443 (a CA label: https://ca.plant:8443/.well-known/est/plant-lyon)")
    .requiredOption("--csr <file>", "the device's PKCS#10 request (PEM or DER)")
    .requiredOption("--out <file>", "where the certificate is written (PEM)")
    .option("--cert <file>", "this station's certificate (env TRUSTLINE_EST_CERT); with --renew, the device's current certificate")
    .option("--key <file>", "its private key (env TRUSTLINE_EST_KEY)")
    .option("--cacert <file>", "the CA certificates that identify the server (env TRUSTLINE_EST_CACERT; default: the system's)")
    .option("--renew", "simplereenroll: renew the certificate given with --cert (same subject; in its renewal window)")
    .option("--chain", "append the issuing CA chain (not the root) to --out")
    .option("--force", "overwrite --out if it exists")
    .addHelpText(
      "after",
      examples(
        "TRUSTLINE_SESSION_FILE=~/.shift trustline enroll --est https://ca.plant:8443 --cert line-7.pem --key line-7.key --cacert root.pem --csr dev-0001.csr --out dev-0001.pem",
        "trustline enroll --renew --est https://ca.plant:8443 --cert dev-0001.pem --key dev-0001.key --cacert root.pem --csr dev-0001-next.csr --out dev-0001-next.pem",
      ) + "\nThe operator's shift session comes from `trustline login --est <url>` at this station (or TRUSTLINE_SESSION, --session-file, TRUSTLINE_SESSION_FILE); a renewal needs none.\n",
    )
    .action(async (opts: EstClientFlags & { csr: string; out: string; renew?: boolean; chain?: boolean; force?: boolean }, command: Command) => {
      const csr = csrDer(readInput(opts.csr, "CSR", globals(command).maxInputSize));
      assertWritable(opts.out, opts.force === true);
      const client = estClientFrom(command, opts, { session: opts.renew !== true, connections: 1 });
      try {
        const enrolled = opts.renew ? await client.reenroll(csr) : await client.enroll(csr);
        const chain = opts.chain ? (await client.cacerts()).slice(0, -1).map((d) => toPem(d, "CERTIFICATE")).join("") : "";
        writeOutput(opts.out, toPem(enrolled.der, "CERTIFICATE") + chain, { force: opts.force === true });
        emit(command, { serial: enrolled.serial, out: opts.out, renewed: opts.renew === true, service: client.base.href }, () => `${opts.renew ? "Renewed" : "Enrolled"} through ${client.base.href}: certificate ${enrolled.serial} written to ${opts.out}`);
      } finally {
        client.close();
      }
    });
}
