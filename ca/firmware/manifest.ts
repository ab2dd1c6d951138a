/**
 * The signed firmware manifest: what the image is, for which hardware, at which anti-rollback
 * level. It rides inside the CMS signature as signed attributes, so the signature covers it.
 *
 * Format 2 (signatures made now) uses the attributes RFC 4108 defines where they fit, under the
 * organisation's arc (the signer certificate's policy arc, see firmwareArcOf):
 *   id-aa-firmwarePackageID    fwPkgID <arc>.4.<model number>, verNum = security version,
 *                              stale = security version - 1 (RFC 4108 §2.2.1: after loading it, a
 *                              device refuses verNum <= stale, that is anything below it)
 *   id-aa-targetHardwareIDs    [<arc>.3.<model number>] (absent for hardware "any")
 *   id-aa-firmwarePackageInfo  fwPkgType 1 (a complete image)
 *   <arc>.2.2                  the remaining Trustline fields, canonical JSON (UTF-8) in an OCTET STRING
 * where <model number> is the first 7 bytes of SHA-256(UTF-8 model name), a 56-bit integer.
 * Format 1 (made before): one attribute 2.25.<uuid>.2.1, canonical JSON of every field. The
 * verifier reads both. Field names mirror SUIT (RFC 9124) where one exists.
 */
import { createHash } from "node:crypto";
import { DEFAULT_POLICY_ARC, LEGACY_TRUSTLINE_ARC, oidUnderArc, POLICY_OIDS, policyArcProblems } from "../../policy/index.js";
import { canonicalJson } from "../audit/canonical-json.js";
import { TrustlineError } from "../errors.js";
import { content, readRoot, tlv } from "../x509/der.js";
import type { Attribute } from "./cms.js";
import {
  decodeFirmwarePackageId,
  decodeFirmwarePackageInfo,
  decodeTargetHardwareIds,
  encodeFirmwarePackageId,
  encodeFirmwarePackageInfo,
  encodeTargetHardwareIds,
  RFC4108_OIDS,
} from "./rfc4108.js";

/** Format 1's attribute: an OCTET STRING of canonical JSON (UTF-8), under the legacy 2.25 arc. */
export const MANIFEST_ATTRIBUTE_OID = `${LEGACY_TRUSTLINE_ARC}.2.1`;

/** Format 2's Trustline attribute, the suffix under the organisation's arc. */
export const MANIFEST_V2_SUFFIX = ".2.2";
/** fwPkgType of a complete firmware image (RFC 4108 leaves the values to the vendor). */
export const FIRMWARE_PACKAGE_TYPE_IMAGE = 1;
/** The hardware model of a signature made for any hardware (no targetHardwareIDs). */
export const ANY_HARDWARE = "any";

/** The RFC 4108 view of a format-2 signature. */
export interface FirmwarePackage {
  readonly packageOid: string;
  readonly versionNumber: number;
  readonly staleVersion?: number;
  readonly targetHardwareOids: readonly string[];
  readonly packageType?: number;
  /** The arc the package OID sits under (`<arc>.4.<n>`), when it is Trustline's form. */
  readonly arc?: string;
}

export interface FirmwareManifest {
  readonly format: "trustline-firmware-manifest/1" | "trustline-firmware-manifest/2";
  /** The image's file name (informational). */
  readonly name: string;
  readonly version: string;
  /** Hardware model (SUIT vendor/class identifiers collapsed into one model string). */
  readonly hardware: string;
  /** Anti-rollback counter (SUIT sequence-number semantics): a device refuses anything lower. Format 2: verNum. */
  readonly securityVersion: number;
  readonly imageSha256: string;
  readonly imageSize: number;
  readonly createdAt: string;
  /** SHA-256 of the signer certificate (DER). */
  readonly signerCertificateSha256: string;
  /** Format 2: the RFC 4108 attributes. */
  readonly firmwarePackage?: FirmwarePackage;
}

/** Format 2's JSON: the fields RFC 4108 has no attribute for. */
type TrustlineFields = Omit<FirmwareManifest, "format" | "securityVersion" | "firmwarePackage"> & { readonly format: "trustline-firmware-manifest/2" };

export function encodeManifest(m: object): Uint8Array {
  return new TextEncoder().encode(canonicalJson(m));
}

const FIELD = /^[\p{L}\p{N} ._:+\-/()]{1,128}$/u;

export function checkManifestInput(input: { version: string; hardware: string; securityVersion: number }): void {
  if (!FIELD.test(input.version)) throw new TrustlineError("USAGE", `--version "${input.version.slice(0, 40)}" must be 1-128 letters, digits, spaces and . _ : + - / ( )`);
  if (!FIELD.test(input.hardware)) throw new TrustlineError("USAGE", `--hardware "${input.hardware.slice(0, 40)}" must be 1-128 letters, digits, spaces and . _ : + - / ( )`);
  if (!Number.isSafeInteger(input.securityVersion) || input.securityVersion < 0) throw new TrustlineError("USAGE", `--security-version must be a whole number >= 0`);
}

/** A hardware model's number: the first 7 bytes of SHA-256(UTF-8 name), as an integer below 2^56. */
export function hardwareModelNumber(model: string): bigint {
  const digest = createHash("sha256").update(model, "utf8").digest();
  return BigInt(`0x${digest.subarray(0, 7).toString("hex")}`);
}

/** The OID of hardware model `model` under `arc`: `<arc>.3.<model number>`. */
export const hardwareModelOid = (model: string, arc: string): string => `${arc}.3.${hardwareModelNumber(model)}`;
/** The firmware package OID for hardware model `model` under `arc`: `<arc>.4.<model number>`. */
export const firmwarePackageOid = (model: string, arc: string): string => `${arc}.4.${hardwareModelNumber(model)}`;

/**
 * The organisation's arc, as the signer's certificate states it: the arc of its firmware-signing
 * policy (`<arc>.1.2`). The default arc when there is none, or when it is one some verifiers cannot
 * read (the legacy 2.25 arc of homes made before the arc existed).
 */
export function firmwareArcOf(policyOids: readonly string[]): string {
  const suffix = oidUnderArc(POLICY_OIDS.firmwareSigning, "");
  for (const p of policyOids) {
    if (!p.endsWith(suffix)) continue;
    const arc = p.slice(0, -suffix.length);
    if (policyArcProblems(arc).length === 0) return arc;
  }
  return DEFAULT_POLICY_ARC;
}

/** The format-2 signed attributes ([type, DER value]) and the manifest they state. */
export function manifestAttributes(arc: string, m: Omit<FirmwareManifest, "format" | "firmwarePackage">): { attributes: [string, Uint8Array][]; manifest: FirmwareManifest } {
  const firmwarePackage: FirmwarePackage = {
    packageOid: firmwarePackageOid(m.hardware, arc),
    versionNumber: m.securityVersion,
    ...(m.securityVersion > 0 ? { staleVersion: m.securityVersion - 1 } : {}),
    targetHardwareOids: m.hardware === ANY_HARDWARE ? [] : [hardwareModelOid(m.hardware, arc)],
    packageType: FIRMWARE_PACKAGE_TYPE_IMAGE,
    arc,
  };
  const fields: TrustlineFields = {
    format: "trustline-firmware-manifest/2",
    name: m.name,
    version: m.version,
    hardware: m.hardware,
    imageSha256: m.imageSha256,
    imageSize: m.imageSize,
    createdAt: m.createdAt,
    signerCertificateSha256: m.signerCertificateSha256,
  };
  const attributes: [string, Uint8Array][] = [
    [RFC4108_OIDS.firmwarePackageID, encodeFirmwarePackageId(firmwarePackage)],
    ...(firmwarePackage.targetHardwareOids.length > 0 ? [[RFC4108_OIDS.targetHardwareIDs, encodeTargetHardwareIds(firmwarePackage.targetHardwareOids)] as [string, Uint8Array]] : []),
    [RFC4108_OIDS.firmwarePackageInfo, encodeFirmwarePackageInfo(FIRMWARE_PACKAGE_TYPE_IMAGE)],
    [`${arc}${MANIFEST_V2_SUFFIX}`, tlv(0x04, encodeManifest(fields))],
  ];
  return { attributes, manifest: { ...fields, securityVersion: m.securityVersion, firmwarePackage } };
}

function json(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the signature's ${what} is not valid JSON`, { cause: e });
  }
}

/** Format 1: decode the JSON manifest attribute's value (the OCTET STRING's content). */
export function decodeManifest(bytes: Uint8Array): FirmwareManifest {
  const m = json(bytes, "manifest") as unknown as FirmwareManifest;
  if (m.format !== "trustline-firmware-manifest/1") throw new TrustlineError("INPUT_INVALID", `unknown manifest format ${String(m.format)}`);
  return m;
}

/** What a signature's signed attributes say about the image: a manifest (either format), RFC 4108 attributes alone, or nothing. */
export type SignedManifest =
  | { readonly kind: "manifest"; readonly manifest: FirmwareManifest }
  | { readonly kind: "package-only"; readonly firmwarePackage: FirmwarePackage }
  | { readonly kind: "none" };

const single = (attributes: readonly Attribute[], type: string): Uint8Array | undefined => {
  const found = attributes.filter((a) => a.type === type);
  if (found.length === 0) return undefined;
  if (found.length > 1 || found[0]!.values.length !== 1) throw new TrustlineError("INPUT_INVALID", `the signed attribute ${type} must appear once, with one value`);
  return found[0]!.values[0]!;
};

function octets(value: Uint8Array, what: string): Uint8Array {
  try {
    return content(value, readRoot(value, 0x04));
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the ${what} is not an OCTET STRING`, { cause: e });
  }
}

/** Read the manifest from signed attributes; INPUT_INVALID when one is present but malformed or inconsistent. */
export function readSignedManifest(attributes: readonly Attribute[]): SignedManifest {
  const v1 = single(attributes, MANIFEST_ATTRIBUTE_OID);
  if (v1) return { kind: "manifest", manifest: decodeManifest(octets(v1, "manifest")) };
  const idValue = single(attributes, RFC4108_OIDS.firmwarePackageID);
  if (!idValue) return { kind: "none" };
  let firmwarePackage: FirmwarePackage;
  try {
    const id = decodeFirmwarePackageId(idValue);
    const targets = single(attributes, RFC4108_OIDS.targetHardwareIDs);
    const info = single(attributes, RFC4108_OIDS.firmwarePackageInfo);
    const packageInfo = info ? decodeFirmwarePackageInfo(info) : undefined;
    const arc = /^(.*)\.4\.\d+$/.exec(id.packageOid)?.[1];
    firmwarePackage = {
      ...id,
      targetHardwareOids: targets ? decodeTargetHardwareIds(targets) : [],
      ...(packageInfo?.packageType !== undefined ? { packageType: packageInfo.packageType } : {}),
      ...(arc !== undefined ? { arc } : {}),
    };
  } catch (e) {
    throw e instanceof TrustlineError ? e : new TrustlineError("INPUT_INVALID", `the RFC 4108 firmware attributes are malformed: ${(e as Error).message}`, { cause: e });
  }
  if (firmwarePackage.staleVersion !== undefined && firmwarePackage.staleVersion >= firmwarePackage.versionNumber) {
    throw new TrustlineError("INPUT_INVALID", `the package declares its own version ${firmwarePackage.versionNumber} stale (stale version ${firmwarePackage.staleVersion}): RFC 4108 §2.2.1`);
  }
  const fieldsValue = firmwarePackage.arc !== undefined ? single(attributes, `${firmwarePackage.arc}${MANIFEST_V2_SUFFIX}`) : undefined;
  if (!fieldsValue) return { kind: "package-only", firmwarePackage };
  const fields = json(octets(fieldsValue, "Trustline manifest"), "Trustline manifest") as unknown as TrustlineFields;
  if (fields.format !== "trustline-firmware-manifest/2") throw new TrustlineError("INPUT_INVALID", `unknown manifest format ${String(fields.format)}`);
  const expected = fields.hardware === ANY_HARDWARE ? [] : [hardwareModelOid(fields.hardware, firmwarePackage.arc!)];
  if (canonicalJson(expected) !== canonicalJson(firmwarePackage.targetHardwareOids) || firmwarePackage.packageOid !== firmwarePackageOid(fields.hardware, firmwarePackage.arc!)) {
    throw new TrustlineError("INPUT_INVALID", `the manifest's hardware "${fields.hardware}" disagrees with the RFC 4108 package and target hardware OIDs`);
  }
  return { kind: "manifest", manifest: { ...fields, securityVersion: firmwarePackage.versionNumber, firmwarePackage } };
}

/** Whether a package made for the targets `firmwarePackage` names may run on hardware model `model`. */
export function packageFitsHardware(firmwarePackage: FirmwarePackage, model: string): boolean {
  return firmwarePackage.arc !== undefined && firmwarePackage.targetHardwareOids.includes(hardwareModelOid(model, firmwarePackage.arc));
}
