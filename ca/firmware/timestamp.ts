/**
 * RFC 3161 time-stamps: ask a TSA to time-stamp a signature value, and read a token's TSTInfo.
 * (Checking a token against a pinned TSA root is the verifier's job: firmware/verify.ts.)
 */
import { createHash, randomBytes } from "node:crypto";
import { TrustlineError } from "../errors.js";
import { children, content, DerError, oidText, readRoot, sequence, tlv } from "../x509/der.js";
import { decodeTime } from "../revocation/crl-codec.js";
import { CMS_OIDS, digestAlgorithmIdentifier, parseSignedData } from "./cms.js";

export interface TstInfo {
  readonly policy: string;
  readonly hashAlgorithm: string;
  readonly hashedMessage: Uint8Array;
  readonly serial: string;
  readonly genTime: Date;
  readonly nonce?: string;
}

/** A positive INTEGER's DER content for an unsigned big-endian number: minimal (X.690 §8.3.2), so strict TSAs accept it. */
function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const n = bytes.subarray(start);
  return n[0]! & 0x80 ? Uint8Array.from([0, ...n]) : n;
}

export function encodeTimeStampRequest(imprint: Uint8Array, nonce: Uint8Array): Uint8Array {
  // A random nonce starting with a zero byte was sent non-minimal, and OpenSSL's TSA refused it
  // (PKIStatus rejection): one time-stamp request in 512 failed.
  const n = unsignedInteger(nonce);
  return sequence(tlv(0x02, Uint8Array.of(1)), sequence(digestAlgorithmIdentifier("sha256"), tlv(0x04, imprint)), tlv(0x02, n), Uint8Array.of(0x01, 0x01, 0xff));
}

/** POST a TimeStampReq; returns the token (ContentInfo DER). */
export async function requestTimestamp(url: string, signatureValue: Uint8Array): Promise<Uint8Array> {
  const imprint = createHash("sha256").update(signatureValue).digest();
  const nonce = randomBytes(8);
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers: { "content-type": "application/timestamp-query" }, body: encodeTimeStampRequest(imprint, nonce), signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new TrustlineError("INPUT_INVALID", `the time-stamp authority at ${url} did not answer: ${(e as Error).message}`, { cause: e });
  }
  if (!response.ok) throw new TrustlineError("INPUT_INVALID", `the time-stamp authority at ${url} answered HTTP ${response.status}`);
  const der = new Uint8Array(await response.arrayBuffer());
  try {
    const root = readRoot(der);
    const [status, token] = children(der, root);
    const code = status ? content(der, children(der, status)[0]!)[0] : undefined;
    if (code !== 0 && code !== 1) throw new TrustlineError("INPUT_INVALID", `the time-stamp authority refused the request (PKIStatus ${code})`);
    if (!token) throw new TrustlineError("INPUT_INVALID", "the time-stamp authority granted no token");
    const tokenDer = der.subarray(token.start, token.end);
    const info = parseTstInfo(tokenDer);
    if (Buffer.compare(Buffer.from(info.hashedMessage), imprint) !== 0) throw new TrustlineError("SIGNATURE_INVALID", "the time-stamp token covers something else than our signature");
    if (info.nonce !== BigInt(`0x${nonce.toString("hex")}`).toString(16)) throw new TrustlineError("SIGNATURE_INVALID", "the time-stamp token does not echo our nonce");
    return tokenDer.slice();
  } catch (e) {
    if (e instanceof TrustlineError) throw e;
    throw new TrustlineError("INPUT_INVALID", `the time-stamp authority's answer is malformed: ${(e as Error).message}`, { cause: e });
  }
}

export function parseTstInfo(tokenDer: Uint8Array): TstInfo {
  const sd = parseSignedData(tokenDer);
  if (sd.eContentType !== CMS_OIDS.tstInfo || !sd.eContent) throw new DerError("the token does not hold a TSTInfo");
  const buf = sd.eContent;
  const parts = children(buf, readRoot(buf));
  const [, policy, imprint, serial, genTime] = parts;
  if (!policy || !imprint || !serial || !genTime) throw new DerError("incomplete TSTInfo");
  const [alg, hashed] = children(buf, imprint);
  const nonceTlv = parts.slice(5).find((p) => p.tag === 0x02);
  return {
    policy: oidText(content(buf, policy)),
    hashAlgorithm: oidText(content(buf, children(buf, alg!)[0]!)),
    hashedMessage: content(buf, hashed!),
    serial: Buffer.from(content(buf, serial)).toString("hex"),
    genTime: decodeTime(buf, genTime),
    ...(nonceTlv ? { nonce: BigInt(`0x${Buffer.from(content(buf, nonceTlv)).toString("hex") || "0"}`).toString(16) } : {}),
  };
}

