import { Command, Option } from "commander";
import { CA_ALGORITHMS, createCa, exportCa, keyScheme, moveCaKey, type KeyAlgorithm, listCas, showCa } from "../../ca/index.js";
import { emit, examples, keyStoreOption, note, openHome } from "../context.js";
import { writeOutput } from "../files.js";

export function caCommand(): Command {
  const ca = new Command("ca").description("the CA hierarchy: list, inspect, export and add CAs");

  ca.command("list")
    .description("list the CAs of this home")
    .addHelpText("after", examples("trustline ca list", "trustline ca list --json"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const cas = listCas(home);
      emit(command, cas, () =>
        [`policy OID arc ${home.policyArc}`, ...cas.map((c) => `${c.name.padEnd(12)} ${c.profile.padEnd(12)} parent ${String(c.parent ?? "-").padEnd(10)} ${c.keyAlgorithm.padEnd(8)} ${keyScheme(c.keyUri).padEnd(14)} until ${c.notAfter}  ${c.subject}`)].join("\n"),
      );
    });

  ca.command("show")
    .argument("<name>", "CA name")
    .description("show a CA certificate and its key location")
    .addHelpText("after", examples("trustline ca show device"))
    .action(async (name: string, _opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const d = await showCa(home, name);
      emit(command, d, () =>
        [
          `CA ${d.name} (${d.profileTitle}, profile ${d.profile})`,
          `  subject     ${d.summary.subject}`,
          `  issuer      ${d.summary.issuer}`,
          `  serial      ${d.serial}`,
          `  policy arc  ${d.policyArc}`,
          `  valid       ${d.notBefore} .. ${d.notAfter}`,
          `  key         ${d.summary.publicKey} at ${d.keyUri}`,
          `  signature   ${d.summary.signatureAlgorithm}`,
          `  sha256      ${d.summary.sha256Fingerprint}`,
          ...d.summary.extensions.map((e) => `  ${e.name}${e.critical ? " (critical)" : ""}: ${e.value}`),
        ].join("\n"),
      );
    });

  ca.command("export")
    .argument("<name>", "CA name")
    .description("export a CA certificate (PEM), optionally with its chain up to the root")
    .option("--chain", "include the parent CAs up to and including the root")
    .option("--out <file>", "write to a file instead of stdout")
    .option("--force", "overwrite --out if it exists")
    .addHelpText("after", examples("trustline ca export root --out root.pem", "trustline ca export device --chain --out device-chain.pem"))
    .action(async (name: string, opts: { chain?: boolean; out?: string; force?: boolean }, command: Command) => {
      const home = await openHome(command, false);
      const pem = await exportCa(home, name, { chain: opts.chain === true });
      if (opts.out) {
        writeOutput(opts.out, pem, { force: opts.force === true });
        note(command, `Wrote ${opts.out}`);
      }
      emit(command, { ca: name, chain: opts.chain === true, pem, ...(opts.out ? { out: opts.out } : {}) }, () => (opts.out ? "" : pem));
    });

  ca.command("create")
    .argument("<name>", "new CA name (lowercase letters, digits, -), e.g. plant-lyon")
    .description("create an issuing CA under the root, e.g. one per plant or line")
    .addOption(new Option("--profile <profile>", "what the CA issues").choices(["device-ca", "firmware-ca"]).makeOptionMandatory())
    .option("--parent <ca>", "the parent CA", "root")
    .addOption(new Option("--algorithm <alg>", "key algorithm (default: the parent's)").choices(CA_ALGORITHMS as string[]))
    .option("--days <n>", "validity in days (default: the profile's)", (v) => Number(v))
    .option("--key-store <uri>", "where the new key is made (default: the home's): file:, azure-keyvault://<vault-host>/keys/, pkcs11:token=<label>")
    .option("--hsm", "with an azure-keyvault key store: an HSM-protected key (Premium vault or Managed HSM)")
    .option("--key <uri>", "certify an existing key instead of making one: azure-keyvault://<vault-host>/keys/<name>[/<version>] or pkcs11:token=<t>;object=<o>")
    .addHelpText(
      "after",
      examples(
        "trustline ca create plant-lyon --profile device-ca --passphrase-file /run/secrets/ca-pass",
        "TRUSTLINE_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so TRUSTLINE_PKCS11_PIN_FILE=/run/secrets/hsm-pin trustline ca create plant-lyon --profile device-ca --key-store 'pkcs11:token=plant-lyon'",
        "trustline ca create line-7 --profile device-ca --key 'azure-keyvault://acme-pki.vault.azure.net/keys/line-7-ca'",
      ),
    )
    .action(async (name: string, opts: { profile: "device-ca" | "firmware-ca"; parent: string; algorithm?: KeyAlgorithm; days?: number; keyStore?: string; hsm?: boolean; key?: string }, command: Command) => {
      const home = await openHome(command, true);
      const keyStore = keyStoreOption(opts.keyStore, opts.hsm);
      const created = await createCa(home, {
        name,
        profile: opts.profile,
        parent: opts.parent,
        ...(keyStore !== undefined ? { keyStore } : {}),
        ...(opts.key !== undefined ? { key: opts.key } : {}),
        ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
        ...(opts.days !== undefined ? { validityDays: opts.days } : {}),
      });
      emit(command, created, () => `Created CA ${created.name} (${created.profile}) under ${created.parent}: ${created.subject}, serial ${created.serial}, until ${created.notAfter}\n  key ${created.keyUri}`);
    });

  ca.command("move-key")
    .argument("<name>", "the CA whose key moves")
    .description("point a CA at its own key imported into Key Vault or onto a token (same public key; checked by a signature), audited")
    .requiredOption("--key <uri>", "the imported key: azure-keyvault://<vault-host>/keys/<name>[/<version>] or pkcs11:token=<t>;object=<o>")
    .addHelpText(
      "after",
      examples(
        "trustline ca move-key device --key 'azure-keyvault://acme-pki.vault.azure.net/keys/device-ca'",
        "TRUSTLINE_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so TRUSTLINE_PKCS11_PIN_FILE=/run/secrets/hsm-pin trustline ca move-key device --key 'pkcs11:token=plant-ca;object=device-ca'",
      ),
    )
    .action(async (name: string, opts: { key: string }, command: Command) => {
      const home = await openHome(command, true);
      const moved = await moveCaKey(home, name, opts.key);
      emit(command, moved, () => `CA ${moved.name} now signs with ${moved.keyUri} (was ${moved.previousKeyUri}); destroy the old key and its copies once you have checked the new one (e.g. issue and verify a CRL)`);
    });

  return ca;
}
