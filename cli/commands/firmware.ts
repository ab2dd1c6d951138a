import { Command } from "commander";
import { checkPolicyArc, DEFAULT_FIRMWARE_POLICIES, firmwarePolicyUnder, Home, showCertificate, isRemoteKeyUri, openFirmwareKey, signFirmware, TrustlineError, verifyFirmware } from "../../ca/index.js";
import { emit, examples, globals } from "../context.js";
import { readInput, writeOutput } from "../files.js";
import { EXIT } from "../exit-codes.js";
import { readSecretFile } from "../passphrase.js";

function keyPassphrase(file: string | undefined): string | undefined {
  if (file) return readSecretFile(file, "key passphrase", "KEY_UNAVAILABLE");
  return process.env.TRUSTLINE_KEY_PASSPHRASE || undefined;
}

function wholeNumber(flag: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new TrustlineError("USAGE", `${flag} takes a whole number >= 0, not "${v}"`);
    return n;
  };
}

const collect = (v: string, previous: string[] = []) => [...previous, v];

export function firmwareCommand(): Command {
  const firmware = new Command("firmware").description("sign firmware images (detached CMS) and verify them offline");

  firmware
    .command("sign")
    .argument("<image>", "the firmware image (streamed: any size)")
    .description("sign an image: a detached CMS signature (.p7s) with a signed manifest, optionally time-stamped")
    .requiredOption("--cert <pem>", "the signer certificate, followed by its chain (`trustline issue signer --chain` writes both), so verifiers need only the root")
    .requiredOption("--key <file|uri>", "the signer's private key: a PEM file (encrypted keys take TRUSTLINE_KEY_PASSPHRASE or --key-passphrase-file), or azure-keyvault://<vault>/keys/<name> or pkcs11:token=<t>;object=<o>")
    .option("--key-passphrase-file <file>", "passphrase of an encrypted --key")
    .option("--chain <pem>", "intermediate CA certificates to include")
    .option("--version <v>", "firmware version, recorded in the signed manifest")
    .option("--hardware <model>", "hardware model the image is for, recorded in the signed manifest")
    .option("--security-version <n>", "anti-rollback counter, recorded in the signed manifest", wholeNumber("--security-version"))
    .option("--policy-arc <oid>", "the organisation's OID arc for the RFC 4108 package and hardware OIDs (default: the arc of the signer certificate's firmware policy)")
    .option("--out <file>", "where the signature goes (default: <image>.p7s)")
    .option("--tsa <url>", "RFC 3161 time-stamp authority to time-stamp the signature")
    .option("--force", "overwrite --out if it exists")
    .addHelpText(
      "after",
      examples(
        "trustline firmware sign build/fw-2.4.1.bin --cert ci-signer.pem --key ci.key --version 2.4.1 --hardware tc-100 --security-version 12 --json",
        "trustline firmware sign fw.bin --cert ci-signer.pem --key ci.key --tsa http://tsa.example.com/tsr",
        "TRUSTLINE_AZURE_TOKEN_FILE=$RUNNER_TEMP/kv-token trustline firmware sign fw.bin --cert ci-signer.pem --key azure-keyvault://acme-ci.vault.azure.net/keys/fw-signer",
      ),
    )
    .action(async (image: string, opts: { cert: string; key: string; keyPassphraseFile?: string; chain?: string; version?: string; hardware?: string; securityVersion?: number; policyArc?: string; out?: string; tsa?: string; force?: boolean }, command: Command) => {
      const out = opts.out ?? `${image}.p7s`;
      const certificate = readInput(opts.cert, "signer certificate");
      const passphrase = isRemoteKeyUri(opts.key) ? undefined : keyPassphrase(opts.keyPassphraseFile);
      const key = await openFirmwareKey(opts.key, certificate, passphrase !== undefined ? { passphrase } : {});
      const signature = await signFirmware({
        image,
        certificate,
        ...(opts.chain ? { chain: readInput(opts.chain, "chain") } : {}),
        signer: key.signer,
        ...(opts.version !== undefined ? { version: opts.version } : {}),
        ...(opts.hardware !== undefined ? { hardware: opts.hardware } : {}),
        ...(opts.securityVersion !== undefined ? { securityVersion: opts.securityVersion } : {}),
        ...(opts.tsa ? { tsaUrl: opts.tsa } : {}),
        ...(opts.policyArc !== undefined ? { policyArc: opts.policyArc } : {}),
      }).finally(() => key.close());
      const pkg = signature.manifest.firmwarePackage;
      writeOutput(out, signature.der, { force: opts.force === true });
      emit(command, { signature: out, signer: signature.signer, manifest: signature.manifest, timestamped: signature.timestamped }, () =>
        `Signed ${image} (${signature.manifest.imageSize} bytes, sha256 ${signature.manifest.imageSha256})\n  signer ${signature.signer.subject}, serial ${signature.signer.serial}\n  version ${signature.manifest.version}, hardware ${signature.manifest.hardware}, security version ${signature.manifest.securityVersion}${signature.timestamped ? ", time-stamped" : ""}${pkg ? `\n  RFC 4108 package ${pkg.packageOid} version ${pkg.versionNumber}${pkg.staleVersion !== undefined ? ` (stale ${pkg.staleVersion})` : ""}${pkg.targetHardwareOids.length ? `, hardware ${pkg.targetHardwareOids.join(", ")}` : ""}` : ""}\n  wrote ${out}`,
      );
    });

  firmware
    .command("verify")
    .argument("<image>", "the firmware image")
    .description("verify an image's signature: digest, signer, chain to the pinned root, policy, revocation at the signing time, manifest; exit 0 only if all hold")
    .requiredOption("--signature <p7s>", "the detached CMS signature")
    .requiredOption("--trust <pem>", "the pinned firmware root certificate (repeatable)", collect)
    .option("--crl <file>", "CRL of an issuer in the path (repeatable; DER or PEM)", collect)
    .option("--untrusted <pem>", "extra intermediate certificates (repeatable)", collect)
    .option("--tsa-trust <pem>", "pinned root of the time-stamp authority (repeatable)", collect)
    .option("--min-security-version <n>", "refuse images below this anti-rollback counter", wholeNumber("--min-security-version"))
    .option("--hardware <model>", "refuse images made for another hardware model")
    .option("--policy-arc <oid>", "the signing home's policy OID arc: require its firmware-signing policy <arc>.1.2 (default: the home at --home, if any, plus the default and legacy arcs)")
    .option("--no-revocation", "do not check revocation (an explicit opt-out; the default fails without current CRLs)")
    .addHelpText(
      "after",
      examples(
        "trustline firmware verify fw.bin --signature fw.bin.p7s --trust firmware-root.pem --crl firmware.crl --crl root.crl --hardware tc-100 --min-security-version 12",
        "trustline firmware verify fw.bin --signature fw.bin.p7s --trust root.pem --tsa-trust tsa-root.pem --crl firmware.crl --crl root.crl --json",
      ) + "\nExit status: 0 valid; 1 invalid (the first failing check is named); 2 usage; 3 unreadable input.\n",
    )
    .action(async (image: string, opts: { signature: string; trust: string[]; crl?: string[]; untrusted?: string[]; tsaTrust?: string[]; minSecurityVersion?: number; hardware?: string; policyArc?: string; revocation: boolean }, command: Command) => {
      const g = globals(command);
      // The verifier may run next to the CA home that certified the signer: its arc, and the signer's trace.
      let home: Home | undefined;
      try {
        home = await Home.open({ home: g.home });
      } catch {
        home = undefined; // no home here: a device or update server
      }
      const requiredPolicy =
        opts.policyArc !== undefined ? [firmwarePolicyUnder(checkPolicyArc(opts.policyArc))] : [...new Set([...(home ? [firmwarePolicyUnder(home.policyArc)] : []), ...DEFAULT_FIRMWARE_POLICIES])];
      const verdict = await verifyFirmware({
        requiredPolicy,
        image,
        signature: readInput(opts.signature, "signature"),
        trust: opts.trust.map((f) => readInput(f, "trusted root")),
        crls: (opts.crl ?? []).map((f) => readInput(f, "CRL")),
        intermediates: (opts.untrusted ?? []).map((f) => readInput(f, "certificate")),
        tsaTrust: (opts.tsaTrust ?? []).map((f) => readInput(f, "TSA root")),
        revocation: opts.revocation ? "require" : "off",
        ...(opts.minSecurityVersion !== undefined ? { minSecurityVersion: opts.minSecurityVersion } : {}),
        ...(opts.hardware !== undefined ? { hardware: opts.hardware } : {}),
      });
      let trace: unknown;
      if (verdict.evidence.signer && home) {
        try {
          const t = await showCertificate(home, { serial: verdict.evidence.signer.serial });
          trace = { certifiedBy: t.operator, station: t.station, issuedAt: t.issuedAt, profile: t.profile, policyOids: t.policyOids, ca: t.ca, requestSha256: t.requestSha256 };
        } catch {
          trace = undefined; // no home here, or the signer was certified elsewhere
        }
      }
      const e = verdict.evidence;
      emit(command, { ...verdict, ...(trace ? { trace } : {}) }, () =>
        [
          verdict.valid ? `VALID: ${image}` : `INVALID: ${image}\n  check failed: ${verdict.check}: ${verdict.reason}`,
          e.signer ? `  signer ${e.signer.subject}, serial ${e.signer.serial}` : "",
          trace ? `  certified by ${(trace as { certifiedBy: string }).certifiedBy} at ${(trace as { issuedAt: string }).issuedAt} (CA ${(trace as { ca: string }).ca})` : "",
          e.trustedTime ? `  trusted time ${e.trustedTime.time} (${e.trustedTime.source})` : "",
          e.path ? `  chain ${e.path.map((p) => p.subject).join(" <- ")}` : "",
          e.crls?.length ? `  CRLs ${e.crls.map((c) => `${c.issuer} #${c.crlNumber ?? "?"}`).join(", ")}` : e.revocation ? `  revocation ${e.revocation}` : "",
          e.manifest ? `  manifest version ${e.manifest.version}, hardware ${e.manifest.hardware}, security version ${e.manifest.securityVersion}` : "",
          ...e.notes.map((n) => `  note: ${n}`),
        ]
          .filter(Boolean)
          .join("\n"),
      );
      if (!verdict.valid) process.exitCode = EXIT.VERIFICATION_FAILED;
    });

  return firmware;
}
