/**
 * Signing a firmware image: a detached CMS SignedData (DER, .p7s) over the streamed image, with
 * signed attributes contentType, messageDigest, signingTime, signingCertificateV2,
 * CMSAlgorithmProtection and the manifest (RFC 4108 firmwarePackageID, targetHardwareIDs,
 * firmwarePackageInfo, and the remaining Trustline fields under <arc>.2.2), DER-sorted; certificates = signer + chain;
 * optionally an RFC 3161 time-stamp of the signature as an unsigned attribute.
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { TrustlineError } from "../errors.js";
import { signerFromKeyFile } from "../keys/key-file.js";
import { isRemoteKeyUri, openRemoteSigner } from "../keys/registry.js";
import type { Signer } from "../keys/signer.js";
import { dersOf } from "../pem.js";
import { certificateDer, certificatePolicyOids, isSelfIssued, serialOfCertificate, spkiOfCertificate, subjectString } from "../x509/cert-fields.js";
import { CMS_OIDS, encodeAttribute } from "./cms.js";
import { signatureDigest, signDetached } from "./detached-cms.js";
import { digestFile } from "./digest.js";
import { checkManifestInput, firmwareArcOf, type FirmwareManifest, manifestAttributes } from "./manifest.js";
import { policyArcProblems } from "../../policy/index.js";
import { requestTimestamp } from "./timestamp.js";

export interface FirmwareSignOptions {
  readonly image: string;
  /** The signer certificate (PEM or DER); further certificates in the same PEM count as chain. */
  readonly certificate: Uint8Array;
  /** Intermediate CA certificates (PEM bundle); self-signed roots in it are left out. */
  readonly chain?: Uint8Array;
  readonly signer: Signer;
  readonly version?: string;
  readonly hardware?: string;
  readonly securityVersion?: number;
  /**
   * The organisation's arc, under which the package, hardware and Trustline-attribute OIDs are
   * minted. Default: the arc of the signer certificate's firmware-signing policy (`<arc>.1.2`).
   */
  readonly policyArc?: string;
  /** An RFC 3161 time-stamp authority (HTTP POST). */
  readonly tsaUrl?: string;
  readonly clock?: () => Date;
}

export interface FirmwareSignature {
  readonly der: Uint8Array;
  readonly manifest: FirmwareManifest;
  readonly signer: { readonly subject: string; readonly serial: string };
  readonly timestamped: boolean;
}

function checkedArc(arc: string): string {
  const problems = policyArcProblems(arc);
  if (problems.length > 0) throw new TrustlineError("USAGE", `--policy-arc: ${problems.join("; ")}`);
  return arc;
}

function certificatesOf(input: Uint8Array | undefined): Uint8Array[] {
  return input ? dersOf(input, "CERTIFICATE").map(certificateDer) : [];
}

/**
 * The signer behind `firmware sign --key`: a key file (PEM, plain or encrypted with `passphrase`),
 * or a key in Azure Key Vault or on a PKCS#11 token named by its URI, checked against the signer
 * certificate's public key. `close` releases a vault client or token session.
 */
export async function openFirmwareKey(key: string, certificate: Uint8Array, options: { passphrase?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ signer: Signer; close: () => Promise<void> }> {
  if (!isRemoteKeyUri(key)) return { signer: signerFromKeyFile(key, options.passphrase), close: async () => undefined };
  const [signerCert] = certificatesOf(certificate);
  if (!signerCert) throw new TrustlineError("INPUT_INVALID", "the --cert file holds no certificate");
  return openRemoteSigner(key, spkiOfCertificate(signerCert), options.env);
}

export async function signFirmware(options: FirmwareSignOptions): Promise<FirmwareSignature> {
  const [signerCert, ...rest] = certificatesOf(options.certificate);
  if (!signerCert) throw new TrustlineError("INPUT_INVALID", "the --cert file holds no certificate");
  if (Buffer.compare(Buffer.from(spkiOfCertificate(signerCert)), Buffer.from(options.signer.publicKey)) !== 0) {
    throw new TrustlineError("KEY_UNAVAILABLE", "the key does not belong to the signer certificate (their public keys differ)");
  }
  const chain = [...rest, ...certificatesOf(options.chain)].filter((c) => !isSelfIssued(c));
  const manifestInput = { version: options.version ?? "0", hardware: options.hardware ?? "any", securityVersion: options.securityVersion ?? 0 };
  checkManifestInput(manifestInput);

  const digestName = signatureDigest(options.signer); // the signature's own hash (RFC 5753 §3.1, reference §Algorithms)
  const { digests, size } = await digestFile(options.image, [digestName, "sha256"]);
  const now = (options.clock ?? (() => new Date()))();
  const arc = options.policyArc !== undefined ? checkedArc(options.policyArc) : firmwareArcOf(certificatePolicyOids(signerCert));
  const { attributes: manifestAttrs, manifest } = manifestAttributes(arc, {
    name: basename(options.image),
    ...manifestInput,
    imageSha256: Buffer.from(digests.get("sha256")!).toString("hex"),
    imageSize: size,
    createdAt: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    signerCertificateSha256: createHash("sha256").update(signerCert).digest("hex"),
  });
  const der = await signDetached({
    signer: options.signer,
    certificates: [signerCert, ...chain],
    digest: digests.get(digestName)!,
    now,
    attributes: manifestAttrs.map(([type, value]) => encodeAttribute(type, value)),
    ...(options.tsaUrl ? { unsigned: async (signature: Uint8Array) => [encodeAttribute(CMS_OIDS.timeStampToken, await requestTimestamp(options.tsaUrl!, signature))] } : {}),
  });
  return { der, manifest, signer: { subject: subjectString(signerCert), serial: serialOfCertificate(signerCert) }, timestamped: options.tsaUrl !== undefined };
}
