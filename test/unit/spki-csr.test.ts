/** SubjectPublicKeyInfo import (the JWK fast path) and CSR parsing: every key kind, every bad input. */
import { newKeyPair } from "../helpers/keys.js";
import assert from "node:assert/strict";
import { sign } from "node:crypto";
import { test } from "node:test";
import { createCsr, isTrustlineError, parseCsr, toPem } from "../../ca/index.js";
import { readPublicKey } from "../../ca/x509/spki.js";
import { children, readRoot, sequence, slice, tlv } from "../../ca/x509/der.js";

const kinds = [
  { name: "P-256", gen: () => newKeyPair("ec", { namedCurve: "P-256" }), want: { type: "ec", curve: "P-256" } },
  { name: "P-384", gen: () => newKeyPair("ec", { namedCurve: "P-384" }), want: { type: "ec", curve: "P-384" } },
  { name: "P-521", gen: () => newKeyPair("ec", { namedCurve: "P-521" }), want: { type: "ec", curve: "P-521" } },
  { name: "RSA-2048", gen: () => newKeyPair("rsa", { modulusLength: 2048 }), want: { type: "rsa", bits: 2048 } },
  { name: "RSA-1024", gen: () => newKeyPair("rsa", { modulusLength: 1024 }), want: { type: "rsa", bits: 1024 } },
  { name: "Ed25519", gen: () => newKeyPair("ed25519"), want: { type: "other", name: "ed25519" } },
] as const;

for (const k of kinds) {
  test(`RFC 5280 §4.1.2.7 SubjectPublicKeyInfo: ${k.name} is described and imported exactly`, () => {
    const { publicKey } = k.gen();
    const der = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const info = readPublicKey(der);
    assert.deepEqual(info.key, k.want);
    assert.deepEqual(new Uint8Array(info.publicKey.export({ format: "der", type: "spki" })), der);
  });
}

test("an EC point that is not on the curve is refused", () => {
  const der = new Uint8Array(newKeyPair("ec", { namedCurve: "P-256" }).publicKey.export({ format: "der", type: "spki" }));
  der[der.length - 1] = der[der.length - 1]! ^ 0x01; // y no longer matches x
  assert.throws(() => readPublicKey(der));
});

test("RFC 2986 CSRs made by createCsr parse and verify (EC and RSA), DER and PEM alike", () => {
  for (const k of [kinds[0], kinds[1], kinds[3]]) {
    const { privateKey } = k.gen();
    const der = createCsr(privateKey, "dev-0001");
    for (const input of [der, new TextEncoder().encode(toPem(der, "CERTIFICATE REQUEST"))]) {
      const csr = parseCsr(input);
      assert.deepEqual(csr.commonNames, ["dev-0001"]);
      assert.deepEqual(csr.key, k.want);
      assert.deepEqual(csr.der, der);
    }
  }
});

test("CSR_INVALID for a key in a PEM file, a certificate-less PEM, trailing bytes, v2, SHA-1, and a key/algorithm mismatch", () => {
  const { privateKey } = newKeyPair("ec", { namedCurve: "P-256" });
  const good = createCsr(privateKey, "dev-1");
  const cases: [string, Uint8Array][] = [
    ["private key PEM", new TextEncoder().encode(privateKey.export({ format: "pem", type: "pkcs8" }) as string)],
    ["trailing byte", Uint8Array.from([...good, 0])],
    ["version 1 instead of 0", (() => {
      const b = Uint8Array.from(good);
      const i = b.indexOf(0x02); // first INTEGER: the version
      b[i + 2] = 1;
      return b;
    })()],
    ["truncated", good.subarray(0, good.length - 5)],
  ];
  for (const [name, input] of cases) {
    assert.throws(() => parseCsr(input), (e: unknown) => isTrustlineError(e, "CSR_INVALID"), name);
  }
  // SHA-1 and an RSA algorithm over an EC key: rebuild the outer SEQUENCE with a different AlgorithmIdentifier.
  const rebuild = (algHex: string, hash: string) => {
    const cri = slice(good, children(good, readRoot(good))[0]!);
    const signature = sign(hash, cri, privateKey);
    return sequence(cri, Buffer.from(algHex, "hex"), tlv(0x03, Uint8Array.of(0), signature));
  };
  assert.throws(() => parseCsr(rebuild("300906072a8648ce3d0401", "sha1")), (e: unknown) => isTrustlineError(e, "CSR_INVALID") && /SHA-1/.test(e.message));
  assert.throws(() => parseCsr(rebuild("300d06092a864886f70d01010b0500", "sha256")), (e: unknown) => isTrustlineError(e, "CSR_INVALID") && /holds a ec key/.test(e.message));
});
