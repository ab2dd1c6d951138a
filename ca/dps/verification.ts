/**
 * DPS proof of possession: a certificate whose subject CN is the verification code DPS issued,
 * signed by the CA uploaded to DPS. It goes through the normal issuing pipeline (profile
 * `dps-verification`: policy, audit, inventory); its own key pair is generated here and dropped,
 * since only the CA's signature matters to DPS.
 */
import type { KeyAlgorithm } from "../../policy/index.js";
import type { Home } from "../home.js";
import { issueCertificate, sha256Hex, type IssuedCertificate } from "../issue.js";
import { describePublicKey, generateKeyPair, spkiOf } from "../x509/keys.js";

export interface VerificationCertificateOptions {
  /** The CA uploaded to DPS (default "device"). */
  readonly ca?: string;
  /** Default: the profile's (1 day). */
  readonly validityDays?: number;
  /** The throwaway key's algorithm (default p256). */
  readonly algorithm?: KeyAlgorithm;
}

export async function issueVerificationCertificate(home: Home, code: string, options: VerificationCertificateOptions = {}): Promise<IssuedCertificate> {
  // Only the public key leaves this function; the private key is garbage once it returns.
  const { publicKey } = await generateKeyPair(options.algorithm ?? "p256");
  const spki = spkiOf(publicKey);
  return issueCertificate(home, {
    profile: "dps-verification",
    ca: options.ca ?? "device",
    commonNames: [code],
    spki,
    key: describePublicKey(publicKey),
    requestSha256: sha256Hex(spki),
    keySource: "generated",
    batch: null,
    ...(options.validityDays !== undefined ? { validityDays: options.validityDays } : {}),
  });
}
