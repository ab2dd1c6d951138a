/**
 * Certificate profiles: WHAT may be issued. Each profile is a read-only value that names its
 * certificate-policy OID and the section of certificate-policy.md that describes it; the policy
 * engine (engine.ts) applies it to every request. A test checks that certificate-policy.md's
 * profile tables say exactly what these values say.
 */
import { type ExtendedKeyUsage, POLICY_OIDS } from "./oids.js";

export type ProfileName = "root-ca" | "device-ca" | "firmware-ca" | "device" | "firmware-signer" | "dps-verification" | "ocsp-responder" | "audit-signer" | "report-signer" | "station" | "tls-server";
export type CaProfileName = "root-ca" | "device-ca" | "firmware-ca";

/** Key algorithms, by the names the CLI and the policy document use. */
export type KeyAlgorithm = "p256" | "p384" | "rsa2048" | "rsa3072" | "rsa4096";

/** RFC 5280 §4.2.1.3 key usage bits, by their ASN.1 names. */
export type KeyUsage = "digitalSignature" | "nonRepudiation" | "keyEncipherment" | "dataEncipherment" | "keyAgreement" | "keyCertSign" | "cRLSign";

/** How the subject of a certificate under this profile is named. */
export type SubjectRule =
  | "ca-name" //           CN = "<organisation> <CA name> CA", O = organisation
  | "registration-id" //   CN = the DPS registration ID (from the CSR), nothing else
  | "signer-name" //       CN = the signer's name (a person or a CI pipeline), O = organisation
  | "verification-code" //  CN = the DPS verification code, nothing else
  | "responder-name" //      CN = "<organisation> <CA name> OCSP responder", O = organisation
  | "service-name" //       CN = the service's name (e.g. "audit log signer"), O = organisation
  | "station-name" //       CN = the production-line station's name (policy/names.ts), O = organisation
  | "host-name"; //          CN = the first host name, O = organisation

export interface Profile {
  readonly name: ProfileName;
  readonly title: string;
  /** Section of certificate-policy.md that describes this profile. */
  readonly cpSection: string;
  /** certificatePolicies written into the certificate (empty: extension omitted, as for a trust anchor). */
  readonly policyOids: readonly string[];
  /** The profiles of the CAs allowed to issue under this profile ("self": self-signed root). */
  readonly issuedBy: "self" | readonly CaProfileName[];
  /** basicConstraints (always critical): a CA with its pathLenConstraint, or an end entity. */
  readonly basicConstraints: { readonly ca: true; readonly pathLen: number } | { readonly ca: false };
  /** keyUsage (always critical). */
  readonly keyUsage: readonly KeyUsage[];
  /** extendedKeyUsage (non-critical); empty: extension omitted. */
  readonly extendedKeyUsage: readonly ExtendedKeyUsage[];
  readonly allowedKeys: readonly KeyAlgorithm[];
  readonly validityDays: { readonly default: number; readonly max: number };
  readonly subject: SubjectRule;
  /** CRL distribution point and AIA (OCSP, caIssuers) of the issuer; a self-signed root has neither. */
  readonly revocationPointers: boolean;
  /** Whether a certificate may be suspended (certificateHold) instead of revoked. */
  readonly allowHold: boolean;
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): only on delegated OCSP responder certificates. */
  readonly ocspNoCheck: boolean;
  /**
   * subjectAltName (non-critical): "device-uri" names the device by a URI made from its registration
   * ID with the home's template (new homes: urn:<org-id>:device:<registration-id>); "hosts" names
   * every host of the request, a dNSName or an iPAddress each (1 to MAX_TLS_HOSTS); absent: none.
   */
  readonly subjectAltName?: "device-uri" | "hosts";
}

const CA_KEYS: readonly KeyAlgorithm[] = ["p256", "p384", "rsa3072", "rsa4096"];

export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  "root-ca": {
    name: "root-ca",
    title: "Root CA",
    cpSection: "7.1.1",
    policyOids: [],
    issuedBy: "self",
    basicConstraints: { ca: true, pathLen: 1 },
    keyUsage: ["keyCertSign", "cRLSign"],
    extendedKeyUsage: [],
    allowedKeys: CA_KEYS,
    validityDays: { default: 7305, max: 9132 },
    subject: "ca-name",
    revocationPointers: false,
    allowHold: false,
    ocspNoCheck: false,
  },
  "device-ca": {
    name: "device-ca",
    title: "Device issuing CA",
    cpSection: "7.1.2",
    policyOids: [POLICY_OIDS.deviceIdentity, POLICY_OIDS.dpsVerification],
    issuedBy: ["root-ca"],
    basicConstraints: { ca: true, pathLen: 0 },
    // digitalSignature as well: Azure DPS expects it on CA certificates it verifies.
    keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    extendedKeyUsage: [],
    allowedKeys: CA_KEYS,
    validityDays: { default: 3653, max: 5479 },
    subject: "ca-name",
    revocationPointers: true,
    allowHold: false,
    ocspNoCheck: false,
  },
  "firmware-ca": {
    name: "firmware-ca",
    title: "Firmware-signing issuing CA",
    cpSection: "7.1.3",
    policyOids: [POLICY_OIDS.firmwareSigning],
    issuedBy: ["root-ca"],
    basicConstraints: { ca: true, pathLen: 0 },
    keyUsage: ["digitalSignature", "keyCertSign", "cRLSign"],
    extendedKeyUsage: [],
    allowedKeys: CA_KEYS,
    validityDays: { default: 3653, max: 5479 },
    subject: "ca-name",
    revocationPointers: true,
    allowHold: false,
    ocspNoCheck: false,
  },
  device: {
    name: "device",
    title: "Device identity",
    cpSection: "7.1.4",
    policyOids: [POLICY_OIDS.deviceIdentity],
    issuedBy: ["device-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["clientAuth"],
    allowedKeys: ["p256", "p384", "rsa2048", "rsa3072", "rsa4096"],
    validityDays: { default: 3653, max: 7305 },
    subject: "registration-id",
    revocationPointers: true,
    allowHold: true,
    ocspNoCheck: false,
    subjectAltName: "device-uri",
  },
  "firmware-signer": {
    name: "firmware-signer",
    title: "Firmware signer",
    cpSection: "7.1.5",
    policyOids: [POLICY_OIDS.firmwareSigning],
    issuedBy: ["firmware-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["codeSigning"],
    allowedKeys: ["p256", "p384", "rsa3072", "rsa4096"],
    validityDays: { default: 730, max: 1096 },
    subject: "signer-name",
    revocationPointers: true,
    allowHold: false,
    ocspNoCheck: false,
  },
  "dps-verification": {
    name: "dps-verification",
    title: "DPS proof-of-possession (verification) certificate",
    cpSection: "7.1.6",
    policyOids: [POLICY_OIDS.dpsVerification],
    // The CAs an operator uploads to DPS: the root or a device CA (never the firmware CA).
    issuedBy: ["root-ca", "device-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [],
    allowedKeys: ["p256", "p384", "rsa2048", "rsa3072", "rsa4096"],
    validityDays: { default: 1, max: 30 },
    subject: "verification-code",
    revocationPointers: false,
    allowHold: false,
    ocspNoCheck: false,
  },
  "ocsp-responder": {
    name: "ocsp-responder",
    title: "Delegated OCSP responder",
    cpSection: "7.1.7",
    policyOids: [],
    // Each CA delegates its own responder (RFC 6960 §4.2.2.2): issued by the CA it answers for.
    issuedBy: ["root-ca", "device-ca", "firmware-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["ocspSigning"],
    allowedKeys: ["p256", "p384", "rsa3072", "rsa4096"],
    // Short-lived: with id-pkix-ocsp-nocheck nobody checks its revocation, so its life is the exposure.
    validityDays: { default: 30, max: 90 },
    subject: "responder-name",
    revocationPointers: false,
    allowHold: false,
    ocspNoCheck: true,
  },
  "audit-signer": {
    name: "audit-signer",
    title: "Audit log signer",
    cpSection: "7.1.8",
    policyOids: [],
    // The root certifies the audit key, so an auditor who pins the root can tell the home's audit key
    // from one an intruder put in its place.
    issuedBy: ["root-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["auditLogSigning"],
    allowedKeys: ["p256", "p384", "rsa3072", "rsa4096"],
    // As long as the root: the key signs heads for the life of the home (clamped to the root's notAfter).
    validityDays: { default: 7300, max: 9125 },
    subject: "service-name",
    revocationPointers: false,
    allowHold: false,
    ocspNoCheck: false,
  },
  "report-signer": {
    name: "report-signer",
    title: "Report signer",
    cpSection: "7.1.9",
    policyOids: [],
    // The root, as for the audit key: an auditor who pins the root knows the report came from this home.
    issuedBy: ["root-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    // RFC 9336 documentSigning: a report is a document for people; no other key purpose fits.
    extendedKeyUsage: ["documentSigning"],
    allowedKeys: ["p256", "p384", "rsa3072", "rsa4096"],
    // Reports are read years later: ten years by default, clamped to the root's notAfter.
    validityDays: { default: 3653, max: 7305 },
    subject: "service-name",
    revocationPointers: false,
    allowHold: false,
    ocspNoCheck: false,
  },
  station: {
    name: "station",
    title: "Production-line station",
    cpSection: "7.1.10",
    policyOids: [],
    // The device CA: stations enrol devices below it (EST, over mutual TLS), so one CA answers for both.
    issuedBy: ["device-ca"],
    basicConstraints: { ca: false },
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["clientAuth"],
    allowedKeys: ["p256", "p384", "rsa3072", "rsa4096"],
    validityDays: { default: 397, max: 825 },
    subject: "station-name",
    revocationPointers: true,
    allowHold: false,
    ocspNoCheck: false,
  },
  "tls-server": {
    name: "tls-server",
    title: "TLS server",
    cpSection: "7.1.11",
    policyOids: [],
    issuedBy: ["device-ca"],
    basicConstraints: { ca: false },
    // ECDSA keys only: digitalSignature is then the one usage TLS needs (no RSA key transport, so no keyEncipherment).
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: ["serverAuth"],
    allowedKeys: ["p256", "p384"],
    // 397 days: the longest life browsers and TLS libraries accept for a server certificate.
    validityDays: { default: 397, max: 397 },
    subject: "host-name",
    revocationPointers: true,
    allowHold: false,
    ocspNoCheck: false,
    subjectAltName: "hosts",
  },
} satisfies Record<ProfileName, Profile>);
