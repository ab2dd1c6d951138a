/**
 * The strict profile: the requirements of RFC 5280 §4 that a verifier can see in a certificate,
 * checked on every certificate of a path (the trust anchor included), as `openssl verify
 * -x509_strict` does and more. `--lenient` (ValidationRequest.lenient) turns them off for forensic
 * use; the §6.1 algorithm itself is never relaxed.
 *
 * The findings depend on the certificate alone, so they are computed once per decoded certificate.
 */
import type { ParsedCertificate } from "./certificate.js";
import { EXT, KEY_USAGE } from "./extensions.js";
import { dnsNameSyntaxError, emailSyntaxError, uriSyntaxError } from "./name-syntax.js";
import { signatureFailure } from "./process-path.js";

export interface ProfileViolation {
  /** The RFC 5280 section whose MUST is broken. */
  readonly section: string;
  readonly detail: string;
}

const findings = new WeakMap<ParsedCertificate, ProfileViolation | null>();

/** The first strict-profile violation of `cert`, or undefined when it conforms. */
export function profileViolation(cert: ParsedCertificate): ProfileViolation | undefined {
  let found = findings.get(cert);
  if (found === undefined) {
    found = firstViolation(cert) ?? null;
    findings.set(cert, found);
  }
  return found ?? undefined;
}

/** Self-signed: self-issued and its signature verifies with its own key (§3.2, §4.2.1.1). */
export function isSelfSigned(cert: ParsedCertificate): boolean {
  if (!cert.selfIssued) return false;
  const aki = cert.ext.authorityKeyId?.keyId;
  const ski = cert.ext.subjectKeyId;
  if (aki !== undefined && ski !== undefined && aki !== ski) return false;
  return signatureFailure(cert, cert) === undefined;
}

function firstViolation(cert: ParsedCertificate): ProfileViolation | undefined {
  const v = (section: string, detail: string): ProfileViolation => ({ section, detail });
  const critical = (oid: string) => cert.extensions.find((e) => e.oid === oid)?.critical === true;
  const has = (oid: string) => cert.extensions.some((e) => e.oid === oid);

  // §4.1.2.2 serialNumber.
  const serial = cert.serialBytes;
  if ((serial[0]! & 0x80) !== 0) return v("4.1.2.2", "the serial number is negative");
  if (serial.every((b) => b === 0)) return v("4.1.2.2", "the serial number is zero");
  if (serial.length > 20) return v("4.1.2.2", `the serial number is ${serial.length} octets long (at most 20)`);
  // §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  if (!cert.validityEncodingConforms) return v("4.1.2.5", "a validity date is not encoded as the profile requires (UTCTime through 2049, GeneralizedTime from 2050)");
  // §4.1.2.8: unique identifiers only in version 2 or 3.
  if (cert.hasUniqueIdentifiers && cert.version === 1) return v("4.1.2.8", "a version 1 certificate carries a unique identifier");
  // §4.1.2.4: a non-empty issuer.
  if (cert.issuer.rdnKeys.length === 0) return v("4.1.2.4", "the issuer name is empty");

  const bc = cert.ext.basicConstraints;
  const ku = cert.ext.keyUsage;
  const keyCertSign = ku !== undefined && (ku & KEY_USAGE.keyCertSign) !== 0;
  const isCa = bc?.ca === true;

  // §4.2.1.1 authorityKeyIdentifier: present unless self-signed, never critical.
  if (critical(EXT.authorityKeyIdentifier)) return v("4.2.1.1", "authorityKeyIdentifier is marked critical");
  if (cert.ext.authorityKeyId?.keyId === undefined && cert.version === 3 && !isSelfSigned(cert)) {
    return v("4.2.1.1", "a certificate that is not self-signed has no authorityKeyIdentifier keyIdentifier");
  }
  // §4.2.1.2 subjectKeyIdentifier: present on CA certificates, never critical.
  if (critical(EXT.subjectKeyIdentifier)) return v("4.2.1.2", "subjectKeyIdentifier is marked critical");
  if ((isCa || keyCertSign) && cert.ext.subjectKeyId === undefined) return v("4.2.1.2", "a CA certificate has no subjectKeyIdentifier");
  // §4.2.1.9 basicConstraints and §4.2.1.3 keyUsage agree.
  if (keyCertSign && !isCa) return v("4.2.1.3", "keyUsage asserts keyCertSign but basicConstraints does not assert cA (an end-entity certificate cannot sign certificates)");
  if (isCa && !critical(EXT.basicConstraints)) return v("4.2.1.9", "a CA certificate's basicConstraints is not marked critical");
  if (isCa && ku === undefined) return v("4.2.1.3", "a CA certificate has no keyUsage extension");
  if (isCa && !keyCertSign) return v("4.2.1.9", "basicConstraints asserts cA but keyUsage does not assert keyCertSign");
  if (bc?.pathLen !== undefined && !(isCa && keyCertSign)) return v("4.2.1.9", "pathLenConstraint is present without cA TRUE and keyCertSign");
  if (ku === 0) return v("4.2.1.3", "keyUsage asserts no bit");
  // §4.2.1.10 name constraints: CA certificates only, critical.
  if (cert.ext.nameConstraints || has(EXT.nameConstraints)) {
    if (!isCa) return v("4.2.1.10", "nameConstraints in a certificate that is not a CA");
    if (!critical(EXT.nameConstraints)) return v("4.2.1.10", "nameConstraints is not marked critical");
  }
  // §4.2.1.11 policyConstraints and §4.2.1.14 inhibitAnyPolicy: critical.
  if (has(EXT.policyConstraints) && !critical(EXT.policyConstraints)) return v("4.2.1.11", "policyConstraints is not marked critical");
  if (has(EXT.inhibitAnyPolicy) && !critical(EXT.inhibitAnyPolicy)) return v("4.2.1.14", "inhibitAnyPolicy is not marked critical");
  // §4.2.2.1-2 authority and subject information access: never critical.
  if (critical(EXT.authorityInfoAccess)) return v("4.2.2.1", "authorityInfoAccess is marked critical");
  if (critical(EXT.subjectInfoAccess)) return v("4.2.2.2", "subjectInfoAccess is marked critical");

  // §4.1.2.6 subject and §4.2.1.6 subjectAltName.
  const emptySubject = cert.subject.rdnKeys.length === 0;
  if (emptySubject && (isCa || keyCertSign)) return v("4.1.2.6", "a CA certificate has an empty subject");
  if (emptySubject && (ku !== undefined && (ku & KEY_USAGE.cRLSign) !== 0)) return v("4.1.2.6", "a CRL issuer's certificate has an empty subject");
  const san = cert.ext.subjectAltName;
  if (emptySubject && !has(EXT.subjectAltName)) return v("4.1.2.6", "the subject is empty and there is no subjectAltName");
  if (emptySubject && !critical(EXT.subjectAltName)) return v("4.2.1.6", "the subject is empty and subjectAltName is not marked critical");
  for (const n of san ?? []) {
    const bad = n.kind === "dns" ? dnsNameSyntaxError(n.value) : n.kind === "email" ? emailSyntaxError(n.value) : n.kind === "uri" ? uriSyntaxError(n.value) : undefined;
    if (bad) return v("4.2.1.6", `subjectAltName holds ${bad}: "${(n as { value: string }).value.slice(0, 60)}"`);
  }
  for (const email of cert.subject.emailAddresses) {
    const bad = emailSyntaxError(email);
    if (bad) return v("4.1.2.6", `the subject's emailAddress is ${bad}`);
  }
  return undefined;
}
