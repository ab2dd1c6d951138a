import { Command, Option } from "commander";
import { join } from "node:path";
import { CA_ALGORITHMS, createCa, exportCa, issueTlsCertificate, keyScheme, moveCaKey, type KeyAlgorithm, listCas, showCa, TrustlineError } from "../../ca/index.js";
import { emit, examples, keyStoreOption, note, openHome } from "../context.js";
import { assertWritable, ensureDir, writeOutput } from "../files.js";
import { parseDays } from "./station.js";

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

  ca.command("issue-tls")
    .description("make the EST server's TLS key (an encrypted key file in the home) and its tls-server certificate (serverAuth) from the device CA; replaces the previous one")
    .option("--host <name>", "a DNS name or IP address the server answers at; repeat for each (1 to 16; the first is the CN)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--ca <name>", "issuing CA (a device-ca)", "device")
    .option("--days <n>", "validity in days (default and at most 397)", parseDays)
    .option("--out-dir <dir>", "also write tls-server.pem (the certificate) and tls-server-chain.pem (certificate, issuing CA and root) there; never the key")
    .option("--force", "overwrite existing output files")
    .addHelpText(
      "after",
      examples(
        "trustline ca issue-tls --host est.line7.acme.example --host 10.0.7.1 --passphrase-file /run/secrets/ca-pass",
        "trustline ca issue-tls --host est.acme.example --out-dir ./est --json",
      ) + "\nThe key stays in the home, encrypted under the CA passphrase; the EST server (`trustline serve --est`) opens it there.\n",
    )
    .action(async (opts: { host: string[]; ca: string; days?: number; outDir?: string; force?: boolean }, command: Command) => {
      if (opts.host.length === 0) throw new TrustlineError("USAGE", "give at least one --host <name> (a DNS name or an IP address the EST server answers at)");
      const force = opts.force === true;
      const files = opts.outDir ? { certificate: join(opts.outDir, "tls-server.pem"), chain: join(opts.outDir, "tls-server-chain.pem") } : undefined;
      if (files) {
        ensureDir(opts.outDir!);
        for (const p of Object.values(files)) assertWritable(p, force);
      }
      const home = await openHome(command, true);
      const { record, chainPem } = await issueTlsCertificate(home, { hosts: opts.host, ca: opts.ca, ...(opts.days !== undefined ? { days: opts.days } : {}) });
      if (files) {
        try {
          writeOutput(files.certificate, record.certificate, { force });
          writeOutput(files.chain, record.certificate + chainPem.join(""), { force });
        } catch (e) {
          throw new TrustlineError("DELIVERY_FAILED", `the TLS certificate ${record.serial} was issued and recorded, but could not be written (${e instanceof Error ? e.message : String(e)}); \`trustline cert show ${record.serial} --out <file> --chain\` writes it again`, {
            cause: e,
            details: { serial: record.serial },
          });
        }
      }
      emit(command, { ...record, chain: chainPem, ...(files ? { files } : {}) }, () =>
        [
          `Issued the EST server's TLS certificate ${record.serial} from CA ${record.ca}, until ${record.notAfter}`,
          `  hosts ${record.hosts.join(", ")}`,
          `  key   ${record.keyUri} (${record.keyAlgorithm}, encrypted in the home)`,
          ...(files ? [`  wrote ${files.certificate}, ${files.chain}`] : [record.certificate.trimEnd()]),
        ].join("\n"),
      );
    });

  return ca;
}
