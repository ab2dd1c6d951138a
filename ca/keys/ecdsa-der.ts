/**
 * ECDSA signatures as remote keys return them (raw r || s: PKCS#11 CKM_ECDSA, Key Vault ES256)
 * turned into the DER `SEQUENCE { INTEGER r, INTEGER s }` that X.509, CRLs, OCSP and CMS carry.
 */
import { TrustlineError } from "../errors.js";
import { sequence, tlv } from "../x509/der.js";

/** A minimal DER INTEGER of an unsigned big-endian value: leading zeros dropped, 0x00 added before a high bit. */
function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const value = bytes.subarray(i);
  return tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);
}

export function ecdsaRawToDer(raw: Uint8Array, fieldBytes: number): Uint8Array {
  if (raw.length !== 2 * fieldBytes) throw new TrustlineError("KEY_UNAVAILABLE", `the key returned an ECDSA signature of ${raw.length} bytes; ${2 * fieldBytes} expected (r || s)`);
  return sequence(unsignedInteger(raw.subarray(0, fieldBytes)), unsignedInteger(raw.subarray(fieldBytes)));
}
