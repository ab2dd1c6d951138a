/**
 * One CRL measurement in its own process (so its peak RSS is its own): encode and sign a CRL of N
 * entries, or parse one. Prints one JSON line.
 */
import { randomBytes, sign } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { encodeTbsCertList, parseCrl, verifyCrlSignature } from "../ca/revocation/crl-codec.js";
import { newKeyPair } from "../ca/x509/keys.js";
import { sequence, tlv } from "../ca/x509/der.js";
import { encodeName } from "../ca/x509/tbs-encoder.js";
import { SIGNATURE_ALGORITHMS } from "../ca/keys/signer.js";

const [mode, file, countText] = process.argv.slice(2);
if (mode === "encode") {
  const count = Number(countText);
  const { privateKey, publicKey } = newKeyPair("ec", { namedCurve: "P-256" });
  writeFileSync(`${file}.spki`, publicKey.export({ format: "der", type: "spki" }));
  const serials = randomBytes(20 * count);
  const reasons = [0, 1, 4, 5];
  const base = Date.parse("2026-06-01T00:00:00Z");
  const entries = Array.from({ length: count }, (_, i) => {
    serials[i * 20] = serials[i * 20]! & 0x7f || 1;
    return { serial: serials.toString("hex", i * 20, i * 20 + 20), revokedAt: new Date(base + (i % 86_400) * 1000), reasonCode: reasons[i % 4]! };
  });
  const started = performance.now();
  const tbs = encodeTbsCertList({
    algorithmIdentifier: SIGNATURE_ALGORITHMS["ecdsa-p256-sha256"].algorithmIdentifier,
    issuerName: encodeName({ commonName: "Bench device CA", organization: "Bench" }),
    thisUpdate: new Date("2026-11-01T00:00:00Z"),
    nextUpdate: new Date("2026-11-08T00:00:00Z"),
    crlNumber: 42n,
    authorityKeyId: new Uint8Array(20).fill(7),
    entries,
  });
  const der = sequence(tbs, SIGNATURE_ALGORITHMS["ecdsa-p256-sha256"].algorithmIdentifier, tlv(0x03, Uint8Array.of(0), sign("sha256", tbs, privateKey)));
  const ms = performance.now() - started;
  writeFileSync(file!, der);
  console.log(JSON.stringify({ ms, bytes: der.length, maxRssKb: process.resourceUsage().maxRSS }));
} else {
  const der = new Uint8Array(readFileSync(file!));
  const started = performance.now();
  const crl = parseCrl(der);
  const ok = verifyCrlSignature(crl, new Uint8Array(readFileSync(`${file}.spki`)));
  const ms = performance.now() - started;
  console.log(JSON.stringify({ ms, entries: crl.entries.length, signatureOk: ok, maxRssKb: process.resourceUsage().maxRSS }));
}
