/**
 * The signed attributes RFC 4108 (CMS firmware packages) defines, as firmware signatures carry them:
 *
 *   id-aa-firmwarePackageID  FirmwarePackageIdentifier ::= SEQUENCE {
 *                              name  PreferredOrLegacyPackageIdentifier,   -- preferred: { fwPkgID OID, verNum INTEGER }
 *                              stale PreferredOrLegacyStalePackageIdentifier OPTIONAL }  -- preferredStaleVerNum INTEGER
 *   id-aa-targetHardwareIDs  TargetHardwareIdentifiers ::= SEQUENCE OF OBJECT IDENTIFIER
 *   id-aa-firmwarePackageInfo FirmwarePackageInfo ::= SEQUENCE { fwPkgType INTEGER OPTIONAL,
 *                              dependencies SEQUENCE OF PreferredOrLegacyPackageIdentifier OPTIONAL }
 *
 * RFC 4108 §2.2.1: once a package is loaded, a module refuses every package with the same fwPkgID
 * whose verNum is less than or equal to that package's stale version number: the anti-rollback
 * counter. Import-free of issuing code: the verifier uses it.
 */
import { children, content, DerError, oid, oidText, readRoot, sequence, tlv } from "../x509/der.js";

export const RFC4108_OIDS = {
  firmwarePackageID: "1.2.840.113549.1.9.16.2.35",
  targetHardwareIDs: "1.2.840.113549.1.9.16.2.36",
  firmwarePackageInfo: "1.2.840.113549.1.9.16.2.42",
} as const;

export interface FirmwarePackageId {
  /** fwPkgID: the firmware package's OID. */
  readonly packageOid: string;
  /** verNum: this package's version number. */
  readonly versionNumber: number;
  /** preferredStaleVerNum: after loading this package, versions up to this one are refused (absent: none). */
  readonly staleVersion?: number;
}

export interface FirmwarePackageInfo {
  readonly packageType?: number;
  /** How many dependencies the package declares (Trustline writes none). */
  readonly dependencies: number;
}

/** INTEGER (0..MAX), minimal DER, for whole numbers up to Number.MAX_SAFE_INTEGER. */
export function unsignedInteger(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a whole number >= 0: ${n}`);
  const bytes: number[] = [];
  for (let v = BigInt(n); v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  if (bytes.length === 0 || bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Uint8Array.from(bytes));
}

/** The value of a DER INTEGER (0..MAX_SAFE_INTEGER), refusing negative, non-minimal and larger ones. */
export function readUnsignedInteger(bytes: Uint8Array, what: string): number {
  if (bytes.length === 0) throw new DerError(`${what}: an empty INTEGER`);
  if (bytes[0]! & 0x80) throw new DerError(`${what} is negative`);
  if (bytes.length > 1 && bytes[0] === 0 && (bytes[1]! & 0x80) === 0) throw new DerError(`${what}: a non-minimal INTEGER (not DER)`);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DerError(`${what} is beyond ${Number.MAX_SAFE_INTEGER}`);
  return Number(v);
}

export function encodeFirmwarePackageId(p: FirmwarePackageId): Uint8Array {
  return sequence(sequence(oid(p.packageOid), unsignedInteger(p.versionNumber)), ...(p.staleVersion !== undefined ? [unsignedInteger(p.staleVersion)] : []));
}

export function decodeFirmwarePackageId(value: Uint8Array): FirmwarePackageId {
  const [name, stale, ...extra] = children(value, readRoot(value));
  if (!name || extra.length > 0) throw new DerError("firmwarePackageID is not a FirmwarePackageIdentifier");
  if (name.tag === 0x04) throw new DerError("firmwarePackageID has a legacy (OCTET STRING) name: no version number to check");
  const [pkg, ver, ...more] = name.tag === 0x30 ? children(value, name) : [];
  if (!pkg || pkg.tag !== 0x06 || !ver || ver.tag !== 0x02 || more.length > 0) throw new DerError("firmwarePackageID's name is not { fwPkgID OID, verNum INTEGER }");
  if (stale && stale.tag !== 0x02) throw new DerError("firmwarePackageID's stale version is not a preferredStaleVerNum INTEGER");
  return {
    packageOid: oidText(content(value, pkg)),
    versionNumber: readUnsignedInteger(content(value, ver), "verNum"),
    ...(stale ? { staleVersion: readUnsignedInteger(content(value, stale), "the stale version number") } : {}),
  };
}

export function encodeTargetHardwareIds(oids: readonly string[]): Uint8Array {
  return sequence(...oids.map((o) => oid(o)));
}

export function decodeTargetHardwareIds(value: Uint8Array): string[] {
  return children(value, readRoot(value)).map((t) => {
    if (t.tag !== 0x06) throw new DerError("targetHardwareIDs holds something other than OIDs");
    return oidText(content(value, t));
  });
}

export function encodeFirmwarePackageInfo(packageType: number): Uint8Array {
  return sequence(unsignedInteger(packageType));
}

export function decodeFirmwarePackageInfo(value: Uint8Array): FirmwarePackageInfo {
  const parts = children(value, readRoot(value));
  let i = 0;
  let packageType: number | undefined;
  if (parts[i]?.tag === 0x02) packageType = readUnsignedInteger(content(value, parts[i++]!), "fwPkgType");
  let dependencies = 0;
  if (parts[i]?.tag === 0x30) dependencies = children(value, parts[i++]!).length;
  if (i !== parts.length || i === 0) throw new DerError("firmwarePackageInfo is not a FirmwarePackageInfo (1 or 2 fields)");
  return { ...(packageType !== undefined ? { packageType } : {}), dependencies };
}
