/**
 * OCSP (RFC 6960) messages: parse an OCSPRequest, build a signed BasicOCSPResponse. Plain DER,
 * written with the same helpers as certificates, so a responder answers in microseconds.
 */
import { children, content, DerError, oid, oidText, readRoot, sequence, slice, tlv, type Tlv } from "../x509/der.js";

export const OCSP_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;

const OID_NONCE = "1.3.6.1.5.5.7.48.1.2";
const OID_NONCE_DER = oid(OID_NONCE);
const OID_BASIC = oid("1.3.6.1.5.5.7.48.1.1");

/** CertID hash algorithms a client may use (SHA-1 is what RFC 6960 clients, OpenSSL included, send by default). */
export const CERT_ID_HASHES: Readonly<Record<string, string>> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

export interface CertId {
  /** The CertID's DER, echoed in the response as it was asked. */
  readonly der: Uint8Array;
  readonly hashAlgorithm: string;
  readonly issuerNameHash: Uint8Array;
  readonly issuerKeyHash: Uint8Array;
  /** Lowercase hex magnitude. */
  readonly serial: string;
}

export interface OcspRequest {
  readonly certIds: readonly CertId[];
  /** The nonce extension's value (RFC 8954: 1..32 octets), echoed when present. */
  readonly nonce?: Uint8Array;
}

function parseCertId(buf: Uint8Array, t: Tlv): CertId {
  const [alg, nameHash, keyHash, serial] = children(buf, t);
  if (!alg || !nameHash || !keyHash || !serial || nameHash.tag !== 0x04 || keyHash.tag !== 0x04 || serial.tag !== 0x02) throw new DerError("malformed CertID");
  const algOid = children(buf, alg)[0];
  if (!algOid || algOid.tag !== 0x06) throw new DerError("malformed CertID hash algorithm");
  const name = CERT_ID_HASHES[oidText(content(buf, algOid))];
  if (!name) throw new DerError("unsupported CertID hash algorithm");
  let s = serial.contentStart;
  while (s < serial.end - 1 && buf[s] === 0) s++;
  return {
    der: slice(buf, t),
    hashAlgorithm: name,
    issuerNameHash: content(buf, nameHash),
    issuerKeyHash: content(buf, keyHash),
    serial: Buffer.from(buf.subarray(s, serial.end)).toString("hex"),
  };
}

/** Parse an OCSPRequest; DerError for anything malformed (answered with malformedRequest). */
export function parseOcspRequest(der: Uint8Array): OcspRequest {
  const root = readRoot(der);
  const tbs = children(der, root)[0];
  if (!tbs || tbs.tag !== 0x30) throw new DerError("OCSPRequest without TBSRequest");
  const parts = children(der, tbs);
  let i = 0;
  if (parts[i]?.tag === 0xa0) i++; // version
  if (parts[i]?.tag === 0xa1) i++; // requestorName
  const list = parts[i++];
  if (!list || list.tag !== 0x30) throw new DerError("OCSPRequest without requestList");
  const certIds = children(der, list).map((req) => {
    const certId = children(der, req)[0];
    if (!certId) throw new DerError("empty Request");
    return parseCertId(der, certId);
  });
  if (certIds.length === 0) throw new DerError("empty requestList");
  let nonce: Uint8Array | undefined;
  const exts = parts[i];
  if (exts?.tag === 0xa2) {
    const seq = children(der, exts)[0];
    for (const ext of seq ? children(der, seq) : []) {
      const [id, ...rest] = children(der, ext);
      const value = rest.at(-1);
      if (id && value && oidText(content(der, id)) === OID_NONCE) {
        // RFC 6960 §4.4.1: the nonce's extnValue holds an OCTET STRING; OpenSSL wraps it so.
        const inner = content(der, value);
        nonce = inner.length > 0 && inner[0] === 0x04 ? content(inner, readRoot(inner, 0x04)) : inner;
        if (nonce.length < 1 || nonce.length > 32) throw new DerError("nonce must be 1 to 32 octets (RFC 8954)");
      }
    }
  }
  return { certIds, ...(nonce ? { nonce } : {}) };
}

export type SingleStatus =
  | { readonly status: "good" }
  | { readonly status: "unknown" }
  | { readonly status: "revoked"; readonly revokedAt: Date; readonly reasonCode?: number };

export interface SingleResponseInput {
  readonly certId: CertId;
  readonly status: SingleStatus;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

const timeCache = new Map<number, Uint8Array>();

/** GeneralizedTime in seconds; responses of the same second share encodings (thisUpdate, nextUpdate). */
function generalizedTime(date: Date): Uint8Array {
  const ms = Math.floor(date.getTime() / 1000) * 1000;
  let der = timeCache.get(ms);
  if (!der) {
    const iso = new Date(ms).toISOString();
    der = tlv(0x18, Buffer.from(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`, "latin1"));
    if (timeCache.size >= 16) timeCache.clear();
    timeCache.set(ms, der);
  }
  return der;
}

function certStatus(s: SingleStatus): Uint8Array {
  if (s.status === "good") return Uint8Array.of(0x80, 0x00);
  if (s.status === "unknown") return Uint8Array.of(0x82, 0x00);
  const reason = s.reasonCode !== undefined && s.reasonCode !== 0 ? [tlv(0xa0, tlv(0x0a, Uint8Array.of(s.reasonCode)))] : [];
  return tlv(0xa1, generalizedTime(s.revokedAt), ...reason);
}

export function encodeSingleResponse(r: SingleResponseInput): Uint8Array {
  return sequence(r.certId.der, certStatus(r.status), generalizedTime(r.thisUpdate), tlv(0xa0, generalizedTime(r.nextUpdate)));
}

/** ResponseData (the signed part), responder identified by key hash (RFC 6960 §4.2.2.3). */
export function encodeResponseData(responderKeyHash: Uint8Array, producedAt: Date, singles: readonly Uint8Array[], nonce?: Uint8Array): Uint8Array {
  const ext = nonce ? [tlv(0xa1, sequence(sequence(OID_NONCE_DER, tlv(0x04, tlv(0x04, nonce)))))] : [];
  return sequence(tlv(0xa2, tlv(0x04, responderKeyHash)), generalizedTime(producedAt), sequence(...singles), ...ext);
}

/** OCSPResponse(successful) around a signed BasicOCSPResponse; `certs` = the responder's certificate. */
export function encodeSuccessfulResponse(responseData: Uint8Array, algorithmIdentifier: Uint8Array, signature: Uint8Array, certs: readonly Uint8Array[]): Uint8Array {
  const basic = sequence(responseData, algorithmIdentifier, tlv(0x03, Uint8Array.of(0), signature), ...(certs.length ? [tlv(0xa0, sequence(...certs))] : []));
  return sequence(tlv(0x0a, Uint8Array.of(OCSP_STATUS.successful)), tlv(0xa0, sequence(OID_BASIC, tlv(0x04, basic))));
}

/** An unsuccessful OCSPResponse: status only (RFC 6960 §4.2.1). */
export function encodeErrorResponse(status: Exclude<keyof typeof OCSP_STATUS, "successful">): Uint8Array {
  return sequence(tlv(0x0a, Uint8Array.of(OCSP_STATUS[status])));
}
