/**
 * RFC 5280 §6.1 path validation, basic certificate processing: each rule with a path that passes
 * and one that fails, on certificates made here with a fixed clock.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { normalizeSerial } from "../../ca/index.js";
import { CHECKS } from "../../ca/validation/result.js";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { DAY, EKU, ext, issue, keyFromPem, newKey, selfSigned, STRING, name, type KeyAlg, type SignatureAlg } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, pathSubjects, validate } from "../helpers/path-validation.js";
import { FIXED_NOW, tempDir } from "../helpers/pki.js";

const root = selfSigned({ subject: "/O=Acme/CN=Root" });
const ca = issue(root, { subject: "/O=Acme/CN=Device CA", ca: { pathLen: 0 } });
const leaf = issue(ca, { subject: "/CN=dev-0001", eku: [EKU.clientAuth] });

describe("RFC 5280 §6.1 the basic path", () => {
  test("RFC 5280 §6.1 a target, an intermediate and a trust anchor make a valid path, reported target first with every check", () => {
    const r = assertValid(validate(leaf, { anchors: [root], intermediates: [ca] }));
    assert.deepEqual(pathSubjects(r), ["CN=dev-0001", "O=Acme, CN=Device CA", "O=Acme, CN=Root"]);
    assert.deepEqual(r.path.map((p) => p.role), ["target", "intermediate", "trust-anchor"]);
    assert.equal(r.path[0]!.serial, normalizeSerial(leaf.serial.toString(16)));
    for (const check of ["signature", "validity", "name-chaining", "revocation", "name-constraints", "certificate-policies"] as const) {
      assert.deepEqual(r.checks.filter((c) => c.check === check).map((c) => c.index), [1, 0], `${check} on both certificates`);
    }
    for (const check of ["basic-constraints", "path-length", "key-usage"] as const) assert.deepEqual(r.checks.filter((c) => c.check === check).map((c) => c.index), [1]);
    assert.ok(r.checks.every((c) => c.ok && c.rfcSection.length > 0));
    assert.equal(r.attempts, 1);
  });

  test("RFC 5280 §6.1 without the intermediate, or under another root, there is no path", () => {
    assertInvalid(validate(leaf, { anchors: [root] }), "path-building", 0);
    const otherRoot = selfSigned({ subject: "/O=Other/CN=Root" });
    const r = assertInvalid(validate(leaf, { anchors: [otherRoot], intermediates: [ca] }), "path-building", 1);
    assert.match(r.reason, /no issuer found for O=Acme, CN=Device CA/);
  });

  test("RFC 5280 §6.1.1(d) a trust anchor is any CA the caller trusts: trusting the intermediate directly gives a shorter path", () => {
    const r = assertValid(validate(leaf, { anchors: [ca] }));
    assert.deepEqual(pathSubjects(r), ["CN=dev-0001", "O=Acme, CN=Device CA"]);
  });

  test("RFC 5280 §6.1.1(d) a self-signed certificate validates when it is itself the trust anchor, and not otherwise", () => {
    assertValid(validate(root, { anchors: [root] }));
    const stranger = selfSigned({ subject: "/CN=Stranger" });
    assert.match(assertInvalid(validate(stranger, { anchors: [root] }), "path-building", 0).reason, /self-issued and is not one of the trust anchors/);
  });
});

describe("RFC 5280 §6.1.3(a)(1) signatures", () => {
  const cases: { key: KeyAlg; alg?: SignatureAlg }[] = [
    { key: "p256", alg: "ecdsa-sha256" },
    { key: "p384", alg: "ecdsa-sha384" },
    { key: "p521", alg: "ecdsa-sha512" },
    { key: "p256", alg: "ecdsa-sha512" },
    { key: "rsa2048", alg: "rsa-sha256" },
    { key: "rsa2048", alg: "rsa-sha384" },
    { key: "rsa2048", alg: "rsa-sha512" },
    { key: "rsa2048", alg: "rsa-pss-sha256" },
    { key: "ed25519", alg: "ed25519" },
  ];
  for (const { key, alg } of cases) {
    test(`RFC 5280 §6.1.3(a)(1) a ${alg} signature by a ${key} CA verifies; the same certificate with one bit flipped does not`, () => {
      const caKey = newKey(key);
      const r = selfSigned({ subject: `/CN=Root ${alg}`, key: caKey, signatureAlg: alg! });
      const i = issue(r, { subject: `/CN=CA ${alg}`, ca: true, signatureAlg: alg! });
      const good = issue(i, { subject: "/CN=leaf" });
      assertValid(validate(good, { anchors: [r], intermediates: [i] }));
      const forgedCa = issue(r, { subject: `/CN=CA ${alg}`, ca: true, signatureAlg: alg!, key: i.key, corruptSignature: true });
      assertInvalid(validate(good, { anchors: [r], intermediates: [forgedCa] }), "signature", 1);
    });
  }

  test("RFC 5280 §6.1.4(d)-(f) DSA: a key written without parameters inherits its issuer's domain parameters", () => {
    const { dir, cleanup } = tempDir("trustline-dsa-");
    try {
      const params = join(dir, "params.pem");
      execFileSync("openssl", ["genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-pkeyopt", "dsa_paramgen_q_bits:256", "-out", params], { stdio: "pipe" });
      const dsaKey = () => keyFromPem(execFileSync("openssl", ["genpkey", "-paramfile", params], { encoding: "utf8" }), "dsa");
      const dsaRoot = selfSigned({ subject: "/CN=DSA Root", key: dsaKey() });
      const inheriting = issue(dsaRoot, { subject: "/CN=DSA CA", ca: true, key: dsaKey(), omitKeyParameters: true });
      assertValid(validate(issue(inheriting, { subject: "/CN=dev" }), { anchors: [dsaRoot], intermediates: [inheriting] }));
      // Under an EC root there are no DSA parameters to inherit: the CA's key is unusable.
      const orphan = issue(root, { subject: "/CN=Orphan DSA CA", ca: true, key: dsaKey(), omitKeyParameters: true });
      assertInvalid(validate(issue(orphan, { subject: "/CN=dev" }), { anchors: [root], intermediates: [orphan] }), "signature", 0);
    } finally {
      cleanup();
    }
  });

  test("RFC 5280 §6.1.3(a)(1) a certificate signed by another key under the CA's name is refused", () => {
    const forged = issue(ca, { subject: "/CN=dev-0002", signingKey: newKey() });
    const r = assertInvalid(validate(forged, { anchors: [root], intermediates: [ca] }), "signature", 0);
    assert.match(r.reason, /does not verify/);
  });

  test("RFC 5280 §6.1.3(a)(1) SHA-1 signatures are refused, unless allowed for a legacy corpus", () => {
    for (const alg of ["rsa-sha1", "ecdsa-sha1"] as const) {
      const caKey = alg === "rsa-sha1" ? newKey("rsa2048") : newKey("p256");
      const r1 = selfSigned({ subject: "/CN=Old Root", key: caKey });
      const old = issue(r1, { subject: "/CN=old leaf", signatureAlg: alg });
      const r = assertInvalid(validate(old, { anchors: [r1] }), "signature-algorithm", 0);
      assert.match(r.reason, /SHA-1/);
      assertValid(validate(old, { anchors: [r1], allowSha1Signatures: true }));
    }
  });

  test("RFC 5280 §6.1.1(d) a trust anchor's own SHA-1 self-signature is not checked, so it does not matter", () => {
    const sha1Root = selfSigned({ subject: "/CN=SHA-1 Root", key: newKey("rsa2048"), signatureAlg: "rsa-sha1" });
    const modern = issue(sha1Root, { subject: "/CN=leaf", signatureAlg: "rsa-sha256" });
    assertValid(validate(modern, { anchors: [sha1Root] }));
  });

  test("RFC 5280 §4.1.1.2 the TBSCertificate's signature field must equal signatureAlgorithm", () => {
    const mismatched = issue(ca, { subject: "/CN=dev", tbsSignatureAlg: "ecdsa-sha384" });
    const r = assertInvalid(validate(mismatched, { anchors: [root], intermediates: [ca] }), "signature-algorithm", 0);
    assert.equal(r.rfcSection, "4.1.1.2");
    assertValid(validate(issue(ca, { subject: "/CN=dev", tbsSignatureAlg: "ecdsa-sha256" }), { anchors: [root], intermediates: [ca] }));
  });
});

describe("RFC 5280 §6.1.3(a)(2) validity", () => {
  const at = (days: number) => new Date(FIXED_NOW.getTime() + days * DAY);
  const shortLived = issue(ca, { subject: "/CN=dev", notBefore: at(-10), notAfter: at(10) });

  test("RFC 5280 §6.1.3(a)(2) valid from notBefore to notAfter inclusive", () => {
    assertValid(validate(shortLived, { anchors: [root], intermediates: [ca] }));
    assertValid(validate(shortLived, { anchors: [root], intermediates: [ca], time: at(-10) }));
    assertValid(validate(shortLived, { anchors: [root], intermediates: [ca], time: at(10) }));
  });

  test("RFC 5280 §6.1.3(a)(2) an expired or not yet valid target is refused", () => {
    assert.match(assertInvalid(validate(shortLived, { anchors: [root], intermediates: [ca], time: new Date(at(10).getTime() + 1000) }), "validity", 0).reason, /expired/);
    assert.match(assertInvalid(validate(shortLived, { anchors: [root], intermediates: [ca], time: new Date(at(-10).getTime() - 1000) }), "validity", 0).reason, /not valid before/);
  });

  test("RFC 5280 §6.1.3(a)(2) an expired intermediate is refused though the target is current", () => {
    const oldCa = issue(root, { subject: "/CN=Old CA", ca: true, notAfter: at(-1) });
    const dev = issue(oldCa, { subject: "/CN=dev" });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [oldCa] }), "validity", 1);
    assertValid(validate(dev, { anchors: [root], intermediates: [oldCa], time: at(-2) }));
  });

  test("RFC 5280 §4.1.2.5 dates after 2049 are GeneralizedTime and compare correctly", () => {
    const longRoot = selfSigned({ subject: "/CN=Long Root", notAfter: new Date("2070-01-01T00:00:00Z") });
    const long = issue(longRoot, { subject: "/CN=Long CA", ca: true, notAfter: new Date("2060-01-01T00:00:00Z") });
    const dev = issue(long, { subject: "/CN=dev", notAfter: new Date("2065-01-01T00:00:00Z") });
    assertValid(validate(dev, { anchors: [longRoot], intermediates: [long] }));
    assertInvalid(validate(dev, { anchors: [longRoot], intermediates: [long], time: new Date("2060-01-02T00:00:00Z") }), "validity", 1);
  });
});

describe("RFC 5280 §6.1.3(a)(4) name chaining with §7.1 comparison", () => {
  test("RFC 5280 §7.1 names match across PrintableString and UTF8String, case and insignificant spaces", () => {
    const r0 = selfSigned({ subject: name(["C", "US", STRING.printable], ["O", "Acme  Devices", STRING.printable], ["CN", "Root CA", STRING.printable]) });
    const dev = issue(r0, { subject: "/CN=dev", issuerName: name(["C", "us", STRING.printable], ["O", " acme devices ", STRING.utf8], ["CN", "ROOT  ca", STRING.utf8]) });
    const r = assertValid(validate(dev, { anchors: [r0] }));
    assert.equal(r.checks.find((c) => c.check === "name-chaining")!.ok, true);
  });

  test("RFC 5280 §7.1 a multi-valued RDN matches whatever the order of its members", () => {
    const r0 = selfSigned({ subject: name([["O", "Acme"], ["OU", "Devices"]] as const, ["CN", "Root"]) });
    assertValid(validate(issue(r0, { subject: "/CN=dev", issuerName: name([["OU", "Devices"], ["O", "Acme"]] as const, ["CN", "Root"]) }), { anchors: [r0] }));
  });

  test("RFC 5280 §6.1.3(a)(4) an issuer name with another value, or the RDNs in another order, does not chain", () => {
    const r0 = selfSigned({ subject: "/O=Acme/CN=Root" });
    const otherValue = issue(r0, { subject: "/CN=dev", issuerName: "/O=Acme/CN=Root2" });
    assert.match(assertInvalid(validate(otherValue, { anchors: [r0] }), "path-building").reason, /no issuer found/);
    const swapped = issue(r0, { subject: "/CN=dev", issuerName: "/CN=Root/O=Acme" });
    assertInvalid(validate(swapped, { anchors: [r0] }), "path-building");
  });
});

describe("RFC 5280 §6.1.4(k) basicConstraints", () => {
  test("RFC 5280 §6.1.4(k) basicConstraints: an intermediate with cA TRUE is accepted", () => {
    assertValid(validate(leaf, { anchors: [root], intermediates: [ca] }));
  });

  test("RFC 5280 §6.1.4(k) basicConstraints: an intermediate without CA:TRUE is refused", () => {
    const notCa = issue(root, { subject: "/CN=Not a CA", ca: false, keyUsage: ["keyCertSign"] });
    assert.match(assertInvalid(validate(issue(notCa, { subject: "/CN=dev" }), { anchors: [root], intermediates: [notCa] }), "basic-constraints", 1).reason, /cA FALSE/);
  });

  test("RFC 5280 §6.1.4(k) basicConstraints: an intermediate without the extension is refused", () => {
    const noBc = issue(root, { subject: "/CN=No BC", ca: true, noBasicConstraints: true });
    assertInvalid(validate(issue(noBc, { subject: "/CN=dev" }), { anchors: [root], intermediates: [noBc] }), "basic-constraints", 1);
  });

  test("RFC 5280 §6.1.4(k) basicConstraints: a version 1 certificate cannot be an intermediate", () => {
    const v1 = issue(root, { subject: "/CN=V1 CA", version: 1 });
    assert.match(assertInvalid(validate(issue(v1, { subject: "/CN=dev" }), { anchors: [root], intermediates: [v1] }), "basic-constraints", 1).reason, /version 1/);
  });
});

describe("RFC 5280 §6.1.4(l)-(m) pathLenConstraint", () => {
  const top = issue(root, { subject: "/CN=Top CA", ca: { pathLen: 1 } });
  const middle = issue(top, { subject: "/CN=Middle CA", ca: true });
  const bottom = issue(middle, { subject: "/CN=Bottom CA", ca: true });

  test("RFC 5280 §6.1.4(m) pathLen 1 allows one CA below", () => {
    assertValid(validate(issue(middle, { subject: "/CN=dev" }), { anchors: [root], intermediates: [top, middle] }));
  });

  test("RFC 5280 §6.1.4(l) pathLen 1 refuses a second CA below", () => {
    assertInvalid(validate(issue(bottom, { subject: "/CN=dev" }), { anchors: [root], intermediates: [top, middle, bottom] }), "path-length", 1);
  });

  test("RFC 5280 §6.1.4(l) pathLen 0 refuses any CA below", () => {
    const sub = issue(ca, { subject: "/CN=Sub CA", ca: true });
    assertInvalid(validate(issue(sub, { subject: "/CN=dev" }), { anchors: [root], intermediates: [ca, sub] }), "path-length", 1);
  });

  test("RFC 5280 §6.1.4(l) self-issued certificates are not counted: a key rollover certificate under a pathLen 0 CA is allowed", () => {
    const newKeyCa = issue(root, { subject: "/CN=Rolling CA", ca: { pathLen: 0 } });
    const rollover = issue(newKeyCa, { subject: "/CN=Rolling CA", ca: true, key: newKey() }); // old key certifies the new one
    const dev = issue(rollover, { subject: "/CN=dev" });
    const r = assertValid(validate(dev, { anchors: [root], intermediates: [newKeyCa, rollover] }));
    assert.equal(r.path.length, 4);
    assert.match(r.checks.find((c) => c.check === "path-length" && c.index === 1)!.detail, /self-issued/);
  });
});

describe("RFC 5280 §6.1.4(n) keyUsage", () => {
  test("RFC 5280 §6.1.4(n) keyUsage: a CA with keyCertSign, or without keyUsage, may certify (§6.1; the strict profile wants keyUsage, §4.2.1.3)", () => {
    const noKu = issue(root, { subject: "/CN=No KU CA", ca: true, keyUsage: null });
    assertValid(validate(issue(noKu, { subject: "/CN=dev" }), { anchors: [root], intermediates: [noKu], lenient: true }));
    assert.equal(assertInvalid(validate(issue(noKu, { subject: "/CN=dev" }), { anchors: [root], intermediates: [noKu] }), "profile", 1).rfcSection, "4.2.1.3");
  });

  test("RFC 5280 §6.1.4(n) keyUsage: a CA whose keyUsage lacks keyCertSign is refused", () => {
    const crlOnly = issue(root, { subject: "/CN=CRL-only CA", ca: true, keyUsage: ["cRLSign", "digitalSignature"] });
    assertInvalid(validate(issue(crlOnly, { subject: "/CN=dev" }), { anchors: [root], intermediates: [crlOnly] }), "key-usage", 1);
  });
});

describe("RFC 5280 §6.1.4(o), §6.1.5(f), §4.2 extensions", () => {
  const unknown = (critical: boolean) => ({ oid: "1.3.6.1.4.1.99999.1", critical, value: Uint8Array.of(0x05, 0x00) });

  test("RFC 5280 §6.1.4(o) an unrecognised non-critical extension is ignored", () => {
    const i = issue(root, { subject: "/CN=CA", ca: true, extensions: [unknown(false)] });
    assertValid(validate(issue(i, { subject: "/CN=dev", extensions: [unknown(false)] }), { anchors: [root], intermediates: [i] }));
  });

  test("RFC 5280 §6.1.4(o) an unrecognised critical extension in an intermediate is refused", () => {
    const i = issue(root, { subject: "/CN=CA", ca: true, extensions: [unknown(true)] });
    const r = assertInvalid(validate(issue(i, { subject: "/CN=dev" }), { anchors: [root], intermediates: [i] }), "critical-extensions", 1);
    assert.match(r.reason, /1\.3\.6\.1\.4\.1\.99999\.1/);
  });

  test("RFC 5280 §6.1.5(f) an unrecognised critical extension in the target is refused", () => {
    const r = assertInvalid(validate(issue(ca, { subject: "/CN=dev", extensions: [unknown(true)] }), { anchors: [root], intermediates: [ca] }), "critical-extensions", 0);
    assert.equal(r.rfcSection, "6.1.5(f)");
  });

  test("RFC 5280 §4.2 an extension present twice is refused, in a target and in an intermediate", () => {
    const dupLeaf = issue(ca, { subject: "/CN=dev", extensions: [ext.extendedKeyUsage([EKU.clientAuth]), ext.extendedKeyUsage([EKU.serverAuth])] });
    assert.match(assertInvalid(validate(dupLeaf, { anchors: [root], intermediates: [ca] }), "duplicate-extensions", 0).reason, /2\.5\.29\.37/);
    const dupCa = issue(root, { subject: "/CN=Dup CA", ca: true, extensions: [ext.basicConstraints(true)] });
    assertInvalid(validate(issue(dupCa, { subject: "/CN=dev" }), { anchors: [root], intermediates: [dupCa] }), "duplicate-extensions", 1);
  });

  test("RFC 5280 §4.2 an extension whose value does not decode is refused with its OID", () => {
    const broken = issue(ca, { subject: "/CN=dev", extensions: [{ oid: "2.5.29.37", value: Uint8Array.of(0x30, 0x00) }] });
    assert.match(assertInvalid(validate(broken, { anchors: [root], intermediates: [ca] }), "extension-syntax", 0).reason, /2\.5\.29\.37.*empty/);
  });
});

describe("RFC 5280 §4.2.1.12 extendedKeyUsage per purpose", () => {
  const leafWith = (eku: readonly string[] | undefined, keyUsage?: Parameters<typeof issue>[1]["keyUsage"]) =>
    issue(ca, { subject: "/CN=dev", ...(eku ? { eku } : {}), ...(keyUsage !== undefined ? { keyUsage } : {}) });
  const table: { name: string; eku: readonly string[] | undefined; ok: readonly string[]; refused: readonly string[] }[] = [
    { name: "clientAuth only", eku: [EKU.clientAuth], ok: ["any", "client"], refused: ["server", "codesign", "ocsp"] },
    { name: "serverAuth only", eku: [EKU.serverAuth], ok: ["any", "server"], refused: ["client", "codesign", "ocsp"] },
    { name: "codeSigning only", eku: [EKU.codeSigning], ok: ["any", "codesign"], refused: ["client", "server", "ocsp"] },
    { name: "OCSPSigning", eku: [EKU.ocspSigning], ok: ["any", "ocsp"], refused: ["client", "server", "codesign"] },
    { name: "anyExtendedKeyUsage", eku: [EKU.any], ok: ["any", "client", "server", "codesign"], refused: ["ocsp"] },
    { name: "no extendedKeyUsage extension", eku: undefined, ok: ["any", "client", "server", "codesign"], refused: ["ocsp"] },
  ];
  for (const row of table) {
    test(`RFC 5280 §4.2.1.12 a target with ${row.name} serves ${row.ok.join(", ")} and not ${row.refused.join(", ")}`, () => {
      const dev = leafWith(row.eku);
      for (const purpose of row.ok) assertValid(validate(dev, { anchors: [root], intermediates: [ca], purpose: purpose as never }));
      for (const purpose of row.refused) assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], purpose: purpose as never }), "extended-key-usage", 0);
    });
  }

  test("RFC 5280 §4.2.1.12 keyUsage must agree with the purpose: a keyEncipherment-only certificate cannot sign code", () => {
    const dev = leafWith([EKU.codeSigning], ["keyEncipherment"]);
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], purpose: "codesign" }), "extended-key-usage", 0).reason, /keyUsage/);
    assertValid(validate(leafWith([EKU.codeSigning], ["digitalSignature"]), { anchors: [root], intermediates: [ca], purpose: "codesign" }));
  });

  test("RFC 5280 §4.2.1.12 an intermediate's extendedKeyUsage restricts what it certifies (EKU chaining)", () => {
    const tlsCa = issue(root, { subject: "/CN=TLS CA", ca: true, eku: [EKU.serverAuth] });
    const dev = issue(tlsCa, { subject: "/CN=dev", eku: [EKU.clientAuth, EKU.serverAuth] });
    assertValid(validate(dev, { anchors: [root], intermediates: [tlsCa], purpose: "server" }));
    assertValid(validate(dev, { anchors: [root], intermediates: [tlsCa], purpose: "any" }));
    assertInvalid(validate(dev, { anchors: [root], intermediates: [tlsCa], purpose: "client" }), "extended-key-usage", 1);
  });
});

describe("RFC 5280 §6.1 maximum depth", () => {
  const chain = [root];
  for (let i = 0; i < 5; i++) chain.push(issue(chain[chain.length - 1]!, { subject: `/CN=CA ${i}`, ca: true }));
  const deep = issue(chain[chain.length - 1]!, { subject: "/CN=deep leaf" });

  test("RFC 5280 §6.1 maxDepth counts intermediate CAs: a path with 5 validates with maxDepth 5", () => {
    const r = assertValid(validate(deep, { anchors: [root], intermediates: chain.slice(1), maxDepth: 5 }));
    assert.equal(r.path.length, 7);
    assert.equal(r.maxDepth, 5);
  });

  test("RFC 5280 §6.1 a path with more intermediate CAs than maxDepth is refused", () => {
    const r = assertInvalid(validate(deep, { anchors: [root], intermediates: chain.slice(1), maxDepth: 4 }), "max-depth");
    assert.match(r.reason, /maximum depth of 4/);
  });

  test("every check names its RFC 5280 section", () => {
    for (const [check, section] of Object.entries(CHECKS)) assert.match(section, /^\d+(\.\d+)*(\([a-z]\))?/, check);
  });
});
