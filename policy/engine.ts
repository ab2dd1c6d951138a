/**
 * The policy engine: a pure function from (request, profile, issuer, time) to either a certificate
 * template or the complete list of violations. No I/O, no crypto: the caller describes the key and
 * the issuer; the engine decides what the certificate may say.
 */
import { EKU_OIDS, oidUnderArc } from "./oids.js";
import { deviceUri, deviceUriProblems, displayNameProblems, type HostName, ipAddressOctets, MAX_COMMON_NAME_LENGTH, MAX_TLS_HOSTS, parseHost, printable, registrationIdProblems, stationNameProblems, verificationCodeProblems } from "./names.js";
import type { CaProfileName, KeyAlgorithm, KeyUsage, Profile } from "./profiles.js";

/** The public key as the engine sees it (ca/x509 derives this from the SPKI). */
export type KeyDescription =
  | { readonly type: "ec"; readonly curve: string }
  | { readonly type: "rsa"; readonly bits: number }
  | { readonly type: "other"; readonly name: string };

export interface IssuanceRequest {
  /** The requested common name: registration ID, signer name, verification code, or CA name. */
  readonly commonName: string;
  readonly publicKey: KeyDescription;
  /** Requested validity; the profile's default when absent. */
  readonly validityDays?: number;
  /**
   * Host names (DNS names or IP address literals), for profiles whose subjectAltName is "hosts":
   * each becomes a dNSName or iPAddress, in this order; the first is also the CN.
   */
  readonly hosts?: readonly string[];
}

export interface IssuerFacts {
  /** The issuing CA's name in this home ("root", "device", ...). */
  readonly name: string;
  /** The issuing CA's profile; undefined when the certificate is self-issued (a new root). */
  readonly profile: Profile["name"] | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly organization: string;
  /** Base URL for CRL distribution points and AIA (no trailing slash). */
  readonly baseUrl: string;
  /** The home's policy arc: the profile's policy OIDs are minted under it (default TRUSTLINE_ARC). */
  readonly policyArc?: string;
  /**
   * The home's device URI template (REGISTRATION_ID_PLACEHOLDER inside), for profiles whose
   * subjectAltName is "device-uri"; absent (homes made before it): no subjectAltName.
   */
  readonly deviceUriTemplate?: string;
}

export interface CertificateTemplate {
  readonly profile: Profile["name"];
  readonly subject: { readonly commonName: string; readonly organization?: string };
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly basicConstraints: Profile["basicConstraints"];
  readonly keyUsage: readonly KeyUsage[];
  /** extendedKeyUsage OIDs (Trustline's own purposes already under the home's arc). */
  readonly extendedKeyUsage: readonly string[];
  readonly policyOids: readonly string[];
  readonly crlDistributionPoints: readonly string[];
  readonly ocspUrls: readonly string[];
  readonly caIssuersUrls: readonly string[];
  readonly ocspNoCheck: boolean;
  /** subjectAltName uniformResourceIdentifier entries (absent or empty: no subjectAltName). */
  readonly subjectAltNameUris?: readonly string[];
  /** subjectAltName dNSName and iPAddress entries, after any URIs (absent or empty: none). */
  readonly subjectAltNameHosts?: readonly HostName[];
}

export type ViolationCode =
  | "KEY_NOT_ALLOWED"
  | "NAME_INVALID"
  | "VALIDITY_INVALID"
  | "ISSUER_NOT_ALLOWED"
  | "ISSUER_NOT_VALID";

export interface Violation {
  readonly code: ViolationCode;
  readonly message: string;
}

export type PolicyDecision =
  | { readonly ok: true; readonly template: CertificateTemplate }
  | { readonly ok: false; readonly violations: readonly Violation[] };

const DAY_MS = 86_400_000;

export function keyAlgorithmOf(key: KeyDescription): KeyAlgorithm | undefined {
  if (key.type === "ec") return key.curve === "P-256" ? "p256" : key.curve === "P-384" ? "p384" : undefined;
  if (key.type === "rsa") {
    if (key.bits === 2048) return "rsa2048";
    if (key.bits === 3072) return "rsa3072";
    if (key.bits === 4096) return "rsa4096";
  }
  return undefined;
}

export function describeKey(key: KeyDescription): string {
  if (key.type === "ec") return `EC ${key.curve}`;
  if (key.type === "rsa") return `RSA-${key.bits}`;
  return key.name;
}

/** URLs a certificate issued by `issuerName` points to; `trustline serve` answers at these paths. */
export function revocationUrls(baseUrl: string, issuerName: string) {
  return {
    crl: `${baseUrl}/crl/${issuerName}.crl`,
    ocsp: `${baseUrl}/ocsp/${issuerName}`,
    caIssuers: `${baseUrl}/ca/${issuerName}.cer`,
  } as const;
}

/** The common name of a CA certificate: "<organisation> <CA name> CA". */
export function caCommonName(organization: string, caName: string): string {
  return `${organization} ${caName} CA`;
}

/** Apply `profile` to `request`: the template to sign, or every violation found (never just the first). */
export function evaluate(request: IssuanceRequest, profile: Profile, issuer: IssuerFacts, now: Date): PolicyDecision {
  const violations: Violation[] = [];

  // Issuer: the right kind of CA, valid now.
  if (profile.issuedBy === "self") {
    if (issuer.profile !== undefined) {
      violations.push({ code: "ISSUER_NOT_ALLOWED", message: `a ${profile.title} certificate is self-signed; it cannot be issued by CA "${issuer.name}"` });
    }
  } else if (issuer.profile === undefined || !profile.issuedBy.includes(issuer.profile as CaProfileName)) {
    violations.push({
      code: "ISSUER_NOT_ALLOWED",
      message: `a ${profile.title} certificate must be issued by a ${profile.issuedBy.join(" or ")} CA; "${issuer.name}" is ${issuer.profile ?? "not a CA"}`,
    });
  }
  if (issuer.profile !== undefined && (now < issuer.notBefore || now >= issuer.notAfter)) {
    violations.push({
      code: "ISSUER_NOT_VALID",
      message: `CA "${issuer.name}" is valid from ${issuer.notBefore.toISOString()} to ${issuer.notAfter.toISOString()}, not at ${now.toISOString()}`,
    });
  }

  // Key.
  const algorithm = keyAlgorithmOf(request.publicKey);
  if (algorithm === undefined || !profile.allowedKeys.includes(algorithm)) {
    violations.push({
      code: "KEY_NOT_ALLOWED",
      message: `${describeKey(request.publicKey)} keys are not allowed for a ${profile.title} certificate; allowed: ${profile.allowedKeys.join(", ")}`,
    });
  }

  // Subject.
  const cn = request.commonName;
  const nameProblems =
    profile.subject === "registration-id"
      ? registrationIdProblems(cn)
      : profile.subject === "verification-code"
        ? verificationCodeProblems(cn)
        : profile.subject === "station-name"
          ? stationNameProblems(cn)
          : profile.subject === "host-name"
            ? [] // the hosts are checked below, and the CN against the first
            : displayNameProblems(cn, profile.subject === "ca-name" ? "CA name" : profile.subject === "responder-name" ? "responder name" : profile.subject === "service-name" ? "service name" : "signer name");
  for (const message of nameProblems) violations.push({ code: "NAME_INVALID", message });
  if (profile.subject === "ca-name" || profile.subject === "signer-name" || profile.subject === "station-name" || profile.subject === "host-name") {
    for (const message of displayNameProblems(issuer.organization, "organisation name")) violations.push({ code: "NAME_INVALID", message });
  }
  if (profile.subject === "ca-name" && caCommonName(issuer.organization, cn).length > MAX_COMMON_NAME_LENGTH) {
    violations.push({
      code: "NAME_INVALID",
      message: `the CA's common name "${caCommonName(issuer.organization, cn)}" would exceed ${MAX_COMMON_NAME_LENGTH} characters; use a shorter organisation or CA name`,
    });
  }

  // subjectAltName: made from the CN, checked as strictly.
  const sanUris = profile.subjectAltName === "device-uri" && issuer.deviceUriTemplate !== undefined ? [deviceUri(issuer.deviceUriTemplate, cn)] : [];
  if (nameProblems.length === 0) for (const uri of sanUris) for (const message of deviceUriProblems(uri)) violations.push({ code: "NAME_INVALID", message });

  // Host names (RFC 5280 §4.2.1.6, RFC 6125): every one valid, 1..MAX_TLS_HOSTS, no repeats; the CN is the first.
  const requestedHosts = request.hosts ?? [];
  const sanHosts: HostName[] = [];
  if (profile.subjectAltName === "hosts") {
    if (requestedHosts.length === 0) violations.push({ code: "NAME_INVALID", message: `a ${profile.title} certificate names at least one host (a DNS name or an IP address)` });
    if (requestedHosts.length > MAX_TLS_HOSTS) violations.push({ code: "NAME_INVALID", message: `${requestedHosts.length} hosts requested; a ${profile.title} certificate names at most ${MAX_TLS_HOSTS}` });
    const seen = new Set<string>();
    for (const text of requestedHosts) {
      const parsed = parseHost(text);
      if (!parsed.ok) {
        violations.push({ code: "NAME_INVALID", message: parsed.problem });
        continue;
      }
      // The same address in two spellings (::1 and 0:0:0:0:0:0:0:1) is the same host.
      const key = parsed.host.type === "ip" ? `ip:${[...ipAddressOctets(parsed.host.value)!].join(",")}` : `dns:${parsed.host.value}`;
      if (seen.has(key)) violations.push({ code: "NAME_INVALID", message: `the host "${printable(text)}" is named twice` });
      seen.add(key);
      sanHosts.push(parsed.host);
    }
    const first = sanHosts[0]?.value;
    if (first !== undefined && requestedHosts.length > 0 && parseHost(requestedHosts[0]!).ok) {
      if (first.length > MAX_COMMON_NAME_LENGTH) violations.push({ code: "NAME_INVALID", message: `the first host "${printable(first)}" is the common name, and a CN is at most ${MAX_COMMON_NAME_LENGTH} characters; name a shorter host first` });
      else if (cn.toLowerCase() !== first) violations.push({ code: "NAME_INVALID", message: `the common name "${printable(cn)}" must be the first host, "${printable(first)}"` });
    }
  } else if (requestedHosts.length > 0) {
    violations.push({ code: "NAME_INVALID", message: `a ${profile.title} certificate names no hosts; ${requestedHosts.length} given` });
  }

  // Validity: requested days within the cap; never beyond the issuer (clamped, see CP 6.3.2).
  const days = request.validityDays ?? profile.validityDays.default;
  if (!Number.isInteger(days) || days < 1 || days > profile.validityDays.max) {
    violations.push({ code: "VALIDITY_INVALID", message: `a validity of ${days} days is outside 1..${profile.validityDays.max} for a ${profile.title} certificate` });
  }

  if (violations.length > 0) return { ok: false, violations };

  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const requestedEnd = new Date(notBefore.getTime() + days * DAY_MS);
  const notAfter = profile.issuedBy !== "self" && requestedEnd > issuer.notAfter ? issuer.notAfter : requestedEnd;
  const urls = revocationUrls(issuer.baseUrl, issuer.name);
  const pointers = profile.revocationPointers;
  const underHomeArc = (oid: string) => (issuer.policyArc === undefined ? oid : oidUnderArc(oid, issuer.policyArc));
  const subject =
    profile.subject === "ca-name"
      ? { commonName: caCommonName(issuer.organization, cn), organization: issuer.organization }
      : profile.subject === "host-name"
        ? { commonName: sanHosts[0]!.value, organization: issuer.organization }
        : profile.subject === "signer-name" || profile.subject === "responder-name" || profile.subject === "service-name" || profile.subject === "station-name"
          ? { commonName: cn, organization: issuer.organization }
        : { commonName: cn };

  return {
    ok: true,
    template: {
      profile: profile.name,
      subject,
      notBefore,
      notAfter,
      basicConstraints: profile.basicConstraints,
      keyUsage: profile.keyUsage,
      extendedKeyUsage: profile.extendedKeyUsage.map((u) => underHomeArc(EKU_OIDS[u])),
      policyOids: profile.policyOids.map(underHomeArc),
      crlDistributionPoints: pointers ? [urls.crl] : [],
      ocspUrls: pointers ? [urls.ocsp] : [],
      caIssuersUrls: pointers ? [urls.caIssuers] : [],
      ocspNoCheck: profile.ocspNoCheck,
      ...(sanUris.length > 0 ? { subjectAltNameUris: sanUris } : {}),
      ...(sanHosts.length > 0 ? { subjectAltNameHosts: sanHosts } : {}),
    },
  };
}
