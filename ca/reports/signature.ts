/**
 * Signed reports: a detached CMS signature (`<report>.p7s`) by the home's report-signing key,
 * certified by the root (profile `report-signer`, EKU documentSigning, certificate-policy.md
 * §7.1.9), so anyone who pins the root checks that a report was not edited after it was made —
 * with `openssl cms -verify -binary -purpose any` or with `verifyReport` here.
 */
import { basename } from "node:path";
import { EKU_OIDS } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { digestFile } from "../firmware/digest.js";
import { checkSignature, digestMatches, openDetachedSignature, signatureDigest, SignatureCheckFailure, signDetached, signerCertificate, type CmsCheck } from "../firmware/detached-cms.js";
import type { Home } from "../home.js";
import { certifyNewServiceKey } from "../leaf-certificates.js";
import { dersOf, derFromPemOrDer } from "../pem.js";
import type { ServiceKeyRecord } from "../store/state.js";
import { writeFileAtomic } from "../store/atomic.js";
import { KEY_USAGE } from "../validation/extensions.js";
import { validatePath } from "../validation/validate-path.js";
import { spkiOfCertificate } from "../x509/cert-fields.js";

/** A report-signing certificate with less than this left is replaced before it signs. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * The home's report signer, made the first time (or when its certificate is about to expire): a
 * key in the home's key store, with the root's algorithm, certified by the root. An admin's write.
 */
export async function ensureReportSigner(home: Home): Promise<ServiceKeyRecord> {
  const now = home.clock().getTime();
  const usable = (r: ServiceKeyRecord | undefined): boolean => r !== undefined && Date.parse(r.notBefore) <= now && Date.parse(r.notAfter) - now > RENEW_BEFORE_MS;
  if (usable(home.state.reportSigner)) return home.state.reportSigner!;
  // Another process (an admin) may have made it since this home was opened.
  const current = (await home.refresh()).reportSigner;
  if (usable(current)) return current!;
  await home.authorize("audit.certify");
  const { record, subject } = await certifyNewServiceKey(home, { ca: "root", profile: "report-signer", commonName: "report signer", label: `report-signer-${now.toString(36)}` });
  await home.transaction(async () => {
    await home.updateState((s) => {
      if (s.reportSigner?.serial !== current?.serial) throw new TrustlineError("STORE_CONFLICT", "the report signer was replaced meanwhile by another process; run the command again");
      return { ...s, reportSigner: record };
    });
    await home.record([{ action: "report.signer", outcome: "ok", ...home.who, ca: "root", serial: record.serial, profile: "report-signer", subject, details: { replaced: current?.serial ?? null, keyUri: record.keyUri, notAfter: record.notAfter } }]);
  });
  return record;
}

export interface SignedReport {
  /** Where the detached signature was written: `<report>.p7s`. */
  readonly signature: string;
  readonly sha256: string;
  readonly size: number;
  readonly signer: { readonly serial: string; readonly notAfter: string };
}

/** Sign the report at `path`: `<path>.p7s` (DER), audited. `force`: overwrite an existing signature file. */
export async function signReport(home: Home, path: string, options: { force?: boolean } = {}): Promise<SignedReport> {
  await home.authorize("report.sign");
  const record = await ensureReportSigner(home);
  const certificate = derFromPemOrDer(Buffer.from(record.certificate), ["CERTIFICATE"])!;
  const signer = await home.keys.signer({ uri: record.keyUri, algorithm: record.keyAlgorithm, publicKey: spkiOfCertificate(certificate) });
  const digestName = signatureDigest(signer);
  const { digests, size } = await digestFile(path, [digestName, "sha256"], "the report");
  const der = await signDetached({ signer, certificates: [certificate], digest: digests.get(digestName)!, now: home.clock() });
  const out = `${path}.p7s`;
  try {
    writeFileAtomic(out, der, { exclusive: options.force !== true, mode: 0o644 });
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new TrustlineError(code === "EEXIST" ? "ALREADY_EXISTS" : "INPUT_INVALID", `cannot write ${out}: ${code === "EEXIST" ? "it exists (--force to overwrite)" : (code ?? (e as Error).message)}`);
  }
  const sha256 = Buffer.from(digests.get("sha256")!).toString("hex");
  await home.record([{ action: "report.sign", outcome: "ok", ...home.who, ca: "root", serial: record.serial, details: { report: basename(path), sha256, size } }]);
  return { signature: out, sha256, size, signer: { serial: record.serial, notAfter: record.notAfter } };
}

export type ReportCheck = CmsCheck | "chain" | "signer-usage";

export interface ReportEvidence {
  readonly report?: { readonly sha256: string; readonly size: number };
  readonly signer?: { readonly subject: string; readonly issuer: string; readonly serial: string };
  readonly signingTime?: string;
}

export type ReportVerdict =
  | { readonly valid: true; readonly evidence: ReportEvidence }
  | { readonly valid: false; readonly check: ReportCheck; readonly reason: string; readonly evidence: ReportEvidence };

export interface ReportVerifyOptions {
  /** The report file. */
  readonly report: string;
  /** The `.p7s` file's bytes (DER or PEM). */
  readonly signature: Uint8Array;
  /** The pinned root(s), DER or PEM. */
  readonly trust: readonly Uint8Array[];
  readonly now?: Date;
}

/**
 * Check a signed report: the signature (format, algorithms, signed attributes, the streamed
 * report's digest, the signer's key), the signer's path to a pinned root at `now`, and its usage
 * (digitalSignature, documentSigning). Returns the first failing check, never throws on bad input.
 */
export async function verifyReport(options: ReportVerifyOptions): Promise<ReportVerdict> {
  const evidence: { -readonly [K in keyof ReportEvidence]: ReportEvidence[K] } = {};
  try {
    const opened = openDetachedSignature(options.signature);
    if (opened.signingTime) evidence.signingTime = opened.signingTime;
    const { digests, size } = await digestFile(options.report, [opened.digestName, "sha256"], "the report");
    evidence.report = { sha256: Buffer.from(digests.get("sha256")!).toString("hex"), size };
    if (!digestMatches(opened, digests.get(opened.digestName)!)) {
      throw new SignatureCheckFailure("message-digest", `the report's ${opened.digestName} does not match the signed messageDigest: the report was edited after it was signed, or this is another report's signature`);
    }
    const signer = signerCertificate(opened);
    evidence.signer = { subject: signer.subject.text, issuer: signer.issuer.text, serial: signer.serial };
    checkSignature(opened, signer);
    const trust = options.trust.flatMap((t) => dersOf(t, "CERTIFICATE"));
    const path = validatePath(signer.der, { trustAnchors: trust, intermediates: opened.signedData.certificates.filter((c) => c !== signer.der), time: options.now ?? new Date(), revocation: "off" });
    if (!path.valid) throw new SignatureCheckFailure<ReportCheck>("chain", `the report signer does not chain to the pinned root: ${path.reason} (RFC 5280 §${path.rfcSection})`);
    const ku = signer.ext.keyUsage;
    if (ku === undefined || (ku & KEY_USAGE.digitalSignature) === 0 || (ku & (KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign)) !== 0) {
      throw new SignatureCheckFailure<ReportCheck>("signer-usage", "the signer's keyUsage must be digitalSignature, and not a CA's");
    }
    if (!signer.ext.extendedKeyUsage?.includes(EKU_OIDS.documentSigning)) {
      throw new SignatureCheckFailure<ReportCheck>("signer-usage", "the signer's extendedKeyUsage does not include documentSigning (RFC 9336): it is not a report signer");
    }
    return { valid: true, evidence };
  } catch (e) {
    if (e instanceof SignatureCheckFailure) return { valid: false, check: e.check as ReportCheck, reason: e.message, evidence };
    throw e;
  }
}
