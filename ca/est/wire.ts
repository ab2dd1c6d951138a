/**
 * EST on the wire (RFC 7030 §4, as updated by RFC 8951): a PKCS#10 request arrives as base64 of
 * its DER, certificates leave as base64 of a certs-only CMS SignedData, CSR attributes as base64 of
 * a CsrAttrs. Base64 is accepted with or without line breaks (RFC 8951 §3.2), and nothing relies on
 * Content-Transfer-Encoding, which HTTP does not have.
 */
import { CMS_OIDS } from "../firmware/cms.js";
import { oid, sequence, tlv } from "../x509/der.js";

export const MEDIA = {
  pkcs10: "application/pkcs10",
  certsOnly: "application/pkcs7-mime; smime-type=certs-only",
  csrattrs: "application/csrattrs",
} as const;

/** The base64 body's bytes, or undefined when it is not base64 (whitespace and line breaks aside). */
export function decodeBase64Body(body: Uint8Array): Uint8Array | undefined {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1").replace(/[\r\n\t ]+/g, "");
  // Node's decoder skips what it does not know; a strict check first, so a garbled body is refused.
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, "base64"));
}

/** Base64 in lines of 64 characters (what `openssl base64 -d` reads). */
export function encodeBase64Body(der: Uint8Array): string {
  const text = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let out = "";
  for (let i = 0; i < text.length; i += 64) out += `${text.slice(i, i + 64)}\n`;
  return out;
}

/**
 * A degenerate CMS SignedData (RFC 5652 §5, RFC 7030 §4.1.3): version 1, no digest algorithms, an
 * id-data content with no eContent, the certificates, no signers. What `cacerts`, `simpleenroll`
 * and `simplereenroll` answer.
 */
export function certsOnly(certificates: readonly Uint8Array[]): Uint8Array {
  const signedData = sequence(
    Uint8Array.of(0x02, 0x01, 0x01), // version 1
    Uint8Array.of(0x31, 0x00), // digestAlgorithms: none
    sequence(oid(CMS_OIDS.data)), // encapContentInfo without eContent
    tlv(0xa0, ...certificates), // certificates [0] IMPLICIT SET OF
    Uint8Array.of(0x31, 0x00), // signerInfos: none
  );
  return sequence(oid(CMS_OIDS.signedData), tlv(0xa0, signedData));
}

/**
 * The CSR attributes this service asks for (RFC 7030 §4.5.2): an elliptic-curve key on P-256
 * signed with ECDSA and SHA-256, what the device profile prefers (it accepts the others it lists).
 */
export function csrAttributes(): Uint8Array {
  return sequence(
    oid("1.2.840.10045.4.3.2"), // ecdsa-with-SHA256
    sequence(oid("1.2.840.10045.2.1"), tlv(0x31, oid("1.2.840.10045.3.1.7"))), // id-ecPublicKey { secp256r1 }
  );
}
