import { Command, Option } from "commander";
import { CA_ALGORITHMS, DEFAULT_BASE_URL, initHome, type KeyAlgorithm, policy } from "../../ca/index.js";
import { emit, examples, globals, homeOptions } from "../context.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create a CA home: a root CA, issuing CAs 'device' and 'firmware', and you as its first admin operator")
    .requiredOption("--org <name>", "organisation name, written into the CA certificates")
    .addOption(new Option("--algorithm <alg>", "CA key algorithm").choices(CA_ALGORITHMS as string[]).default("p256"))
    .option("--base-url <url>", "where CRLs, OCSP and CA certificates are published (written into certificates)", DEFAULT_BASE_URL)
    .option("--policy-arc <oid>", `your organisation's OID arc for the certificate-policy OIDs, e.g. 1.3.6.1.4.1.<your IANA PEN> (default ${policy.DEFAULT_POLICY_ARC}, a documentation placeholder)`)
    .option("--device-san <template>", "subjectAltName URI of device certificates, {registration-id} inside, or 'none' (default urn:<org-id>:device:{registration-id})")
    .addHelpText(
      "after",
      examples(
        "trustline init --home /srv/pki --org 'Acme Devices' --policy-arc 1.3.6.1.4.1.32473.7 --passphrase-file /run/secrets/ca-pass",
        "TRUSTLINE_PASSPHRASE_FILE= trustline init --org 'Acme Devices' --algorithm p384 --base-url http://pki.acme.example",
      ),
    )
    .action(async (opts: { org: string; algorithm: KeyAlgorithm; baseUrl: string; policyArc?: string; deviceSan?: string }, command: Command) => {
      const g = globals(command);
      const result = await initHome({
        ...homeOptions(g, true, true),
        organization: opts.org,
        algorithm: opts.algorithm,
        baseUrl: opts.baseUrl,
        ...(opts.policyArc !== undefined ? { policyArc: opts.policyArc } : {}),
        ...(opts.deviceSan !== undefined ? { deviceUriTemplate: opts.deviceSan === "none" ? null : opts.deviceSan } : {}),
      });
      emit(command, result, () =>
        [
          `Created CA home ${result.home} for ${result.organization}`,
          ...result.cas.map((c) => `  ${c.name.padEnd(10)} ${c.profile.padEnd(12)} ${c.subject}  serial ${c.serial}  until ${c.notAfter}`),
          `Publishing base URL: ${result.baseUrl}`,
          `Device subjectAltName: ${result.deviceUriTemplate ?? "none"}`,
          `Policy OID arc: ${result.policyArc}${result.policyArc === policy.DEFAULT_POLICY_ARC ? " (the documentation placeholder: production CAs use their own PEN, --policy-arc)" : ""}`,
          `First operator (admin): ${result.operator}`,
        ].join("\n"),
      );
    });
}
