import { Command, Option } from "commander";
import { CA_ALGORITHMS, checkRoles, DEFAULT_BASE_URL, initHome, type KeyAlgorithm, type NewAuthenticator, policy, TrustlineError } from "../../ca/index.js";
import { enrolmentText } from "../enrolment.js";
import { DEFAULT_OIDC_CLIENT_ID } from "./operator.js";

interface InitCliOptions {
  org: string;
  store?: string;
  dbPasswordFile?: string;
  algorithm: KeyAlgorithm;
  baseUrl: string;
  policyArc?: string;
  deviceSan?: string;
  keyStore?: string;
  auditKeyStore?: string;
  hsm?: boolean;
  roles: string;
  oidcIssuer?: string;
  oidcSubject?: string;
  oidcClientId?: string;
}

/** TOTP unless the OpenID Connect options name the admin's identity. */
function authenticatorOption(opts: InitCliOptions): NewAuthenticator {
  if (opts.oidcIssuer === undefined && opts.oidcSubject === undefined) return { kind: "totp" };
  if (!opts.oidcIssuer || !opts.oidcSubject) throw new TrustlineError("USAGE", "--oidc-issuer and --oidc-subject go together");
  return { kind: "oidc", issuer: opts.oidcIssuer, subject: opts.oidcSubject, clientId: opts.oidcClientId ?? DEFAULT_OIDC_CLIENT_ID };
}
import { emit, examples, globals, homeOptions, keyStoreOption } from "../context.js";

export function initCommand(): Command {
  return new Command("init")
    .description("create a CA home: a root CA, issuing CAs 'device' and 'firmware', and you as its first admin operator")
    .requiredOption("--org <name>", "organisation name, written into the CA certificates")
    .addOption(new Option("--algorithm <alg>", "CA key algorithm").choices(CA_ALGORITHMS as string[]).default("p256"))
    .option("--base-url <url>", "where CRLs, OCSP and CA certificates are published (written into certificates)", DEFAULT_BASE_URL)
    .option("--policy-arc <oid>", `your organisation's OID arc for the certificate-policy OIDs, e.g. 1.3.6.1.4.1.<your IANA PEN> (default ${policy.DEFAULT_POLICY_ARC}, a documentation placeholder)`)
    .option("--key-store <uri>", "where CA keys are made: file: (default, encrypted files in the home), azure-keyvault://<vault-host>/keys/, pkcs11:token=<label>")
    .option("--audit-key-store <uri>", "where the audit key is made (default: --key-store)")
    .option("--hsm", "with an azure-keyvault key store: HSM-protected keys (Premium vault or Managed HSM)")
    .option("--roles <roles>", "the first admin's roles, comma-separated (default admin; a small shop may give it admin,officer,issuer)", "admin")
    .option("--oidc-issuer <url>", "the first admin signs in through this OpenID Connect provider instead of an authenticator app")
    .option("--oidc-subject <sub>", "with --oidc-issuer: the admin's subject (the ID token's sub)")
    .option("--oidc-client-id <id>", "with --oidc-issuer: the client registered for Trustline (default trustline)")
    .option("--store <url>", "keep state, inventory and audit log in PostgreSQL (postgres://user@host:5432/db or postgres:///db?host=/socket/folder; default TRUSTLINE_DATABASE_URL if set): several stations share one CA; an empty database is migrated")
    .option("--db-password-file <file>", "with --store: a file holding the database password (else TRUSTLINE_DATABASE_PASSWORD_FILE or PGPASSFILE)")
    .option("--device-san <template>", "subjectAltName URI of device certificates, {registration-id} inside, or 'none' (default urn:<org-id>:device:{registration-id})")
    .addHelpText(
      "after",
      examples(
        "trustline init --home /srv/pki --org 'Acme Devices' --policy-arc 1.3.6.1.4.1.32473.7 --passphrase-file /run/secrets/ca-pass",
        "trustline init --org 'Acme Devices' --algorithm p384 --base-url http://pki.acme.example   # asks the passphrase twice on a terminal",
        "trustline --operator alice init --org 'Acme Devices' --roles admin,officer,issuer --json | jq -r .firstAdmin.otpauthUri   # enrol alice's authenticator app from a script",
        "trustline init --org 'Acme Devices' --key-store azure-keyvault://acme-pki.vault.azure.net/keys/ --hsm   # DefaultAzureCredential, no passphrase",
        "trustline init --org 'Acme Devices' --store postgres://trustline@db.plant:5432/ca --db-password-file /etc/trustline/db-password --key-store azure-keyvault://acme-pki.vault.azure.net/keys/",
        "TRUSTLINE_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so TRUSTLINE_PKCS11_PIN_FILE=/run/secrets/hsm-pin trustline init --org 'Acme Devices' --key-store 'pkcs11:token=acme-ca'",
      ),
    )
    .action(async (opts: InitCliOptions, command: Command) => {
      const g = globals(command);
      const keyStore = keyStoreOption(opts.keyStore, opts.hsm);
      const auditKeyStore = keyStoreOption(opts.auditKeyStore ?? opts.keyStore, opts.hsm);
      const storeUrl = opts.store ?? process.env.TRUSTLINE_DATABASE_URL;
      const result = await initHome({
        ...homeOptions(g, true, true),
        organization: opts.org,
        algorithm: opts.algorithm,
        baseUrl: opts.baseUrl,
        ...(opts.policyArc !== undefined ? { policyArc: opts.policyArc } : {}),
        ...(keyStore !== undefined ? { keyStore } : {}),
        ...(auditKeyStore !== undefined ? { auditKeyStore } : {}),
        ...(opts.deviceSan !== undefined ? { deviceUriTemplate: opts.deviceSan === "none" ? null : opts.deviceSan } : {}),
        firstAdmin: { roles: checkRoles(opts.roles.split(",").map((r) => r.trim())), authenticator: authenticatorOption(opts) },
        ...(storeUrl ? { store: { url: storeUrl, ...(opts.dbPasswordFile ? { passwordFile: opts.dbPasswordFile } : {}) } } : {}),
      });
      const enrol = await enrolmentText(result.firstAdmin);
      emit(command, result, () =>
        [
          `Created CA home ${result.home} for ${result.organization}`,
          ...result.cas.map((c) => `  ${c.name.padEnd(10)} ${c.profile.padEnd(12)} ${c.subject}  serial ${c.serial}  until ${c.notAfter}`),
          `Publishing base URL: ${result.baseUrl}`,
          `Device subjectAltName: ${result.deviceUriTemplate ?? "none"}`,
          `Policy OID arc: ${result.policyArc}${result.policyArc === policy.DEFAULT_POLICY_ARC ? " (the documentation placeholder: production CAs use their own PEN, --policy-arc)" : ""}`,
          `Keys: ${result.keyStore === "file:" ? "encrypted files in the home" : result.keyStore}; audit key ${result.auditKeyUri}`,
          `Store: ${result.store ?? "embedded (files in the home)"}`,
          `First operator: ${result.operator} (${result.firstAdmin.operator.roles.join(", ")}), signs in with ${result.firstAdmin.operator.authenticator === "oidc" ? "OpenID Connect" : "an authenticator app (TOTP)"}`,
          ...enrol,
        ].join("\n"),
      );
    });
}
