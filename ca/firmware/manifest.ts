/**
 * The signed firmware manifest: what the image is, for which hardware, at which anti-rollback
 * level. It rides inside the CMS signature as a signed attribute, so the signature covers it.
 * Field names mirror SUIT (RFC 9124) where one exists.
 */
import { LEGACY_TRUSTLINE_ARC } from "../../policy/index.js";
import { canonicalJson } from "../audit/canonical-json.js";
import { TrustlineError } from "../errors.js";

/** The signed attribute that carries the manifest: an OCTET STRING of canonical JSON (UTF-8). */
export const MANIFEST_ATTRIBUTE_OID = `${LEGACY_TRUSTLINE_ARC}.2.1`;

export interface FirmwareManifest {
  readonly format: "trustline-firmware-manifest/1";
  /** The image's file name (informational). */
  readonly name: string;
  readonly version: string;
  /** Hardware model (SUIT vendor/class identifiers collapsed into one model string). */
  readonly hardware: string;
  /** Anti-rollback counter (SUIT sequence-number semantics): a device refuses anything lower. */
  readonly securityVersion: number;
  readonly imageSha256: string;
  readonly imageSize: number;
  readonly createdAt: string;
  /** SHA-256 of the signer certificate (DER). */
  readonly signerCertificateSha256: string;
}

export function encodeManifest(m: FirmwareManifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(m));
}

const FIELD = /^[\p{L}\p{N} ._:+\-/()]{1,128}$/u;

export function checkManifestInput(input: { version: string; hardware: string; securityVersion: number }): void {
  if (!FIELD.test(input.version)) throw new TrustlineError("USAGE", `--version "${input.version.slice(0, 40)}" must be 1-128 letters, digits, spaces and . _ : + - / ( )`);
  if (!FIELD.test(input.hardware)) throw new TrustlineError("USAGE", `--hardware "${input.hardware.slice(0, 40)}" must be 1-128 letters, digits, spaces and . _ : + - / ( )`);
  if (!Number.isSafeInteger(input.securityVersion) || input.securityVersion < 0) throw new TrustlineError("USAGE", `--security-version must be a whole number >= 0`);
}

export function decodeManifest(bytes: Uint8Array): FirmwareManifest {
  let m: FirmwareManifest;
  try {
    m = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as FirmwareManifest;
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", "the signature's manifest is not valid JSON", { cause: e });
  }
  if (m.format !== "trustline-firmware-manifest/1") throw new TrustlineError("INPUT_INVALID", `unknown manifest format ${String(m.format)}`);
  return m;
}
