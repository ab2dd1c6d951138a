/**
 * `trustline cert verify`: RFC 5280 path validation of a certificate file against trust anchors,
 * with untrusted intermediates and CRLs from files. Needs no CA home: it is what an end-of-line
 * test station, the cloud team or an update server runs.
 */
import { Command, Option } from "commander";
import { crlViewFromDer, type CrlView, dersOf, PURPOSES, type Purpose, type RevocationMode, TrustlineError, type ValidPath, validatePath } from "../../ca/index.js";
import { emit, examples } from "../context.js";
import { readInput } from "../files.js";

interface VerifyOptions {
  trust?: string[];
  untrusted?: string[];
  crl?: string[];
  at?: Date;
  purpose: Purpose;
  maxDepth?: number;
  revocation?: RevocationMode;
  policy?: string[];
  explicitPolicy?: boolean;
  inhibitPolicyMapping?: boolean;
  inhibitAnyPolicy?: boolean;
  allowSha1?: boolean;
  lenient?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Every certificate in a file: PEM (any number of CERTIFICATE blocks) or one DER certificate. */
function certificatesIn(path: string, what: string): Uint8Array[] {
  const certificates = dersOf(readInput(path, what), "CERTIFICATE");
  if (certificates.length === 0) throw new TrustlineError("INPUT_INVALID", `the ${what} ${path} holds no PEM CERTIFICATE block`);
  return certificates;
}

/** Every CRL in a file: PEM (any number of X509 CRL blocks) or one DER CRL. */
function crlsIn(path: string): CrlView[] {
  const crls = dersOf(readInput(path, "CRL file"), "X509 CRL");
  if (crls.length === 0) throw new TrustlineError("INPUT_INVALID", `the CRL file ${path} holds no PEM X509 CRL block`);
  try {
    return crls.map((der) => crlViewFromDer(der));
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the CRL file ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function parseTime(value: string): Date {
  const d = new Date(value);
  if (!/^\d{4}-\d\d-\d\d/.test(value) || Number.isNaN(d.getTime())) throw new TrustlineError("USAGE", `--at takes an ISO 8601 time such as 2026-03-01T12:00:00Z, not "${value}"`);
  return d;
}

/** Any non-negative whole number (255 included); only a negative or non-numeric value is a usage error. */
function parseDepth(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw new TrustlineError("USAGE", `--max-depth takes a non-negative whole number (0: the trust anchor signs the certificate directly), not "${value}"`);
  return n;
}

function describeValid(file: string, r: ValidPath, purpose: Purpose, time: Date, revocation: RevocationMode): string {
  const [target, ...rest] = r.path;
  const revocationChecks = r.checks.filter((c) => c.check === "revocation");
  return [
    `${file}: OK`,
    `  path        ${target!.subject}  (serial ${target!.serial})`,
    ...rest.map((c) => `              <- ${c.subject}${c.role === "trust-anchor" ? "  [trust anchor]" : ""}`),
    `  purpose     ${purpose}`,
    `  time        ${time.toISOString()}`,
    `  policies    ${r.policies.length > 0 ? r.policies.join(", ") : "none required"}`,
    `  profile     ${r.profile === "strict" ? "strict (RFC 5280 §4, as openssl -x509_strict)" : "lenient (profile checks skipped)"}; max depth ${r.maxDepth}`,
    `  revocation  ${revocation === "off" ? "not checked (--revocation off)" : revocationChecks.map((c) => c.detail).join("; ")}`,
  ].join("\n");
}

export function certVerifyCommand(): Command {
  return new Command("verify")
    .argument("<cert-file>", "the certificate to verify (PEM or DER); more certificates after the first are used as untrusted intermediates")
    .description("validate a certificate's path to a trust anchor (RFC 5280 §6.1): signatures, validity, constraints, policies, purpose, revocation")
    .option("--trust <pem>", "trust anchors (PEM, several certificates allowed); repeat for more files", collect)
    .option("--untrusted <pem>", "untrusted intermediates the path may use (PEM); repeat for more files", collect)
    .option("--crl <file>", "CRLs (PEM or DER); repeat for more files. Implies --revocation require", collect)
    .option("--at <iso-time>", "validate at this time instead of now, e.g. 2026-03-01T12:00:00Z", parseTime)
    .addOption(new Option("--purpose <purpose>", "what the certificate is for").choices([...PURPOSES]).default("any"))
    .option("--max-depth <n>", "at most this many intermediate CA certificates between the trust anchor and the certificate (0: signed by the anchor; self-issued ones not counted; default 10)", parseDepth)
    .option("--lenient", "skip the strict profile checks (RFC 5280 §4 MUSTs on every certificate, cRLNumber on CRLs): for forensic use")
    .addOption(new Option("--revocation <mode>", "require: every certificate needs a current CRL; if-available; off (default: require with --crl, else off)").choices(["require", "if-available", "off"]))
    .option("--policy <oid>", "acceptable certificate policy (user-initial-policy-set); repeat for more", collect)
    .option("--explicit-policy", "require a valid policy (initial-explicit-policy)")
    .option("--inhibit-policy-mapping", "do not follow policy mappings (initial-policy-mapping-inhibit)")
    .option("--inhibit-any-policy", "do not accept anyPolicy (initial-any-policy-inhibit)")
    .option("--allow-sha1", "accept SHA-1 signatures (only for legacy test corpora)")
    .addHelpText(
      "after",
      `${examples(
        "trustline cert verify dev-0001.pem --trust root.pem --untrusted device-ca.pem --purpose client",
        "trustline cert verify dev-0001.pem --trust root.pem --untrusted chain.pem --crl device-ca.crl --crl root.crl --json",
        "trustline cert verify ci-signer.pem --trust root.pem --untrusted firmware-ca.pem --purpose codesign --at 2026-03-01T12:00:00Z",
      )}
Strict by default (as openssl verify -x509_strict): every certificate, the trust anchor included,
must meet RFC 5280 §4's MUSTs (key identifiers, critical basicConstraints on CAs, keyUsage
consistent with cA, name syntax in subjectAltName, serial numbers, ...) and CRLs must carry a
non-critical cRLNumber; --lenient skips those profile checks, never the §6.1 algorithm. A trust
anchor certificate's validity, basicConstraints, keyUsage, pathLenConstraint, name constraints and
critical extensions apply. --max-depth counts intermediate CA certificates (0: the anchor signs it).
Exit status: 0 a valid path exists; 1 none does (the reason, the failing certificate and the
RFC 5280 section are printed; --json prints the path tried and every check); 2 usage; 3 unreadable input.
`,
    )
    .action((file: string, opts: VerifyOptions, command: Command) => {
      const { trust = [], untrusted = [], crl = [], policy = [] } = opts;
      if (trust.length === 0) throw new TrustlineError("USAGE", "cert verify needs at least one --trust file (the trust anchors)");
      const [target, ...bundled] = certificatesIn(file, "certificate");
      const trustAnchors = trust.flatMap((f) => certificatesIn(f, "trust anchor file"));
      const intermediates = [...bundled, ...untrusted.flatMap((f) => certificatesIn(f, "untrusted certificate file"))];
      const crls = crl.flatMap(crlsIn);
      const revocation: RevocationMode = opts.revocation ?? (crls.length > 0 ? "require" : "off");
      const time = opts.at ?? new Date();
      const result = validatePath(target!, {
        trustAnchors,
        intermediates,
        crls,
        time,
        purpose: opts.purpose,
        revocation,
        ...(opts.maxDepth !== undefined ? { maxDepth: opts.maxDepth } : {}),
        ...(policy.length > 0 ? { initialPolicySet: policy } : {}),
        initialExplicitPolicy: opts.explicitPolicy === true,
        initialPolicyMappingInhibit: opts.inhibitPolicyMapping === true,
        initialAnyPolicyInhibit: opts.inhibitAnyPolicy === true,
        allowSha1Signatures: opts.allowSha1 === true,
        lenient: opts.lenient === true,
      });
      if (!result.valid) {
        const where = `certificate ${result.failing.index} (${result.failing.subject}, serial ${result.failing.serial})`;
        throw new TrustlineError(result.revoked ? "REVOKED" : "PATH_INVALID", `${file}: not valid: ${result.reason} [check ${result.check}, RFC 5280 §${result.rfcSection}, ${where}]`, {
          details: { file, time: time.toISOString(), purpose: opts.purpose, revocation, ...result },
        });
      }
      emit(command, { file, time: time.toISOString(), purpose: opts.purpose, revocation, ...result }, () => describeValid(file, result, opts.purpose, time, revocation));
    });
}
