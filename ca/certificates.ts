/** Looking up issued certificates and their trace: who certified what, when, where, under which policy. */
import { PROFILES } from "../policy/index.js";
import { TrustlineError } from "./errors.js";
import type { Home } from "./home.js";
import { pemFromBase64, toPem, withoutDer } from "./pem.js";
import { chainOf } from "./issue.js";
import { type CertificateFilter, type CertificateRecord, type CertificateStatus, type RevocationEntry, statusAt } from "./store/types.js";
import { parseCertificate, summarizeCertificate, type CertificateSummary } from "./x509/inspect.js";
import { certificateDer, serialOfCertificate } from "./x509/cert-fields.js";
import { normalizeSerial } from "./x509/serial.js";

export interface CertificateTrace extends Omit<CertificateRecord, "der"> {
  readonly status: CertificateStatus;
  readonly revocation?: RevocationEntry;
  readonly profileTitle: string;
  /** The arc of the home's certificate-policy OIDs. */
  readonly policyArc: string;
  readonly certificate: CertificateSummary;
  readonly pem: string;
}

async function trace(record: CertificateRecord, now: Date, revocation: RevocationEntry | undefined, policyArc: string): Promise<CertificateTrace> {
  const der = new Uint8Array(Buffer.from(record.der, "base64"));
  const rest = withoutDer(record);
  return {
    ...rest,
    status: statusAt(record, now, revocation),
    ...(revocation ? { revocation } : {}),
    profileTitle: PROFILES[record.profile]?.title ?? record.profile,
    policyArc,
    certificate: await summarizeCertificate(await parseCertificate(der)),
    pem: toPem(der, "CERTIFICATE"),
  };
}

/** A certificate and its trace, by serial (any case, colons allowed) or by the certificate itself. */
export async function showCertificate(home: Home, query: { serial: string } | { certificate: Uint8Array }): Promise<CertificateTrace> {
  const serial = "serial" in query ? normalizeSerial(query.serial) : serialOfCertificate(certificateDer(query.certificate));
  const record = await home.inventory.getCertificate(serial);
  if (!record) {
    throw new TrustlineError("NOT_FOUND", `no certificate with serial ${serial} was issued by this home (${home.dir})`, { details: { serial } });
  }
  if ("certificate" in query) {
    if (Buffer.compare(Buffer.from(certificateDer(query.certificate)), Buffer.from(record.der, "base64")) !== 0) {
      throw new TrustlineError("NOT_FOUND", `serial ${serial} is in the inventory, but the given certificate is not the one this home issued under it`, { details: { serial } });
    }
  }
  return trace(record, home.clock(), (await home.inventory.revocations(record.ca)).get(record.serial), home.policyArc);
}

/** The recorded certificate as PEM (with its issuing chain, root excluded, on request): to deliver it again. */
export async function certificatePem(home: Home, serialInput: string, options: { chain?: boolean } = {}): Promise<string> {
  const serial = normalizeSerial(serialInput);
  const record = await home.inventory.getCertificate(serial);
  if (!record) throw new TrustlineError("NOT_FOUND", `no certificate with serial ${serial} was issued by this home (${home.dir})`, { details: { serial } });
  return pemFromBase64(record.der, "CERTIFICATE") + (options.chain ? chainOf(home, record.ca).join("") : "");
}

export type ListedCertificate = Omit<CertificateRecord, "der"> & { readonly status: CertificateStatus };

/** Records matching the filter, streamed (the inventory may hold millions). */
export async function* listCertificates(home: Home, filter: CertificateFilter = {}): AsyncIterable<ListedCertificate> {
  const now = home.clock();
  const revoked = await home.inventory.revocations();
  for await (const record of home.inventory.query(filter, now)) {
    const rest = withoutDer(record);
    yield { ...rest, status: statusAt(record, now, revoked.get(record.serial)) };
  }
}
