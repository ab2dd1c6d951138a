/**
 * What a certificate may be used for: extendedKeyUsage (RFC 5280 §4.2.1.12) per purpose.
 *
 * The rules, decided from the RFC and documented in the README:
 * - The target certificate: when the extension is present the certificate "MUST only be used for
 *   one of the purposes indicated", so it must list the purpose's key purpose or
 *   anyExtendedKeyUsage; when the extension is absent the certificate is not restricted.
 * - `ocsp`: RFC 6960 §4.2.2.2 requires id-kp-OCSPSigning itself in a delegated responder's
 *   certificate, so the extension must be present and anyExtendedKeyUsage does not count.
 * - CA certificates: RFC 5280 does not say what EKU in a CA certificate means. Like OpenSSL,
 *   Windows and Go, an EKU in an intermediate restricts what it can certify: when present it must
 *   list the purpose or anyExtendedKeyUsage (the "EKU chaining" every major verifier applies).
 *   The trust anchor's own EKU is not read (an anchor is a name and a key, §6.1.1(d)).
 * - `any` applies no EKU rule.
 * - keyUsage, when present in the target, must allow the purpose's operation (§4.2.1.12: "the
 *   extensions MUST be consistent").
 */
import { KEY_USAGE } from "./extensions.js";
import type { ParsedCertificate } from "./certificate.js";

export type Purpose = "any" | "client" | "server" | "codesign" | "ocsp";
export const PURPOSES: readonly Purpose[] = ["any", "client", "server", "codesign", "ocsp"];

export const ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

const PURPOSE_EKU: Readonly<Record<Exclude<Purpose, "any">, { oid: string; name: string; keyUsage: number }>> = {
  client: { oid: "1.3.6.1.5.5.7.3.2", name: "clientAuth", keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.keyAgreement },
  server: { oid: "1.3.6.1.5.5.7.3.1", name: "serverAuth", keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.keyEncipherment | KEY_USAGE.keyAgreement },
  codesign: { oid: "1.3.6.1.5.5.7.3.3", name: "codeSigning", keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.nonRepudiation },
  ocsp: { oid: "1.3.6.1.5.5.7.3.9", name: "OCSPSigning", keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.nonRepudiation },
};

/** Why the target certificate cannot serve `purpose`, or undefined when it can. */
export function targetPurposeViolation(cert: ParsedCertificate, purpose: Purpose): string | undefined {
  if (purpose === "any") return undefined;
  const want = PURPOSE_EKU[purpose];
  const eku = cert.ext.extendedKeyUsage;
  if (purpose === "ocsp") {
    if (!eku?.includes(want.oid)) return `an OCSP responder certificate must list ${want.name} in extendedKeyUsage (RFC 6960 §4.2.2.2)`;
  } else if (eku && !eku.includes(want.oid) && !eku.includes(ANY_EXTENDED_KEY_USAGE)) {
    return `extendedKeyUsage (${eku.join(", ")}) does not include ${want.name}`;
  }
  const ku = cert.ext.keyUsage;
  if (ku !== undefined && (ku & want.keyUsage) === 0) return `keyUsage does not allow ${want.name} (needs ${purpose === "server" ? "digitalSignature, keyEncipherment or keyAgreement" : purpose === "client" ? "digitalSignature or keyAgreement" : "digitalSignature or nonRepudiation"})`;
  return undefined;
}

/** Why an intermediate CA's EKU forbids certifying for `purpose` (EKU chaining), or undefined. */
export function caPurposeViolation(cert: ParsedCertificate, purpose: Purpose): string | undefined {
  if (purpose === "any") return undefined;
  const eku = cert.ext.extendedKeyUsage;
  const want = PURPOSE_EKU[purpose];
  if (eku && !eku.includes(want.oid) && !eku.includes(ANY_EXTENDED_KEY_USAGE)) {
    return `the CA's extendedKeyUsage (${eku.join(", ")}) does not include ${want.name}, so it cannot certify for that purpose`;
  }
  return undefined;
}
