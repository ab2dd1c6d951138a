import { Command, Option } from "commander";
import { CA_ALGORITHMS, DEFAULT_BASE_URL, initHome, type KeyAlgorithm } from "../../ca/index.js";
import { emit, examples, globals, homeOptions } from "../context.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create a CA home: a root CA, issuing CAs 'device' and 'firmware', and you as its first admin operator")
    .requiredOption("--org <name>", "organisation name, written into the CA certificates")
    .addOption(new Option("--algorithm <alg>", "CA key algorithm").choices(CA_ALGORITHMS as string[]).default("p256"))
    .option("--base-url <url>", "where CRLs, OCSP and CA certificates are published (written into certificates)", DEFAULT_BASE_URL)
    .addHelpText(
      "after",
      examples(
        "trustline init --home /srv/pki --org 'Acme Devices' --passphrase-file /run/secrets/ca-pass",
        "TRUSTLINE_PASSPHRASE_FILE= trustline init --org 'Acme Devices' --algorithm p384 --base-url http://pki.acme.example",
      ),
    )
    .action(async (opts: { org: string; algorithm: KeyAlgorithm; baseUrl: string }, command: Command) => {
      const g = globals(command);
      const result = await initHome({ ...homeOptions(g, true, true), organization: opts.org, algorithm: opts.algorithm, baseUrl: opts.baseUrl });
      emit(command, result, () =>
        [
          `Created CA home ${result.home} for ${result.organization}`,
          ...result.cas.map((c) => `  ${c.name.padEnd(10)} ${c.profile.padEnd(12)} ${c.subject}  serial ${c.serial}  until ${c.notAfter}`),
          `Publishing base URL: ${result.baseUrl}`,
          `First operator (admin): ${result.operator}`,
        ].join("\n"),
      );
    });
}
