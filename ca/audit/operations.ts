/**
 * What auditors run: verify the trail against a root they trust, keep checkpoints of it, read it.
 *
 * Who may sign heads is decided here, not read from the home alone: the audit key must hold an
 * `audit-signer` certificate from the root, and the auditor may pin that root from outside the
 * home (`--root`). Someone who can rewrite every file of the home but lacks the root's key can
 * then no longer replace the audit key and re-sign a rewritten log. Checkpoints (signed heads the
 * auditor keeps elsewhere) catch what a valid signature cannot: an older log and head put back
 * (rollback), or a log rewritten from some point by the holder of the audit key (fork).
 */
import { createHash, verify as nodeVerify } from "node:crypto";
import { auditLogSigningOids, type KeyAlgorithm } from "../../policy/index.js";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer, toPem } from "../pem.js";
import { parseCertificateForValidation } from "../validation/certificate.js";
import { validatePath } from "../validation/validate-path.js";
import { publicKeyFromSpki } from "../x509/keys.js";
import { describeSpki } from "../x509/spki.js";
import { auditHeadMessage, type AuditEntry, type AuditHead, type AuditLog, type AuditVerdict } from "./log.js";

/** What the trail's checks need from a home (structural: the audit module does not import the home). */
export interface AuditedHome {
  readonly audit: AuditLog;
  /** The arc the home mints its OIDs under (the audit key purpose among them). */
  readonly policyArc: string;
  readonly state: {
    readonly auditKey: { readonly keyAlgorithm: KeyAlgorithm; readonly publicKey: string; readonly certificate?: string };
    readonly cas: Readonly<Record<string, { readonly certificate: string }>>;
  };
}

/** The root an auditor trusts: its certificate, or the SHA-256 fingerprint of the home's root certificate. */
export type RootPin = { readonly certificate: Uint8Array } | { readonly sha256: string };

/** A signed head kept outside the home. */
export interface AuditCheckpoint {
  readonly format: "trustline-audit-checkpoint/1";
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
  /** base64 signature over the head, as in audit/head.json. */
  readonly signature: string;
  /** The audit key's certificate (PEM); absent for a home whose audit key was never certified. */
  readonly auditCertificate?: string;
  /** SHA-256 of the root that certified it (informative; trust comes from --root). */
  readonly rootSha256: string;
}

export interface AuditVerifyOptions {
  readonly root?: RootPin;
  readonly checkpoints?: readonly AuditCheckpoint[];
  /** Sees each entry whose hash and link hold, as the chain is checked (entries after a bad one are not seen). */
  readonly onEntry?: (entry: AuditEntry) => void;
}

export type AuditReport = AuditVerdict & {
  /** "pinned": the root given by the auditor; "home": the root certificate in the home's state (trusting the home). */
  readonly rootSource: "pinned" | "home";
  readonly rootSha256: string;
  /** Whether the audit key holds an audit-signer certificate from that root, and its serial. */
  readonly auditKey: { readonly certified: boolean; readonly serial?: string };
  readonly checkpoints: number;
};

const sha256Hex = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");

/** A fingerprint as given on a command line: hex, with or without colons, any case. */
export function parseFingerprint(text: string): string | undefined {
  const hex = text.replace(/:/g, "").toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

function homeRootDer(home: AuditedHome): Uint8Array {
  const root = Object.hasOwn(home.state.cas, "root") ? home.state.cas.root : undefined;
  const der = root ? derFromPemOrDer(Buffer.from(root.certificate), ["CERTIFICATE"]) : undefined;
  if (!der) throw new TrustlineError("CONFIG_INVALID", "the home's state names no root CA certificate");
  return der;
}

/** The hash a head signature uses with this key (the audit key's algorithm: SHA-384 for P-384). */
function headSignatureHolds(spki: Uint8Array): (message: Buffer, signature: Buffer) => boolean {
  const key = publicKeyFromSpki(spki);
  const described = describeSpki(spki);
  const hash = described.type === "ec" && described.curve === "P-384" ? "sha384" : "sha256";
  return (message, signature) => nodeVerify(hash, message, key, signature);
}

/**
 * The key an audit-signer certificate certifies, when the certificate chains to `rootDer` at
 * `time` and names the audit-log purpose; otherwise why not.
 */
function certifiedAuditKey(certificatePem: string, rootDer: Uint8Array, time: Date, purposes: readonly string[]): { spki: Uint8Array; serial: string } | { problem: string } {
  const der = derFromPemOrDer(Buffer.from(certificatePem), ["CERTIFICATE"]);
  if (!der) return { problem: "the audit key's certificate cannot be read" };
  const result = validatePath(der, { trustAnchors: [rootDer], time, revocation: "off" });
  if (!result.valid) return { problem: `the audit key's certificate is not valid under the root: ${result.reason}` };
  const cert = parseCertificateForValidation(der);
  if (!cert.ext.extendedKeyUsage?.some((oid) => purposes.includes(oid))) return { problem: "the audit key's certificate is not an audit-signer certificate (extendedKeyUsage auditLogSigning)" };
  return { spki: cert.spki, serial: cert.serial };
}

/**
 * Verify the trail: every entry's hash and link, the signed head under an audit key the root
 * certified, and every checkpoint present in the log.
 */
export async function verifyAuditLog(home: AuditedHome, options: AuditVerifyOptions = {}): Promise<AuditReport> {
  const fromHome = homeRootDer(home);
  let rootDer = fromHome;
  const rootSource = options.root ? "pinned" : "home";
  const checkpoints = options.checkpoints ?? [];
  const summary = (verdict: AuditVerdict, auditKey: AuditReport["auditKey"]): AuditReport => ({ ...verdict, rootSource, rootSha256: sha256Hex(rootDer), auditKey, checkpoints: checkpoints.length });
  const refused = (problem: string, auditKey: AuditReport["auditKey"] = { certified: false }) => summary({ intact: false, entries: 0, firstBad: 0, problem }, auditKey);

  if (options.root && "certificate" in options.root) {
    rootDer = options.root.certificate;
    try {
      parseCertificateForValidation(rootDer);
    } catch (e) {
      throw new TrustlineError("INPUT_INVALID", `the pinned root is not a certificate: ${(e as Error).message}`);
    }
  } else if (options.root && sha256Hex(fromHome) !== options.root.sha256) {
    return refused(`the home's root certificate (SHA-256 ${sha256Hex(fromHome)}) is not the pinned root ${options.root.sha256}: the home's state was replaced, or this is another CA`);
  }

  // Which key may sign heads.
  const time = new Date((await home.audit.readHead())?.time ?? Date.now());
  let spki: Uint8Array;
  let auditKey: AuditReport["auditKey"];
  const certificate = home.state.auditKey.certificate;
  if (certificate) {
    const certified = certifiedAuditKey(certificate, rootDer, Number.isNaN(time.getTime()) ? new Date() : time, auditLogSigningOids(home.policyArc));
    if ("problem" in certified) return refused(certified.problem);
    spki = certified.spki;
    auditKey = { certified: true, serial: certified.serial };
  } else if (options.root) {
    return refused("the audit key has no certificate from the root, so the pinned root cannot vouch for it; certify it with `trustline audit certify`");
  } else {
    spki = Buffer.from(home.state.auditKey.publicKey, "base64");
    auditKey = { certified: false };
  }

  const { verdict, hashes } = await home.audit.verify(headSignatureHolds(spki), new Set(checkpoints.map((c) => c.seq)), options.onEntry);
  if (!verdict.intact) return summary(verdict, auditKey);

  for (const checkpoint of checkpoints) {
    const problem = checkpointProblem(checkpoint, rootDer, spki, hashes, verdict.entries, auditLogSigningOids(home.policyArc));
    if (problem) return summary({ intact: false, entries: verdict.entries, firstBad: Math.min(checkpoint.seq, verdict.entries + 1), problem }, auditKey);
  }
  return summary(verdict, auditKey);
}

/** Why a checkpoint does not hold against this log, or undefined. */
function checkpointProblem(cp: AuditCheckpoint, rootDer: Uint8Array, homeSpki: Uint8Array, hashes: ReadonlyMap<number, string>, entries: number, purposes: readonly string[]): string | undefined {
  const taken = `the checkpoint taken at ${cp.time} (entry ${cp.seq})`;
  let spki = homeSpki;
  if (cp.auditCertificate) {
    const certified = certifiedAuditKey(cp.auditCertificate, rootDer, new Date(cp.time), purposes);
    if ("problem" in certified) return `${taken} is not signed by an audit key of this root: ${certified.problem}`;
    spki = certified.spki;
  }
  let signed = false;
  try {
    signed = headSignatureHolds(spki)(auditHeadMessage(cp.seq, cp.hash), Buffer.from(cp.signature, "base64"));
  } catch {
    signed = false;
  }
  if (!signed) return `${taken} carries a signature that does not verify: it is not a checkpoint of this audit trail`;
  if (cp.seq > entries) return `rollback: the log ends at entry ${entries}, but ${taken} shows it had reached entry ${cp.seq}; an older copy of the log was put back`;
  if (hashes.get(cp.seq) !== cp.hash) return `fork: entry ${cp.seq} differs from ${taken}; the log was rewritten from that point or before`;
  return undefined;
}

/** A checkpoint of the current signed head, after verifying the trail (refuses a trail that does not verify). */
export async function auditCheckpoint(home: AuditedHome, options: { root?: RootPin } = {}): Promise<AuditCheckpoint> {
  const report = await verifyAuditLog(home, options);
  if (!report.intact) throw new TrustlineError("AUDIT_TAMPERED", `no checkpoint taken: the audit log is NOT intact: first bad entry ${report.firstBad}: ${report.problem}`, { details: { ...report } });
  const head: AuditHead = report.head;
  const certificate = home.state.auditKey.certificate;
  return {
    format: "trustline-audit-checkpoint/1",
    seq: head.seq,
    hash: head.hash,
    time: head.time,
    signature: head.signature,
    ...(certificate ? { auditCertificate: toPem(derFromPemOrDer(Buffer.from(certificate), ["CERTIFICATE"])!, "CERTIFICATE") } : {}),
    rootSha256: report.rootSha256,
  };
}

/** Read a checkpoint file; INPUT_INVALID when it is not one. */
export function parseAuditCheckpoint(text: string, source: string): AuditCheckpoint {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TrustlineError("INPUT_INVALID", `${source} is not a Trustline audit checkpoint (not JSON)`);
  }
  const cp = value as Partial<AuditCheckpoint> | null;
  const ok =
    cp !== null &&
    typeof cp === "object" &&
    cp.format === "trustline-audit-checkpoint/1" &&
    Number.isSafeInteger(cp.seq) &&
    (cp.seq as number) > 0 &&
    typeof cp.hash === "string" &&
    /^[0-9a-f]{64}$/.test(cp.hash) &&
    typeof cp.time === "string" &&
    typeof cp.signature === "string" &&
    typeof cp.rootSha256 === "string" &&
    (cp.auditCertificate === undefined || typeof cp.auditCertificate === "string");
  if (!ok) throw new TrustlineError("INPUT_INVALID", `${source} is not a Trustline audit checkpoint (format trustline-audit-checkpoint/1 with seq, hash, time, signature)`);
  return cp as AuditCheckpoint;
}

export function readAuditLog(home: Pick<AuditedHome, "audit">, options: { since?: Date } = {}): AsyncIterable<AuditEntry> {
  return home.audit.read(options.since);
}
