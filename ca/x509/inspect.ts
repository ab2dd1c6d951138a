/** Reading certificates for people and for checks: a plain summary of what a certificate says. */
import type { x509 as X509 } from "./peculiar.js";
import { issuerString, subjectString } from "./cert-fields.js";
import { createHash } from "node:crypto";
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer, dersOf } from "../pem.js";
import { children, content, oidText, readRoot } from "./der.js";

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

/** @peculiar/x509 is loaded on first use: the issuing path never needs it. */
const loadX509 = () => import("./peculiar.js").then((m) => m.x509);

export async function parseCertificate(input: Uint8Array): Promise<X509.X509Certificate> {
  const x509 = await loadX509();
  const der = derFromPemOrDer(input, ["CERTIFICATE"]);
  if (!der) throw new TrustlineError("INPUT_INVALID", "the file holds no PEM CERTIFICATE block");
  try {
    return new x509.X509Certificate(der);
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the file is not an X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** Every certificate in a PEM bundle (or a single DER certificate). */
export async function parseCertificates(input: Uint8Array): Promise<X509.X509Certificate[]> {
  return Promise.all(dersOf(input, "CERTIFICATE").map((der) => parseCertificate(der)));
}

function describeExtension(x509: typeof X509, ext: X509.Extension): string {
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
  if (ext instanceof x509.CertificatePolicyExtension) return policyOids(new Uint8Array(ext.value)).join(", ");
  if (ext instanceof x509.CRLDistributionPointsExtension) {
    return ext.distributionPoints.flatMap((dp) => dp.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier ?? "") ?? []).join(", ");
  }
  if (ext instanceof x509.AuthorityInfoAccessExtension) {
    return [...ext.ocsp.map((n) => `OCSP ${n.value}`), ...ext.caIssuers.map((n) => `caIssuers ${n.value}`)].join(", ");
  }
  return Buffer.from(ext.value).toString("hex");
}

/** certificatePolicies' OIDs read from the DER (the library's text form mangles 128-bit arcs). */
function policyOids(value: Uint8Array): string[] {
  const root = readRoot(value);
  return children(value, root).map((info) => oidText(content(value, children(value, info)[0]!)));
}

export async function summarizeCertificate(cert: X509.X509Certificate): Promise<CertificateSummary> {
  const x509 = await loadX509();
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
    extensions: cert.extensions.map((e) => ({ oid: e.type, name: EXTENSION_NAMES[e.type] ?? e.type, critical: e.critical, value: describeExtension(x509, e) })),
  };
}
