import { Command } from "commander";
import { issueCrl, toPem, withoutDer } from "../../ca/index.js";
import { emit, examples, note, openHome } from "../context.js";
import { writeOutput } from "../files.js";

export function crlCommand(): Command {
  return new Command("crl")
    .description("issue a CRL (X.509 v2, RFC 5280) for a CA, with the next CRL number; `serve` then serves it")
    .option("--ca <name>", "the CA", "device")
    .option("--out <file>", "write it here (default: stdout)")
    .option("--pem", "PEM instead of DER")
    .option("--force", "overwrite --out if it exists")
    .addHelpText("after", examples("trustline crl --ca device --out device.crl", "trustline crl --ca root --pem | openssl crl -noout -text"))
    .action(async (opts: { ca: string; out?: string; pem?: boolean; force?: boolean }, command: Command) => {
      const home = await openHome(command, true);
      const crl = await issueCrl(home, opts.ca);
      const data = opts.pem ? toPem(crl.der, "X509 CRL") : crl.der;
      const info = withoutDer(crl);
      if (opts.out) {
        writeOutput(opts.out, data, { force: opts.force === true });
        note(command, `Wrote ${opts.out}: CRL number ${crl.crlNumber}, ${crl.entries} entries, next update ${crl.nextUpdate}`);
        emit(command, { ...info, out: opts.out }, () => "");
      } else if (command.optsWithGlobals().json) {
        emit(command, { ...info, pem: toPem(crl.der, "X509 CRL") }, () => "");
      } else {
        process.stdout.write(data);
      }
    });
}
