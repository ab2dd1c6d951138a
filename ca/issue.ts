/**
 * The issuing pipeline, shared by every profile (order matters):
 *   1. the request is parsed and its proof of possession verified (by the caller: CSR or generated key);
 *   2. the policy engine turns request + profile into a template, or every violation (audited, refused);
 *   3. audit "intent" -> sign -> inventory record (durable) -> audit "issued" -> hand out.
 * A crash at any step leaves no certificate handed out without its record, and no record without
 * its audit entry.
 */
import type { WriteAction } from "./operators/roles.js";
import { createHash, verify as nodeVerify } from "node:crypto";
import {
  evaluate,
  type IssuanceRequest,
  type IssuerFacts,
  type KeyDescription,
  PROFILES,
  type ProfileName,
  type Violation,
} from "../policy/index.js";
import { TrustlineError } from "./errors.js";
import type { Home } from "./home.js";
import type { KeyRef } from "./keys/backend.js";
import { type Signer, SIGNATURE_ALGORITHMS, signStructure } from "./keys/signer.js";
import { derFromPemOrDer, toPem } from "./pem.js";
import type { CaRecord } from "./store/state.js";
import type { CertificateRecord } from "./store/types.js";
import { signedParts, spkiOfCertificate, subjectNameDer, subjectString } from "./x509/cert-fields.js";
import { TbsEncoder } from "./x509/tbs-encoder.js";
import type { CertificateToSign } from "./x509/certificate.js";
import { publicKeyFromSpki } from "./x509/keys.js";
import { randomSerial, serialHex } from "./x509/serial.js";

export interface IssuedCertificate {
  readonly der: Uint8Array;
  readonly pem: string;
  /** Issuing CA certificates up to (not including) the root, PEM, nearest first. */
  readonly chain: readonly string[];
  readonly record: CertificateRecord;
}

export interface IssueParams {
  readonly profile: ProfileName;
  /** The issuing CA's name; undefined for a self-signed root (then `selfSigner` signs). */
  readonly ca: string | undefined;
  readonly commonNames: readonly string[];
  readonly spki: Uint8Array;
  readonly key: KeyDescription;
  readonly requestSha256: string;
  readonly keySource: CertificateRecord["keySource"];
  readonly validityDays?: number;
  /** Host names for a profile whose subjectAltName is "hosts" (tls-server). */
  readonly hosts?: readonly string[];
  readonly batch?: string | null;
  /** The root's own key, for a self-signed certificate. */
  readonly selfSigner?: Signer;
}

export function caKeyRef(ca: CaRecord): KeyRef {
  return { uri: ca.keyUri, algorithm: ca.keyAlgorithm, publicKey: spkiOfCa(ca) };
}

/** The CA certificate, DER. */
export function caCertificateDer(ca: CaRecord): Uint8Array {
  return derFromPemOrDer(Buffer.from(ca.certificate), ["CERTIFICATE"])!;
}

const caPublicKeys = new Map<string, Uint8Array>();

/** The CA's SubjectPublicKeyInfo, read from its certificate (cached per certificate). */
export function spkiOfCa(ca: CaRecord): Uint8Array {
  let spki = caPublicKeys.get(ca.certificate);
  if (!spki) {
    spki = spkiOfCertificate(caCertificateDer(ca));
    caPublicKeys.set(ca.certificate, spki);
  }
  return spki;
}

const encoders = new Map<string, TbsEncoder>();

/** The fast encoder for a CA (constant parts encoded once per process). */
function encoderFor(ca: CaRecord, signer: Signer): TbsEncoder {
  const key = `${ca.certificate}\n${signer.algorithm}`;
  let enc = encoders.get(key);
  if (!enc) {
    const der = caCertificateDer(ca);
    enc = new TbsEncoder({ algorithm: signer.algorithm, issuerName: subjectNameDer(der), issuerPublicKey: spkiOfCa(ca) });
    encoders.set(key, enc);
  }
  return enc;
}

/**
 * TBSCertificate: end-entity certificates take the fast fixed-layout encoder (proven byte-identical
 * by the differential test); CA certificates, rare and the hierarchy's root of trust, take the
 * general @peculiar/x509 path, loaded only then.
 */
async function encodeTbs(ca: CaRecord | undefined, signer: Signer, input: CertificateToSign): Promise<Uint8Array> {
  if (ca && !input.template.basicConstraints.ca) return encoderFor(ca, signer).encode(input.serial, input.template, input.subjectPublicKey);
  const { encodeTbsCertificate } = await import("./x509/certificate.js");
  return encodeTbsCertificate(input, signer);
}


export function getCa(home: Home, name: string): CaRecord {
  const ca = Object.hasOwn(home.state.cas, name) ? home.state.cas[name] : undefined;
  if (!ca) {
    throw new TrustlineError("NOT_FOUND", `there is no CA named "${name}" in this home; known: ${Object.keys(home.state.cas).join(", ") || "none"}`);
  }
  return ca;
}

/** The CA's certificates from `name` up to but excluding the root, nearest first, PEM. */
export function chainOf(home: Home, name: string): string[] {
  const out: string[] = [];
  for (let ca: CaRecord | undefined = getCa(home, name); ca && ca.parent !== null; ca = ca.parent ? getCa(home, ca.parent) : undefined) {
    out.push(ca.certificate);
  }
  return out;
}

export function issuerFacts(home: Home, ca: CaRecord | undefined, selfName: string): IssuerFacts {
  return {
    name: ca?.name ?? selfName,
    profile: ca?.profile,
    notBefore: new Date(ca?.notBefore ?? 0),
    notAfter: new Date(ca?.notAfter ?? 8.64e15),
    organization: home.state.organization,
    baseUrl: home.state.baseUrl,
    policyArc: home.policyArc,
    ...(home.state.deviceUriTemplate !== undefined ? { deviceUriTemplate: home.state.deviceUriTemplate } : {}),
  };
}

const signers = new WeakMap<Home, Map<string, Promise<Signer>>>();

/** The CA's signer, opened once per Home (the passphrase is asked at most once). */
export function caSigner(home: Home, ca: CaRecord): Promise<Signer> {
  let byName = signers.get(home);
  if (!byName) signers.set(home, (byName = new Map()));
  let s = byName.get(ca.name);
  if (!s) {
    // The audit key opens with the CA key: a certificate must never be signed when its record
    // could not then be put under a signed audit head.
    s = home.keys.signer(caKeyRef(ca)).then(async (signer) => {
      await home.auditSigner();
      return signer;
    });
    s.catch(() => byName.delete(ca.name));
    byName.set(ca.name, s);
  }
  return s;
}

/** Whether a failure to open a key still leaves the audit key usable (so the failure entry can be signed). */
function signable(e: unknown): boolean {
  return !(e instanceof TrustlineError && e.code === "KEY_UNAVAILABLE" && e.details.key === "audit");
}

export function policyDenied(profile: ProfileName, violations: readonly Violation[]): TrustlineError {
  return new TrustlineError(
    "POLICY_DENIED",
    policyRefusalMessage(profile, violations.map((v) => v.message)),
    { details: { profile, violations } },
  );
}

/** POLICY_DENIED's message: the profile, then each reason on a line of its own. */
export function policyRefusalMessage(profile: ProfileName, reasons: readonly string[]): string {
  return `the ${PROFILES[profile].title} profile refuses this request:\n${reasons.map((r) => `  - ${r}`).join("\n")}`;
}

/** Record a refused request in the audit log (caller does not hold the lock). */
export async function auditRejection(home: Home, event: { profile: string; ca?: string; requestSha256?: string; batch?: string | null; reason: string; code: string }): Promise<void> {
  await home.transaction(() =>
    home.record([
      {
        action: "certificate.reject",
        outcome: "rejected",
        ...home.who,
        profile: event.profile,
        ...(event.ca ? { ca: event.ca } : {}),
        ...(event.requestSha256 ? { requestSha256: event.requestSha256 } : {}),
        batch: event.batch ?? null,
        reason: event.reason,
        details: { code: event.code },
      },
    ]),
  );
}

/** The write each profile's certificate is, in the roles table. */
const ACTION_OF_PROFILE: Readonly<Record<ProfileName, WriteAction>> = {
  "root-ca": "ca.create",
  "device-ca": "ca.create",
  "firmware-ca": "ca.create",
  "audit-signer": "audit.certify",
  "report-signer": "audit.certify",
  device: "issue.device",
  "firmware-signer": "issue.signer",
  "dps-verification": "dps.push",
  "ocsp-responder": "crl.issue",
  station: "station.manage",
  "tls-server": "station.manage",
};

/** Run the pipeline. Refusals are audited and thrown as POLICY_DENIED. */
export async function issueCertificate(home: Home, params: IssueParams): Promise<IssuedCertificate> {
  // Every certificate this pipeline signs is a write some role must allow (certificate-policy.md §5.2).
  await home.authorize(ACTION_OF_PROFILE[params.profile]);
  const profile = PROFILES[params.profile];
  const ca = params.ca === undefined ? undefined : getCa(home, params.ca);
  const now = home.clock();
  const extra: Violation[] =
    params.commonNames.length === 1
      ? []
      : [{ code: "NAME_INVALID", message: params.commonNames.length === 0 ? "the request has no common name (CN)" : `the request has ${params.commonNames.length} common names; exactly one is allowed` }];
  const request: IssuanceRequest = {
    commonName: params.commonNames[0] ?? "",
    publicKey: params.key,
    ...(params.validityDays !== undefined ? { validityDays: params.validityDays } : {}),
    ...(params.hosts !== undefined ? { hosts: params.hosts } : {}),
  };
  const decision = evaluate(request, profile, issuerFacts(home, ca, request.commonName), now);
  const violations = [...extra, ...(decision.ok ? [] : decision.violations)];
  if (violations.length > 0 || !decision.ok) {
    const error = policyDenied(params.profile, violations);
    await auditRejection(home, {
      profile: params.profile,
      ...(ca ? { ca: ca.name } : {}),
      requestSha256: params.requestSha256,
      batch: params.batch ?? null,
      reason: violations.map((v) => v.message).join("; "),
      code: "POLICY_DENIED",
    });
    throw error;
  }
  const template = decision.template;
  let signer: Signer | undefined;
  try {
    signer = ca ? await caSigner(home, ca) : params.selfSigner;
    if (!signer) throw new TrustlineError("KEY_UNAVAILABLE", "a self-signed certificate needs its own key");
  } catch (e) {
    // A wrong passphrase is worth an audit entry: it is how a guessing attempt shows up.
    const reason = e instanceof Error ? e.message : String(e);
    await home.transaction(() =>
      home.record([{ action: "certificate.fail", outcome: "failed", ...home.who, profile: params.profile, ...(ca ? { ca: ca.name } : {}), requestSha256: params.requestSha256, batch: params.batch ?? null, reason }], { sign: signable(e) }),
    );
    throw e;
  }

  const serialBytes = randomSerial();
  const serial = serialHex(serialBytes);
  const issuerDer = ca ? caCertificateDer(ca) : undefined;
  const trace = {
    ...home.who,
    profile: params.profile,
    ca: ca?.name ?? request.commonName,
    serial,
    requestSha256: params.requestSha256,
    subject: template.subject.commonName,
    batch: params.batch ?? null,
  };
  const recordFor = (certificate: Uint8Array): CertificateRecord => ({
    serial,
    ca: ca?.name ?? request.commonName,
    profile: params.profile,
    policyOids: [...template.policyOids],
    subject: subjectString(certificate),
    commonName: template.subject.commonName,
    notBefore: template.notBefore.toISOString(),
    notAfter: template.notAfter.toISOString(),
    der: Buffer.from(certificate).toString("base64"),
    requestSha256: params.requestSha256,
    keySource: params.keySource,
    ...home.who,
    batch: params.batch ?? null,
    issuedAt: now.toISOString(),
  });
  // One transaction: the intent is durable before signing, the record before the "issue" entry,
  // and the audit head is signed once. Signing inside the lock costs the other writers only the
  // signature's time (tens of microseconds with a file key).
  const { der, record } = await home.transaction(async () => {
    await home.record([{ action: "certificate.intent", outcome: "ok", ...trace }], { sign: false });
    let signedDer: Uint8Array;
    try {
      const tbs = await encodeTbs(ca, signer, {
        serial: serialBytes,
        template,
        subjectPublicKey: params.spki,
        issuerName: issuerDer ? subjectNameDer(issuerDer) : undefined,
        issuerPublicKey: ca ? spkiOfCa(ca) : signer.publicKey,
      });
      signedDer = await signStructure(tbs, signer);
      // Check the signature before anything is stored: a faulty key backend must not produce a bad certificate.
      if (!signatureHolds(signedDer, signer)) throw new TrustlineError("SIGNATURE_INVALID", `the key backend produced a signature that does not verify for CA "${trace.ca}"`);
    } catch (e) {
      await home.record([{ action: "certificate.fail", outcome: "failed", ...trace, reason: (e as Error).message }]);
      throw e;
    }
    const issued = recordFor(signedDer);
    await home.inventory.putCertificate(issued);
    try {
      await home.record([{ action: "certificate.issue", outcome: "ok", ...trace }]);
    } catch (e) {
      // The record is durable but its issue entry is not: the audit trail shows the serial as
      // intent-only, and the certificate is not handed out.
      throw new TrustlineError("STORE_UNAVAILABLE", `certificate ${serial} was recorded, but its audit entry could not be written (${(e as Error).message}); it was not handed out and shows in the audit trail as intent-only`, {
        cause: e,
        details: { serial, intentOnly: true },
      });
    }
    return { der: signedDer, record: issued };
  });
  return { der, pem: toPem(der, "CERTIFICATE"), chain: ca ? chainOf(home, ca.name) : [], record };
}

/** Whether a signed structure's signature verifies with the signer's public key (a key backend self-check). */
export function signatureHolds(der: Uint8Array, signer: Signer): boolean {
  const { tbs, signature } = signedParts(der);
  return nodeVerify(SIGNATURE_ALGORITHMS[signer.algorithm].hash, tbs, publicKeyFromSpki(signer.publicKey), signature);
}

/** A batch id is recorded with certificates and names an index file: 1-64 safe characters. */
export function validateBatchId(batch: string | undefined): void {
  if (batch !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(batch)) {
    throw new TrustlineError("USAGE", `batch id "${batch.slice(0, 70)}" must be 1-64 letters, digits and . _ : -`);
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
