/**
 * Verifying a firmware signature, offline, the way a careful device or update server must
 * (reference: shared/reference/firmware-signing.md, "What a careful verifier checks"):
 *  1. one detached SignedData over id-data, allowed and consistent algorithms;
 *  2. signed attributes present and DER-sorted; contentType id-data; messageDigest = the streamed image;
 *  3. the signature over DER(signedAttrs); signingCertificateV2 names the signer certificate;
 *  4. trusted time T: a verified RFC 3161 time-stamp, else now;
 *  5. RFC 5280 path validation at T to the pinned firmware root, the firmware policy required;
 *  6. the signer: keyUsage digitalSignature only, EKU codeSigning and none of the others;
 *  7. revocation from fresh CRLs, with reason and invalidity-date semantics at T;
 *  8. the manifest: digest, size, hardware model, security version.
 * It stops at the first failing check and names it; it returns the evidence either way. No
 * dependency on issuing code or the store: an update server embeds it.
 */
import { createHash } from "node:crypto";
import { LEGACY_TRUSTLINE_ARC, oidUnderArc, POLICY_OIDS, REVOCATION_REASONS } from "../../policy/index.js";
import { dersOf } from "../pem.js";
import { crlViewFromDer } from "../validation/crl-der.js";
import type { CrlView } from "../validation/crl-view.js";
import { parseCertificateForValidation, type ParsedCertificate } from "../validation/certificate.js";
import { KEY_USAGE } from "../validation/extensions.js";
import { validatePath } from "../validation/validate-path.js";
import { verifySignature } from "../validation/signature.js";
import type { PathCertificate } from "../validation/result.js";
import { content, readRoot } from "../x509/der.js";
import { CMS_OIDS, DIGEST_OIDS, parseSignedData, signedBytesOf } from "./cms.js";
import { allowedSignatureAlgorithm, checkSignature, signerCertificate, digestMatches, openDetachedSignature, SignatureCheckFailure, signedAttributesOf } from "./detached-cms.js";
import { digestFile } from "./digest.js";
import { type FirmwareManifest, packageFitsHardware, readSignedManifest, type SignedManifest } from "./manifest.js";
import { parseTstInfo } from "./timestamp.js";

export type FirmwareCheck =
  | "format"
  | "algorithms"
  | "signed-attributes"
  | "message-digest"
  | "signature"
  | "signing-certificate"
  | "timestamp"
  | "chain"
  | "signer-usage"
  | "revocation"
  | "manifest";

export interface FirmwareVerifyOptions {
  readonly image: string;
  readonly signature: Uint8Array;
  /** Pinned firmware root(s), DER or PEM: never the OS store. */
  readonly trust: readonly Uint8Array[];
  /** Extra intermediates (the signature's own certificates are always used). */
  readonly intermediates?: readonly Uint8Array[];
  /** CRLs (DER or PEM). The signature's embedded CRLs are used too. */
  readonly crls?: readonly Uint8Array[];
  /** "require" (default): every certificate of the path needs a fresh CRL from its issuer. "off": opt out explicitly. */
  readonly revocation?: "require" | "off";
  /** Pinned TSA root(s); without them a time-stamp is not trusted and T = now. */
  readonly tsaTrust?: readonly Uint8Array[];
  readonly minSecurityVersion?: number;
  readonly hardware?: string;
  /**
   * Policy the signer must be certified under, or several (any one will do). Default: the
   * firmware-signing policy under the default arc or the legacy arc; a home with its own arc
   * passes `firmwarePolicyUnder(arc)`.
   */
  readonly requiredPolicy?: string | readonly string[];
  /** The current time (CRL freshness, and T without a time-stamp). */
  readonly now?: Date;
}

export interface FirmwareEvidence {
  readonly image?: { readonly sha256: string; readonly size: number };
  readonly signer?: { readonly subject: string; readonly issuer: string; readonly serial: string; readonly sha256: string };
  readonly signingTime?: string;
  readonly trustedTime?: { readonly time: string; readonly source: "timestamp" | "now" };
  readonly timestamp?: { readonly genTime: string; readonly tsa: string; readonly serial: string; readonly policy: string };
  readonly path?: readonly PathCertificate[];
  readonly policies?: readonly string[];
  readonly crls?: readonly { readonly issuer: string; readonly crlNumber?: string; readonly thisUpdate: string; readonly nextUpdate?: string }[];
  readonly revocation?: string;
  readonly manifest?: FirmwareManifest;
  readonly notes: string[];
}

export type FirmwareVerdict =
  | { readonly valid: true; readonly evidence: FirmwareEvidence }
  | { readonly valid: false; readonly check: FirmwareCheck; readonly reason: string; readonly evidence: FirmwareEvidence };

/** Reasons after which a signature made before the cut-off stays valid (reference §7); any other reason: none. */
const COMPROMISE = new Set<string>(["unspecified", "keyCompromise", "cACompromise"]); // cut-off min(invalidity, revocation)
const BENIGN = new Set<string>(["affiliationChanged", "superseded", "cessationOfOperation"]); // cut-off = revocation

const FORBIDDEN_EKU: Readonly<Record<string, string>> = {
  "2.5.29.37.0": "anyExtendedKeyUsage",
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
};

/** The firmware-signing policy OID of a home whose policy arc is `arc`. */
export function firmwarePolicyUnder(arc: string): string {
  return oidUnderArc(POLICY_OIDS.firmwareSigning, arc);
}

/** Accepted when the caller names no policy: the default arc's and the legacy arc's firmware-signing policy. */
export const DEFAULT_FIRMWARE_POLICIES: readonly string[] = [POLICY_OIDS.firmwareSigning, firmwarePolicyUnder(LEGACY_TRUSTLINE_ARC)];

const ders = (inputs: readonly Uint8Array[], label: string): Uint8Array[] => inputs.flatMap((input) => dersOf(input, label));

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const attr = signedAttributesOf;

class Failure extends SignatureCheckFailure<FirmwareCheck> {}

export async function verifyFirmware(options: FirmwareVerifyOptions): Promise<FirmwareVerdict> {
  const evidence: { -readonly [K in keyof FirmwareEvidence]: FirmwareEvidence[K] } = { notes: [] };
  try {
    await run(options, evidence);
    return { valid: true, evidence };
  } catch (e) {
    if (e instanceof SignatureCheckFailure) return { valid: false, check: e.check as FirmwareCheck, reason: e.message, evidence };
    throw e;
  }
}

async function run(options: FirmwareVerifyOptions, evidence: { -readonly [K in keyof FirmwareEvidence]: FirmwareEvidence[K] }): Promise<void> {
  const now = options.now ?? new Date();
  // 1-2. Format, algorithms, signed attributes.
  const opened = openDetachedSignature(options.signature);
  const { signedData: sd, signerInfo: si, digestName } = opened;
  if (opened.signingTime) evidence.signingTime = opened.signingTime;

  // The image, streamed once.
  const { digests, size } = await digestFile(options.image, [digestName, "sha256"]);
  evidence.image = { sha256: hex(digests.get("sha256")!), size };
  if (!digestMatches(opened, digests.get(digestName)!)) {
    throw new Failure("message-digest", `the image's ${digestName} does not match the signed messageDigest: the image was altered or truncated, or this is another image's signature`);
  }

  // 3. Signature and signer certificate.
  const signer = signerCertificate(opened);
  evidence.signer = { subject: signer.subject.text, issuer: signer.issuer.text, serial: signer.serial, sha256: signer.id };
  checkSignature(opened, signer);

  // 4. Trusted time.
  let trustedTime = now;
  let timestamped = false;
  const token = si.unsignedAttributes.find((a) => a.type === CMS_OIDS.timeStampToken)?.values[0];
  if (token && options.tsaTrust?.length) {
    const ts = verifyTimestampToken(token, si.signature, ders(options.tsaTrust, "CERTIFICATE"));
    trustedTime = ts.genTime;
    timestamped = true;
    evidence.timestamp = { genTime: ts.genTime.toISOString(), tsa: ts.tsa, serial: ts.serial, policy: ts.policy };
  } else if (token) {
    evidence.notes.push("the signature carries a time-stamp, but no TSA root was given (--tsa-trust): it was not used");
  }
  evidence.trustedTime = { time: trustedTime.toISOString(), source: timestamped ? "timestamp" : "now" };

  // 5. Path validation at T, to the pinned root, firmware policy required.
  const requiredPolicy = options.requiredPolicy ?? DEFAULT_FIRMWARE_POLICIES;
  const result = validatePath(signer.der, {
    trustAnchors: ders(options.trust, "CERTIFICATE"),
    intermediates: [...sd.certificates.filter((c) => c !== signer.der), ...ders(options.intermediates ?? [], "CERTIFICATE")],
    time: trustedTime,
    purpose: "codesign",
    revocation: "off", // firmware revocation has its own time semantics (step 7)
    initialPolicySet: typeof requiredPolicy === "string" ? [requiredPolicy] : [...requiredPolicy],
    initialExplicitPolicy: true,
  });
  evidence.path = result.path;
  if (!result.valid) throw new Failure("chain", `${result.reason} (RFC 5280 §${result.rfcSection}, certificate ${result.failing.index}: ${result.failing.subject})`);
  evidence.policies = result.policies;

  // 6. The signer's usages.
  const ku = signer.ext.keyUsage;
  if (ku === undefined || (ku & KEY_USAGE.digitalSignature) === 0) throw new Failure("signer-usage", "the signer's keyUsage does not allow digitalSignature");
  if (ku & (KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign)) throw new Failure("signer-usage", "the signer's keyUsage allows certificate or CRL signing: a CA key must not sign firmware");
  const eku = signer.ext.extendedKeyUsage ?? [];
  if (!eku.includes("1.3.6.1.5.5.7.3.3")) throw new Failure("signer-usage", "the signer's extendedKeyUsage does not include codeSigning");
  const forbidden = eku.filter((e) => FORBIDDEN_EKU[e]).map((e) => FORBIDDEN_EKU[e]);
  if (forbidden.length) throw new Failure("signer-usage", `the signer's extendedKeyUsage also allows ${forbidden.join(", ")}: a firmware signer must be codeSigning only`);

  // 7. Revocation, every certificate of the path but the anchor.
  const pathCerts = [signer, ...resolvePath(result.path, [...sd.certificates, ...ders(options.intermediates ?? [], "CERTIFICATE"), ...ders(options.trust, "CERTIFICATE")])];
  // CRLs are read with the path validator's strict decoder: a verifier trusts nothing it half-reads.
  const crls = [...sd.crls, ...ders(options.crls ?? [], "X509 CRL")].map((der, i) => {
    try {
      return crlViewFromDer(der);
    } catch (e) {
      throw new Failure("revocation", `CRL ${i + 1} cannot be read: ${(e as Error).message}`);
    }
  });
  if ((options.revocation ?? "require") === "off") {
    evidence.revocation = "not checked (explicitly turned off)";
  } else {
    const used: NonNullable<FirmwareEvidence["crls"]>[number][] = [];
    evidence.crls = used;
    for (let i = 0; i + 1 < pathCerts.length; i++) {
      const cert = pathCerts[i]!;
      const issuer = pathCerts[i + 1]!;
      const crl = freshestCrl(crls, issuer, now);
      if (!crl) throw new Failure("revocation", `no current CRL from "${issuer.subject.text}" covers "${cert.subject.text}" (give it with --crl, or opt out explicitly)`);
      used.push({ issuer: issuer.subject.text, ...(crl.crlNumber !== undefined ? { crlNumber: crl.crlNumber.toString() } : {}), thisUpdate: crl.thisUpdate.toISOString(), ...(crl.nextUpdate ? { nextUpdate: crl.nextUpdate.toISOString() } : {}) });
      const entry = crl.lookup(cert.serial);
      if (!entry) continue;
      const reason = entry.reason ?? "unspecified";
      const what = `"${cert.subject.text}" was revoked at ${entry.revocationDate.toISOString()} (reason ${REVOCATION_REASONS[reason]}${entry.invalidityDate ? `, invalid since ${entry.invalidityDate.toISOString()}` : ""})`;
      if (!timestamped) throw new Failure("revocation", `${what}, and the signature has no trusted time-stamp to show it was made before`);
      const cutoff = COMPROMISE.has(reason) ? Math.min(entry.revocationDate.getTime(), entry.invalidityDate?.getTime() ?? Infinity) : BENIGN.has(reason) ? entry.revocationDate.getTime() : -Infinity;
      if (!(trustedTime.getTime() < cutoff)) throw new Failure("revocation", `${what}; the signature was time-stamped at ${trustedTime.toISOString()}, not before the cut-off`);
      evidence.notes.push(`${what}, but the signature was time-stamped before the cut-off: still valid`);
    }
    evidence.revocation = "checked";
  }

  // 8. The manifest: format 2 (RFC 4108 attributes + the Trustline fields) or format 1 (one JSON attribute).
  let signed: SignedManifest;
  try {
    signed = readSignedManifest(si.signedAttributes);
  } catch (e) {
    throw new Failure("manifest", (e as Error).message);
  }
  if (signed.kind === "manifest") {
    const manifest = signed.manifest;
    evidence.manifest = manifest;
    if (manifest.imageSha256 !== evidence.image.sha256 || manifest.imageSize !== size) throw new Failure("manifest", "the manifest's image digest or size does not match the image");
    if (manifest.signerCertificateSha256 !== signer.id) throw new Failure("manifest", "the manifest names another signer certificate");
    if (options.hardware !== undefined && manifest.hardware !== options.hardware) throw new Failure("manifest", `the image is for hardware "${manifest.hardware}", not "${options.hardware}"`);
  } else if (signed.kind === "package-only") {
    evidence.notes.push(`the signature carries RFC 4108 attributes (package ${signed.firmwarePackage.packageOid}, version ${signed.firmwarePackage.versionNumber}) but no Trustline manifest: only the image digest binds it`);
    if (options.hardware !== undefined && !packageFitsHardware(signed.firmwarePackage, options.hardware)) {
      throw new Failure("manifest", `the package's targetHardwareIDs (${signed.firmwarePackage.targetHardwareOids.join(", ") || "none"}) do not name hardware "${options.hardware}"`);
    }
  } else {
    if (options.hardware !== undefined || options.minSecurityVersion !== undefined) throw new Failure("manifest", "the signature has no manifest, so hardware and security version cannot be checked");
    evidence.notes.push("the signature has no Trustline manifest (e.g. made by openssl cms): only the image digest binds it");
  }
  const securityVersion = signed.kind === "manifest" ? signed.manifest.securityVersion : signed.kind === "package-only" ? signed.firmwarePackage.versionNumber : undefined;
  if (securityVersion !== undefined && options.minSecurityVersion !== undefined && securityVersion < options.minSecurityVersion) {
    throw new Failure("manifest", `security version ${securityVersion} is below the minimum ${options.minSecurityVersion} (anti-rollback)`);
  }
}



/** The path's certificates after the target, as parsed certificates (from every source given). */
function resolvePath(path: readonly PathCertificate[], pool: readonly Uint8Array[]): ParsedCertificate[] {
  const all = new Map(pool.map((der) => parseCertificateForValidation(der)).map((p) => [p.id, p] as const));
  return path.slice(1).flatMap((p) => all.get(p.sha256) ?? []);
}

/**
 * The newest complete CRL signed by `issuer` (name and key) that is current at `now`: not a delta,
 * not scoped by an issuing distribution point, no critical extension left unread.
 */
function freshestCrl(crls: readonly CrlView[], issuer: ParsedCertificate, now: Date): CrlView | undefined {
  const complete = (c: CrlView) => c.deltaBaseCrlNumber === undefined && c.issuingDistributionPoint === undefined && (c.unsupportedCriticalExtensions?.length ?? 0) === 0;
  const candidates = crls.filter(
    (c) => Buffer.compare(Buffer.from(c.issuerDer), Buffer.from(issuer.subject.der)) === 0 && complete(c) && c.thisUpdate <= now && (c.nextUpdate === undefined || now < c.nextUpdate) && c.verifySignature(issuer.spki),
  );
  candidates.sort((a, b) => Number((b.crlNumber ?? 0n) - (a.crlNumber ?? 0n)) || b.thisUpdate.getTime() - a.thisUpdate.getTime());
  return candidates[0];
}



/** Check an RFC 3161 token over `signatureValue`, its TSA certificate chaining to a pinned TSA root. */
function verifyTimestampToken(token: Uint8Array, signatureValue: Uint8Array, tsaRoots: readonly Uint8Array[]): { genTime: Date; tsa: string; serial: string; policy: string } {
  let sd;
  let info;
  try {
    sd = parseSignedData(token);
    info = parseTstInfo(token);
  } catch (e) {
    throw new Failure("timestamp", `the time-stamp token cannot be read: ${(e as Error).message}`);
  }
  const imprintHash = DIGEST_OIDS[info.hashAlgorithm];
  if (!imprintHash || Buffer.compare(createHash(imprintHash).update(signatureValue).digest(), Buffer.from(info.hashedMessage)) !== 0) {
    throw new Failure("timestamp", "the time-stamp does not cover this signature (messageImprint differs)");
  }
  const tsi = sd.signerInfos[0];
  if (!tsi?.signedAttributesRaw) throw new Failure("timestamp", "the time-stamp token has no signed attributes");
  const digestName = DIGEST_OIDS[tsi.digestAlgorithm];
  const md = attr(tsi, CMS_OIDS.messageDigest)[0]?.values[0];
  if (!digestName || !md || Buffer.compare(Buffer.from(content(md, readRoot(md, 0x04))), createHash(digestName).update(sd.eContent!).digest()) !== 0) {
    throw new Failure("timestamp", "the time-stamp token's messageDigest does not match its TSTInfo");
  }
  const certs = sd.certificates.map((c) => parseCertificateForValidation(c));
  const tsa = certs.find((c) => c.serial === tsi.serial && tsi.issuer && Buffer.compare(Buffer.from(c.issuer.der), Buffer.from(tsi.issuer)) === 0);
  if (!tsa) throw new Failure("timestamp", "the time-stamp token does not include its TSA certificate");
  const key = tsa.publicKey().value;
  const algorithm = allowedSignatureAlgorithm(tsi.signatureAlgorithmDer, digestName);
  if (!key || !algorithm || verifySignature(algorithm, signedBytesOf(tsi.signedAttributesRaw), tsi.signature, key) !== undefined) {
    throw new Failure("timestamp", "the time-stamp token's signature does not verify");
  }
  const ekuCritical = tsa.extensions.find((e) => e.oid === "2.5.29.37")?.critical === true;
  const eku = tsa.ext.extendedKeyUsage ?? [];
  if (!ekuCritical || eku.length !== 1 || eku[0] !== "1.3.6.1.5.5.7.3.8") throw new Failure("timestamp", "the time-stamp signer is not a TSA certificate (RFC 3161 §2.3: a critical EKU of timeStamping only)");
  const chain = validatePath(tsa.der, { trustAnchors: tsaRoots, intermediates: sd.certificates.filter((c) => c !== tsa.der), time: info.genTime, revocation: "off" });
  if (!chain.valid) throw new Failure("timestamp", `the time-stamp authority is not trusted: ${chain.reason}`);
  return { genTime: info.genTime, tsa: tsa.subject.text, serial: info.serial, policy: info.policy };
}

