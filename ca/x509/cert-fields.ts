/**
 * Certificate fields read straight from the DER (no schema library): what the issuing path needs
 * from a CA certificate, cheaply and without loading @peculiar/x509.
 */
import { TrustlineError } from "../errors.js";
import { derFromPemOrDer } from "../pem.js";
import { children, content, oidText, readRoot, slice, type Tlv } from "./der.js";
import { nameToString, parseName } from "./name.js";
import { serialHex } from "./serial.js";

interface TbsParts {
  readonly serial: Tlv;
  readonly issuer: Tlv;
  readonly validity: Tlv;
  readonly subject: Tlv;
  readonly spki: Tlv;
}

function tbsParts(der: Uint8Array): TbsParts {
  const tbs = children(der, readRoot(der))[0];
  if (!tbs) throw new TrustlineError("INPUT_INVALID", "not an X.509 certificate");
  const parts = children(der, tbs);
  const o = parts[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, validity, subject, spki] = parts.slice(o);
  if (!serial || !issuer || !validity || !subject || !spki) throw new TrustlineError("INPUT_INVALID", "not an X.509 certificate: TBSCertificate is incomplete");
  return { serial, issuer, validity, subject, spki };
}

/** DER of a certificate given as PEM or DER; INPUT_INVALID when it is neither. */
export function certificateDer(input: Uint8Array): Uint8Array {
  const der = derFromPemOrDer(input, ["CERTIFICATE"]);
  if (!der || der[0] !== 0x30) throw new TrustlineError("INPUT_INVALID", "the file holds no certificate (expected a PEM CERTIFICATE block or DER)");
  try {
    tbsParts(der);
  } catch (e) {
    throw e instanceof TrustlineError ? e : new TrustlineError("INPUT_INVALID", `the file is not an X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
  return der;
}

export const subjectNameDer = (der: Uint8Array): Uint8Array => slice(der, tbsParts(der).subject).slice();
export const issuerNameDer = (der: Uint8Array): Uint8Array => slice(der, tbsParts(der).issuer).slice();
/** The serialNumber INTEGER's content bytes, as encoded (for IssuerAndSerialNumber). */
export const serialContentOf = (der: Uint8Array): Uint8Array => content(der, tbsParts(der).serial).slice();
/** Issuer and subject names are the same bytes (a self-issued certificate, a root). */
export const isSelfIssued = (der: Uint8Array): boolean => Buffer.compare(Buffer.from(issuerNameDer(der)), Buffer.from(subjectNameDer(der))) === 0;
export const subjectString = (der: Uint8Array): string => nameToString(parseName(der, tbsParts(der).subject));
export const issuerString = (der: Uint8Array): string => nameToString(parseName(der, tbsParts(der).issuer));
export const spkiOfCertificate = (der: Uint8Array): Uint8Array => slice(der, tbsParts(der).spki).slice();
export const serialOfCertificate = (der: Uint8Array): string => serialHex(content(der, tbsParts(der).serial));

/** The to-be-signed bytes and the signature value (for self-checks). */
export function signedParts(der: Uint8Array): { tbs: Uint8Array; signature: Uint8Array } {
  const [tbs, , sig] = children(der, readRoot(der));
  if (!tbs || !sig) throw new TrustlineError("INPUT_INVALID", "not a signed structure");
  return { tbs: slice(der, tbs), signature: content(der, sig).subarray(1) };
}

/** The certificatePolicies OIDs of a certificate (empty without the extension), read from the DER. */
export function certificatePolicyOids(der: Uint8Array): string[] {
  const tbs = children(der, readRoot(der))[0];
  if (!tbs) return [];
  const explicit = children(der, tbs).find((t) => t.tag === 0xa3);
  if (!explicit) return [];
  for (const ext of children(der, children(der, explicit)[0]!)) {
    const [id, ...rest] = children(der, ext);
    if (!id || oidText(content(der, id)) !== "2.5.29.32") continue;
    const value = content(der, rest[rest.length - 1]!);
    return children(value, readRoot(value)).map((info) => oidText(content(value, children(value, info)[0]!)));
  }
  return [];
}
