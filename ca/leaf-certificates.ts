/** End-entity certificates: devices (from a CSR or with a key generated here) and firmware signers. */
import { createPrivateKey, type KeyObject } from "node:crypto";
import type { KeyAlgorithm, ProfileName } from "../policy/index.js";
import { TrustlineError } from "./errors.js";
import type { Home } from "./home.js";
import { auditRejection, getCa, issueCertificate, sha256Hex, validateBatchId, type IssuedCertificate } from "./issue.js";
import { derFromPemOrDer, toPem } from "./pem.js";
import { parseCsr, type ParsedCsr } from "./x509/csr.js";
import type { ServiceKeyRecord } from "./store/state.js";
import { describePublicKey, generateKeyPair, publicKeyFromSpki, spkiOf } from "./x509/keys.js";

export interface RequestOptions {
  /** Issuing CA name (default "device" for devices, "firmware" for signers). */
  readonly ca?: string;
  readonly batch?: string;
  readonly validityDays?: number;
}

/** Parse and verify a CSR; a bad one is audited as a rejection and thrown as CSR_INVALID. */
async function checkedCsr(home: Home, csr: Uint8Array, profile: string, options: RequestOptions): Promise<ParsedCsr> {
  try {
    return parseCsr(csr);
  } catch (e) {
    if (e instanceof TrustlineError) {
      await auditRejection(home, {
        profile,
        ...(options.ca ? { ca: options.ca } : {}),
        // The request hash is over the DER, as for accepted requests, whenever the PEM decodes.
        requestSha256: sha256Hex(derFromPemOrDer(csr, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]) ?? csr),
        batch: options.batch ?? null,
        reason: e.message,
        code: e.code,
      });
    }
    throw e;
  }
}


/** A device certificate from the device's own CSR; the CSR's CN is the DPS registration ID. */
export async function issueDeviceCertificate(home: Home, csr: Uint8Array, options: RequestOptions = {}): Promise<IssuedCertificate> {
  validateBatchId(options.batch);
  const parsed = await checkedCsr(home, csr, "device", options);
  return issueCertificate(home, {
    profile: "device",
    ca: options.ca ?? "device",
    commonNames: parsed.commonNames,
    spki: parsed.spki,
    key: parsed.key,
    requestSha256: parsed.sha256,
    keySource: "csr",
    batch: options.batch ?? null,
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
  });
}

export interface GeneratedDevice extends IssuedCertificate {
  /** The device's private key, unencrypted PKCS#8 PEM: for the device alone; write it with care. */
  readonly privateKeyPem: string;
  readonly privateKey: KeyObject;
}

/** Key and certificate for a device that cannot make its own key. */
export async function generateDeviceCertificate(
  home: Home,
  registrationId: string,
  options: RequestOptions & { algorithm?: KeyAlgorithm } = {},
): Promise<GeneratedDevice> {
  validateBatchId(options.batch);
  const { privateKey, publicKey } = await generateKeyPair(options.algorithm ?? "p256");
  const spki = spkiOf(publicKey);
  const issued = await issueCertificate(home, {
    profile: "device",
    ca: options.ca ?? "device",
    commonNames: [registrationId],
    spki,
    key: describePublicKey(publicKey),
    requestSha256: sha256Hex(spki),
    keySource: "generated",
    batch: options.batch ?? null,
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
  });
  const pkcs8 = privateKey.export({ format: "der", type: "pkcs8" });
  return { ...issued, privateKey: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }), privateKeyPem: toPem(pkcs8, "PRIVATE KEY") };
}

/**
 * A firmware-signing certificate for a person or a CI pipeline. The CSR's own subject is not used:
 * the certificate names `name` (the signer) and the organisation.
 */
export async function issueSignerCertificate(home: Home, csr: Uint8Array, name: string, options: RequestOptions = {}): Promise<IssuedCertificate> {
  validateBatchId(options.batch);
  const parsed = await checkedCsr(home, csr, "firmware-signer", { ...options, ca: options.ca ?? "firmware" });
  return issueCertificate(home, {
    profile: "firmware-signer",
    ca: options.ca ?? "firmware",
    commonNames: [name],
    spki: parsed.spki,
    key: parsed.key,
    requestSha256: parsed.sha256,
    keySource: "csr",
    batch: options.batch ?? null,
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
  });
}

/**
 * A key the home makes for its own use (an OCSP responder, the report signer): generated in the
 * home's key store with the key algorithm of CA `ca`, which certifies it under `profile`.
 */
export async function certifyNewServiceKey(home: Home, o: { ca: string; profile: ProfileName; commonName: string; label: string }): Promise<{ record: ServiceKeyRecord; subject: string }> {
  const keyRef = await home.keys.generate(getCa(home, o.ca).keyAlgorithm, o.label, home.keyStore);
  const issued = await issueCertificate(home, {
    profile: o.profile,
    ca: o.ca,
    commonNames: [o.commonName],
    spki: keyRef.publicKey,
    key: describePublicKey(publicKeyFromSpki(keyRef.publicKey)),
    requestSha256: sha256Hex(keyRef.publicKey),
    keySource: "generated",
  });
  return {
    record: { keyUri: keyRef.uri, keyAlgorithm: keyRef.algorithm, certificate: issued.pem, serial: issued.record.serial, notBefore: issued.record.notBefore, notAfter: issued.record.notAfter },
    subject: issued.record.subject,
  };
}

/** The generated device's key, certificate and chain as a password-protected PKCS#12 (RFC 7292). */
export async function devicePkcs12(device: GeneratedDevice, password: string): Promise<Uint8Array> {
  const { buildPkcs12 } = await import("./x509/pkcs12.js"); // pkijs is loaded only for this
  return buildPkcs12({
    privateKey: device.privateKey,
    certificate: device.der,
    chain: device.chain.map((pem) => derFromPemOrDer(Buffer.from(pem), ["CERTIFICATE"])!),
    password,
    friendlyName: device.record.commonName,
  });
}
