/** Reading certificates for people and for checks: a plain summary of what a certificate says. */
import { x509 } from "./peculiar.js";
import { createHash } from "node:crypto";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer, pemBlocks } from "../pem.js";
import { children, readRoot, slice } from "./der.js";
import { parseName, nameToString } from "./name.js";

export interface CertificateSummary {
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly signatureAlgorithm: string;
  readonly publicKey: string;
  readonly sha256Fingerprint: string;
  readonly extensions: readonly { readonly oid: string; readonly name: string; readonly critical: boolean; readonly value: string }[];
}

const EXTENSION_NAMES: Readonly<Record<string, string>> = {
  "2.5.29.19": "basicConstraints",
  "2.5.29.15": "keyUsage",
  "2.5.29.37": "extendedKeyUsage",
  "2.5.29.14": "subjectKeyIdentifier",
  "2.5.29.35": "authorityKeyIdentifier",
  "2.5.29.32": "certificatePolicies",
  "2.5.29.31": "cRLDistributionPoints",
  "1.3.6.1.5.5.7.1.1": "authorityInfoAccess",
  "2.5.29.17": "subjectAltName",
};

export function parseCertificate(input: Uint8Array): x509.X509Certificate {
  const der = derFromPemOrDer(input, ["CERTIFICATE"]);
  if (!der) throw new TrustlineError("INPUT_INVALID", "the file holds no PEM CERTIFICATE block");
  try {
    return new x509.X509Certificate(der);
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the file is not an X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** Every certificate in a PEM bundle (or a single DER certificate). */
export function parseCertificates(input: Uint8Array): x509.X509Certificate[] {
  const text = Buffer.from(input).toString("latin1");
  if (!text.includes("-----BEGIN ")) return [parseCertificate(input)];
  return pemBlocks(text)
    .filter((b) => b.label === "CERTIFICATE")
    .map((b) => parseCertificate(b.der));
}

/** Subject Name DER of a certificate, byte for byte (for issuer chaining). */
export function subjectNameDer(der: Uint8Array): Uint8Array {
  const tbs = children(der, readRoot(der))[0]!;
  const parts = children(der, tbs);
  // [0] version, serial, signature, issuer, validity, subject
  const offset = parts[0]!.tag === 0xa0 ? 1 : 0;
  return slice(der, parts[offset + 4]!).slice();
}

export function subjectString(der: Uint8Array): string {
  const tbs = children(der, readRoot(der))[0]!;
  const parts = children(der, tbs);
  const offset = parts[0]!.tag === 0xa0 ? 1 : 0;
  return nameToString(parseName(der, parts[offset + 4]!));
}

export function issuerString(der: Uint8Array): string {
  const tbs = children(der, readRoot(der))[0]!;
  const parts = children(der, tbs);
  const offset = parts[0]!.tag === 0xa0 ? 1 : 0;
  return nameToString(parseName(der, parts[offset + 2]!));
}

function describeExtension(ext: x509.Extension): string {
  if (ext instanceof x509.BasicConstraintsExtension) return ext.ca ? `CA:TRUE${ext.pathLength !== undefined ? `, pathLen ${ext.pathLength}` : ""}` : "CA:FALSE";
  if (ext instanceof x509.KeyUsagesExtension) {
    return Object.entries(x509.KeyUsageFlags)
      .filter(([k, v]) => typeof v === "number" && isNaN(Number(k)) && (ext.usages & v) !== 0)
      .map(([k]) => k)
      .join(", ");
  }
  if (ext instanceof x509.ExtendedKeyUsageExtension) {
    const names = Object.entries(x509.ExtendedKeyUsage);
    return ext.usages.map((u) => names.find(([, v]) => v === u)?.[0] ?? String(u)).join(", ");
  }
  if (ext instanceof x509.SubjectKeyIdentifierExtension) return ext.keyId;
  if (ext instanceof x509.AuthorityKeyIdentifierExtension) return ext.keyId ?? "";
  if (ext instanceof x509.CertificatePolicyExtension) return ext.policies.join(", ");
  if (ext instanceof x509.CRLDistributionPointsExtension) {
    return ext.distributionPoints.flatMap((dp) => dp.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier ?? "") ?? []).join(", ");
  }
  if (ext instanceof x509.AuthorityInfoAccessExtension) {
    return [...ext.ocsp.map((n) => `OCSP ${n.value}`), ...ext.caIssuers.map((n) => `caIssuers ${n.value}`)].join(", ");
  }
  return Buffer.from(ext.value).toString("hex");
}

export function summarizeCertificate(cert: x509.X509Certificate): CertificateSummary {
  const der = new Uint8Array(cert.rawData);
  const alg = cert.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  const sigAlg = cert.signatureAlgorithm as { name: string; hash?: { name: string } };
  return {
    serial: cert.serialNumber.toLowerCase(),
    subject: subjectString(der),
    issuer: issuerString(der),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    signatureAlgorithm: `${sigAlg.name}${sigAlg.hash ? ` ${sigAlg.hash.name}` : ""}`,
    publicKey: alg.namedCurve ? `${alg.name} ${alg.namedCurve}` : `${alg.name} ${alg.modulusLength ?? ""}`.trim(),
    sha256Fingerprint: createHash("sha256").update(der).digest("hex"),
    extensions: cert.extensions.map((e) => ({ oid: e.type, name: EXTENSION_NAMES[e.type] ?? e.type, critical: e.critical, value: describeExtension(e) })),
  };
}
