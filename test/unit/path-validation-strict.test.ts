/**
 * Conformance beyond the §6.1 algorithm: trust anchors given as certificates and their constraints
 * (RFC 5937), the strict profile of RFC 5280 §4 on every certificate (and what `lenient` relaxes),
 * the CRL profile of §5.2.3, the hard parts of name constraints (§4.2.1.10, RFC 6125 wildcards),
 * and maxDepth as max_path_length counts it. Each rule with a passing and a failing case.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PathValidator } from "../../ca/index.js";
import { oid, sequence, tlv } from "../../ca/x509/der.js";
import { crl, DAY, ext, issue, newKey, selfSigned, type CertSpec, type Issued } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, validate, type Setup } from "../helpers/path-validation.js";
import { FIXED_NOW } from "../helpers/pki.js";

const root = selfSigned({ subject: "/O=Acme/CN=Root" });
const ca = issue(root, { subject: "/O=Acme/CN=Device CA", ca: true });
const under = { anchors: [root], intermediates: [ca] };

/** Strict: the profile check fails at `index` under `section`; lenient: the same path is valid. */
function strictOnly(target: Issued, setup: Setup, index: number, section: string): void {
  const r = assertInvalid(validate(target, setup), "profile", index);
  assert.equal(r.rfcSection, section, r.reason);
  assert.equal(r.profile, "strict");
  assert.match(r.reason, /--lenient/);
  const lenient = assertValid(validate(target, { ...setup, lenient: true }));
  assert.equal(lenient.profile, "lenient");
}

const leafUnderCa = (spec: Partial<CertSpec>) => issue(ca, { subject: "/CN=dev", ...spec });

describe("RFC 5937 trust anchors given as certificates bring their constraints", () => {
  test("RFC 5937 §3 / RFC 5280 §6.1.1(d) a current anchor passes; an expired or not yet valid anchor is refused", () => {
    const r = assertValid(validate(leafUnderCa({}), under));
    const anchorChecks = r.checks.filter((c) => c.index === 2).map((c) => c.check);
    for (const name of ["anchor-validity", "anchor-basic-constraints", "anchor-key-usage", "anchor-critical-extensions", "anchor-constraints", "profile"]) assert.ok(anchorChecks.includes(name as never), name);
    const oldRoot = selfSigned({ subject: "/CN=Old Root", notBefore: new Date(FIXED_NOW.getTime() - 400 * DAY), notAfter: new Date(FIXED_NOW.getTime() - DAY) });
    const oldCa = issue(oldRoot, { subject: "/CN=CA", ca: true });
    assert.match(assertInvalid(validate(issue(oldCa, { subject: "/CN=dev" }), { anchors: [oldRoot], intermediates: [oldCa] }), "anchor-validity", 2).reason, /trust anchor expired/);
    const futureRoot = selfSigned({ subject: "/CN=Future Root", notBefore: new Date(FIXED_NOW.getTime() + DAY) });
    assertInvalid(validate(issue(futureRoot, { subject: "/CN=dev" }), { anchors: [futureRoot] }), "anchor-validity", 1);
  });

  test("RFC 5937 §3 the anchor's name constraints bind every certificate below it: SAN and subject DN", () => {
    const ncRoot = selfSigned({ subject: "/O=Acme/CN=NC Root", nameConstraints: { permitted: [{ dns: "example.com" }, { dn: "/O=Acme" }] } });
    const ncCa = issue(ncRoot, { subject: "/O=Acme/CN=NC CA", ca: true });
    const setup = { anchors: [ncRoot], intermediates: [ncCa] };
    assertValid(validate(issue(ncCa, { subject: "/O=Acme/CN=dev", san: [{ dns: "dev.example.com" }] }), setup));
    assertInvalid(validate(issue(ncCa, { subject: "/O=Acme/CN=dev", san: [{ dns: "dev.example.org" }] }), setup), "name-constraints", 0);
    assertInvalid(validate(issue(ncCa, { subject: "/O=Other/CN=dev" }), setup), "name-constraints", 0);
    const strayCa = issue(ncRoot, { subject: "/O=Stray/CN=CA", ca: true });
    assertInvalid(validate(issue(strayCa, { subject: "/O=Acme/CN=dev" }), { anchors: [ncRoot], intermediates: [strayCa] }), "name-constraints", 1);
  });

  test("RFC 5937 §3 the anchor must be a CA: cA FALSE or no basicConstraints is refused", () => {
    const notCa = selfSigned({ subject: "/CN=Not CA Root", ca: false });
    assertInvalid(validate(issue(notCa, { subject: "/CN=dev" }), { anchors: [notCa] }), "anchor-basic-constraints", 1);
    const noBc = selfSigned({ subject: "/CN=No BC Root", noBasicConstraints: true });
    assertInvalid(validate(issue(noBc, { subject: "/CN=dev" }), { anchors: [noBc], lenient: true }), "anchor-basic-constraints", 1);
  });

  test("RFC 5937 §3 the anchor's keyUsage must allow keyCertSign", () => {
    const crlOnly = selfSigned({ subject: "/CN=CRL Root", keyUsage: ["cRLSign", "digitalSignature"] });
    assertInvalid(validate(issue(crlOnly, { subject: "/CN=dev" }), { anchors: [crlOnly], lenient: true }), "anchor-key-usage", 1);
  });

  test("RFC 5937 §3 an anchor with an unknown critical extension is refused; a non-critical one is ignored", () => {
    const unknown = (critical: boolean) => ({ oid: "1.3.6.1.4.1.99999.7", critical, value: Uint8Array.of(0x05, 0x00) });
    const bad = selfSigned({ subject: "/CN=Odd Root", extensions: [unknown(true)] });
    assert.match(assertInvalid(validate(issue(bad, { subject: "/CN=dev" }), { anchors: [bad] }), "anchor-critical-extensions", 1).reason, /99999/);
    const fine = selfSigned({ subject: "/CN=Odd Root", extensions: [unknown(false)] });
    assertValid(validate(issue(fine, { subject: "/CN=dev" }), { anchors: [fine] }));
  });

  test("RFC 5937 §3 / RFC 5280 §6.1.4(m) the anchor's pathLenConstraint counts: pathLen 0 allows no intermediate CA", () => {
    const tight = selfSigned({ subject: "/CN=Tight Root", ca: { pathLen: 0 } });
    const sub = issue(tight, { subject: "/CN=Sub CA", ca: true });
    assertValid(validate(issue(tight, { subject: "/CN=dev" }), { anchors: [tight] }));
    assertInvalid(validate(issue(sub, { subject: "/CN=dev" }), { anchors: [tight], intermediates: [sub] }), "path-length", 1);
    const rollover = issue(tight, { subject: "/CN=Tight Root", ca: true, key: newKey() });
    assertValid(validate(issue(rollover, { subject: "/CN=dev" }), { anchors: [tight], intermediates: [rollover] }));
  });
});

describe("RFC 5280 §4 the strict profile on every certificate (lenient relaxes it)", () => {
  test("RFC 5280 §4.1.2.2 serial numbers: positive, non-zero, at most 20 octets", () => {
    assertValid(validate(leafUnderCa({ serial: 2n ** 158n }), under)); // 20 octets
    strictOnly(leafUnderCa({ serial: 0n }), under, 0, "4.1.2.2");
    strictOnly(leafUnderCa({ rawSerial: Uint8Array.of(0xff, 0x01) }), under, 0, "4.1.2.2");
    strictOnly(leafUnderCa({ serial: 2n ** 160n }), under, 0, "4.1.2.2"); // 21 octets
  });

  test("RFC 5280 §4.1.2.5 validity dates through 2049 are UTCTime, from 2050 GeneralizedTime", () => {
    strictOnly(leafUnderCa({ generalizedTime: true }), under, 0, "4.1.2.5");
    const longRoot = selfSigned({ subject: "/CN=Long Root", notAfter: new Date("2070-01-01T00:00:00Z") });
    assertValid(validate(issue(longRoot, { subject: "/CN=dev", notAfter: new Date("2060-01-01T00:00:00Z") }), { anchors: [longRoot] }));
  });

  test("RFC 5280 §4.2.1.1 authorityKeyIdentifier: required unless self-signed, never critical", () => {
    strictOnly(leafUnderCa({ noKeyIdentifiers: true }), under, 0, "4.2.1.1");
    strictOnly(leafUnderCa({ noKeyIdentifiers: true, extensions: [{ ...ext.authorityKeyIdentifier(ca.key.spki), critical: true }] }), under, 0, "4.2.1.1");
    assertValid(validate(leafUnderCa({ noKeyIdentifiers: true, extensions: [ext.authorityKeyIdentifier(ca.key.spki)] }), under));
    const bareRoot = selfSigned({ subject: "/CN=Bare Root", noKeyIdentifiers: true, extensions: [] });
    const withSki = selfSigned({ subject: "/CN=SKI Root", noKeyIdentifiers: true, extensions: [ext.subjectKeyIdentifier(bareRoot.key.spki)], key: bareRoot.key });
    assertValid(validate(issue(withSki, { subject: "/CN=dev" }), { anchors: [withSki] }));
  });

  test("RFC 5280 §4.2.1.2 subjectKeyIdentifier: required on CA certificates, never critical", () => {
    const key = newKey();
    const noSki = issue(root, { subject: "/CN=No SKI CA", key, ca: true, noKeyIdentifiers: true, extensions: [ext.authorityKeyIdentifier(root.key.spki)] });
    strictOnly(issue(noSki, { subject: "/CN=dev" }), { anchors: [root], intermediates: [noSki] }, 1, "4.2.1.2");
    const criticalSki = leafUnderCa({ noKeyIdentifiers: true, extensions: [ext.authorityKeyIdentifier(ca.key.spki), { ...ext.subjectKeyIdentifier(newKey().spki), critical: true }] });
    strictOnly(criticalSki, under, 0, "4.2.1.2");
  });

  test("RFC 5280 §4.2.1.9 basicConstraints: critical on CA certificates", () => {
    const soft = issue(root, { subject: "/CN=Soft CA", ca: true, noBasicConstraints: true, extensions: [ext.basicConstraints(true, undefined, false)] });
    strictOnly(issue(soft, { subject: "/CN=dev" }), { anchors: [root], intermediates: [soft] }, 1, "4.2.1.9");
  });

  test("RFC 5280 §4.2.1.3 / §4.2.1.9 keyUsage agrees with basicConstraints: keyCertSign only with cA TRUE, cA TRUE needs keyCertSign", () => {
    strictOnly(leafUnderCa({ keyUsage: ["digitalSignature", "keyCertSign"] }), under, 0, "4.2.1.3");
    strictOnly(issue(ca, { subject: "/CN=Sub CA as target", ca: true, keyUsage: ["digitalSignature"] }), under, 0, "4.2.1.9");
    strictOnly(leafUnderCa({ extensions: [ext.basicConstraints(false, 0)] }), under, 0, "4.2.1.9");
    assertValid(validate(issue(ca, { subject: "/CN=Sub CA as target", ca: true }), under));
  });

  test("RFC 5280 §4.2.1.10 nameConstraints only in CA certificates, and critical", () => {
    strictOnly(leafUnderCa({ san: [{ dns: "a.example.com" }], nameConstraints: { permitted: [{ dns: "example.com" }] } }), under, 0, "4.2.1.10");
    const soft = issue(root, { subject: "/CN=Soft NC CA", ca: true, extensions: [ext.nameConstraints({ permitted: [{ dns: "example.com" }] }, false)] });
    strictOnly(issue(soft, { subject: "/CN=dev", san: [{ dns: "a.example.com" }] }), { anchors: [root], intermediates: [soft] }, 1, "4.2.1.10");
  });

  test("RFC 5280 §4.2.1.11 policyConstraints must be critical", () => {
    const soft = issue(root, { subject: "/CN=Soft PC CA", ca: true, extensions: [ext.policyConstraints({ inhibitPolicyMapping: 5 }, false)] });
    strictOnly(issue(soft, { subject: "/CN=dev" }), { anchors: [root], intermediates: [soft] }, 1, "4.2.1.11");
    const hard = issue(root, { subject: "/CN=PC CA", ca: true, policyConstraints: { inhibitPolicyMapping: 5 } });
    assertValid(validate(issue(hard, { subject: "/CN=dev" }), { anchors: [root], intermediates: [hard] }));
  });

  test("RFC 5280 §4.2.1.6 an empty subject needs a critical subjectAltName; §4.1.2.6 a CA needs a subject", () => {
    assertValid(validate(leafUnderCa({ subject: "", san: [{ dns: "dev.example.com" }] }), under));
    strictOnly(leafUnderCa({ subject: "", extensions: [ext.subjectAltName([{ dns: "dev.example.com" }], false)] }), under, 0, "4.2.1.6");
    strictOnly(issue(ca, { subject: "", ca: true, san: [{ dns: "ca.example.com" }] }), under, 0, "4.1.2.6");
  });

  test("RFC 5280 §4.2.1.6 dNSName in the preferred name syntax: no underscore, no leading dot, no IP text; wildcards allowed", () => {
    for (const dns of ["dev.example.com", "*.example.com", "xn--bcher-kva.example", "a-b.example.com"]) assertValid(validate(leafUnderCa({ san: [{ dns }] }), under));
    for (const dns of ["dev_1.example.com", ".example.com", "10.1.2.3", "-dev.example.com", "a..example.com", "*.com", "dev.*.example.com"]) strictOnly(leafUnderCa({ san: [{ dns }] }), under, 0, "4.2.1.6");
  });

  test("RFC 5280 §4.2.1.6 rfc822Name is a Mailbox, and a URI has a scheme", () => {
    assertValid(validate(leafUnderCa({ san: [{ email: "ops@example.com" }, { uri: "https://example.com/x" }] }), under));
    for (const email of ["Ops <ops@example.com>", "ops", "ops@", "ops@bad_host.example"]) strictOnly(leafUnderCa({ san: [{ email }] }), under, 0, "4.2.1.6");
    strictOnly(leafUnderCa({ san: [{ uri: "//example.com/relative" }] }), under, 0, "4.2.1.6");
  });

  test("RFC 5280 §4.2.1.6 / §4.2.1.10 iPAddress is 4 or 16 bytes, and twice that in name constraints (refused even when lenient)", () => {
    const fiveBytes = tlv(0x87, Uint8Array.of(10, 0, 0, 1, 0));
    for (const lenient of [false, true]) {
      assertInvalid(validate(leafUnderCa({ san: [{ otherName: fiveBytes }] }), { ...under, lenient }), "extension-syntax", 0);
      const badNc = issue(root, { subject: "/CN=Bad NC", ca: true, extensions: [ext.nameConstraints({ permitted: [{ ip: "10.0.0.1" }] })] });
      assertInvalid(validate(issue(badNc, { subject: "/CN=dev" }), { anchors: [root], intermediates: [badNc], lenient }), "extension-syntax", 1);
    }
    assertValid(validate(leafUnderCa({ san: [{ ip: "10.0.0.1" }, { ip: "2001:db8::1" }] }), under));
  });

  test("RFC 5280 §4.2.2.1 authorityInfoAccess must not be critical", () => {
    const aia = (critical: boolean) => ({ oid: "1.3.6.1.5.5.7.1.1", critical, value: sequence(sequence(oid("1.3.6.1.5.5.7.48.1"), tlv(0x86, new Uint8Array(Buffer.from("http://ocsp.example.com"))))) });
    assertValid(validate(leafUnderCa({ extensions: [aia(false)] }), under));
    strictOnly(leafUnderCa({ extensions: [aia(true)] }), under, 0, "4.2.2.1");
  });

  test("RFC 5280 §4 the profile is checked on the trust anchor too", () => {
    const softRoot = selfSigned({ subject: "/CN=Soft Root", noBasicConstraints: true, extensions: [ext.basicConstraints(true, undefined, false)] });
    strictOnly(issue(softRoot, { subject: "/CN=dev" }), { anchors: [softRoot] }, 1, "4.2.1.9");
  });

  test("RFC 5280 §4 a §6.1 failure is reported before a profile defect of the same certificate", () => {
    const notCa = issue(root, { subject: "/CN=Not a CA", ca: false, keyUsage: ["keyCertSign"] });
    assertInvalid(validate(issue(notCa, { subject: "/CN=dev" }), { anchors: [root], intermediates: [notCa] }), "basic-constraints", 1);
  });
});

describe("RFC 5280 §5.2.3 the CRL profile: cRLNumber present and non-critical", () => {
  const revocation = "require" as const;
  test("RFC 5280 §5.2.3 a CRL without a cRLNumber cannot prove 'not revoked' (lenient accepts it)", () => {
    const setup = { ...under, crls: [crl(root, {}), crl(ca, { noNumber: true })], revocation };
    assert.match(assertInvalid(validate(leafUnderCa({}), setup), "revocation", 0).reason, /no cRLNumber/);
    assertValid(validate(leafUnderCa({}), { ...setup, lenient: true }));
    assertValid(validate(leafUnderCa({}), { ...under, crls: [crl(root, {}), crl(ca, { number: 9 })], revocation }));
  });

  test("RFC 5280 §5.2.3 a CRL whose cRLNumber is critical is refused as evidence", () => {
    const setup = { ...under, crls: [crl(root, {}), crl(ca, { numberCritical: true })], revocation };
    assert.match(assertInvalid(validate(leafUnderCa({}), setup), "revocation", 0).reason, /cRLNumber extension is marked critical/);
    assertValid(validate(leafUnderCa({}), { ...setup, lenient: true }));
  });
});

describe("RFC 5280 §4.2.1.10 name constraints, the hard parts", () => {
  const constrained = (nc: CertSpec["nameConstraints"]) => issue(root, { subject: "/O=Acme/CN=NC CA", ca: true, nameConstraints: nc! });
  const check = (nc: CertSpec["nameConstraints"], spec: Partial<CertSpec>, lenient = false) => {
    const c = constrained(nc);
    return validate(issue(c, { subject: "/O=Acme/CN=dev", ...spec }), { anchors: [root], intermediates: [c], lenient });
  };

  test("RFC 5280 §4.2.1.10 a malformed dNSName or rfc822Name never satisfies a permitted subtree, even when lenient", () => {
    assertValid(check({ permitted: [{ dns: "example.com" }] }, { san: [{ dns: "dev.example.com" }] }));
    assertInvalid(check({ permitted: [{ dns: "example.com" }] }, { san: [{ dns: "dev_1.example.com" }] }, true), "name-constraints", 0);
    assertInvalid(check({ permitted: [{ dns: "example.com" }] }, { san: [{ dns: "a..example.com" }] }, true), "name-constraints", 0);
    assertInvalid(check({ permitted: [{ email: "example.com" }] }, { san: [{ email: "Ops <ops@example.com>" }] }, true), "name-constraints", 0);
  });

  test("RFC 6125 §6.4.3 / RFC 5280 §4.2.1.10 a wildcard is the set of names it stands for: any excluded member refuses it", () => {
    assertInvalid(check({ excluded: [{ dns: "bar.example.com" }] }, { san: [{ dns: "*.example.com" }] }), "name-constraints", 0);
    assertInvalid(check({ excluded: [{ dns: "example.com" }] }, { san: [{ dns: "*.example.com" }] }), "name-constraints", 0);
    assertValid(check({ excluded: [{ dns: "bar.example.com" }] }, { san: [{ dns: "*.foo.example.com" }] }));
    assertValid(check({ excluded: [{ dns: "x.bar.example.com" }] }, { san: [{ dns: "*.example.com" }] }));
    assertValid(check({ permitted: [{ dns: "example.com" }] }, { san: [{ dns: "*.example.com" }] }));
    assertInvalid(check({ permitted: [{ dns: "foo.example.com" }] }, { san: [{ dns: "*.example.com" }] }), "name-constraints", 0);
  });

  test("RFC 5280 §4.2.1.10 IP constraints of another length never match: not permitted, not excluded", () => {
    assertInvalid(check({ permitted: [{ ip: "2001:db8::/32" }] }, { san: [{ ip: "32.1.13.184" }] }), "name-constraints", 0);
    assertValid(check({ excluded: [{ ip: "10.0.0.0/8" }] }, { san: [{ ip: "a00::1" }] }));
    assertInvalid(check({ excluded: [{ ip: "10.0.0.0/8" }] }, { san: [{ ip: "10.9.9.9" }] }), "name-constraints", 0);
  });
});

describe("RFC 5280 §6.1 maxDepth counts intermediate CA certificates (max_path_length)", () => {
  test("RFC 5280 §6.1 maxDepth 0: the anchor must sign the target directly", () => {
    const r = assertValid(validate(issue(root, { subject: "/CN=dev" }), { anchors: [root], maxDepth: 0 }));
    assert.equal(r.maxDepth, 0);
    assert.match(r.checks.find((c) => c.check === "max-depth")!.detail, /0 intermediate/);
    assert.match(assertInvalid(validate(leafUnderCa({}), { ...under, maxDepth: 0 }), "max-depth").reason, /maximum depth of 0/);
    assertValid(validate(leafUnderCa({}), { ...under, maxDepth: 1 }));
  });

  test("RFC 5280 §6.1.4(l) self-issued intermediates are not counted against maxDepth", () => {
    const rollover = issue(ca, { subject: "/O=Acme/CN=Device CA", ca: true, key: newKey() });
    const r = assertValid(validate(issue(rollover, { subject: "/CN=dev" }), { anchors: [root], intermediates: [ca, rollover], maxDepth: 1 }));
    assert.equal(r.path.length, 4);
  });

  test("RFC 5280 §6.1 any non-negative maxDepth is accepted (255 included); the default is 10", () => {
    assert.equal(assertValid(validate(leafUnderCa({}), { ...under, maxDepth: 255 })).maxDepth, 255);
    assert.equal(assertValid(validate(leafUnderCa({}), under)).maxDepth, 10);
  });

  test("RFC 5280 §6.1 a PathValidator takes lenient and maxDepth as defaults; a call may override them", () => {
    const validator = new PathValidator({ trustAnchors: [root.der], intermediates: [ca.der], lenient: true, maxDepth: 0 });
    const noAki = leafUnderCa({ noKeyIdentifiers: true });
    assertInvalid(validator.validate(noAki.der, { time: FIXED_NOW }), "max-depth");
    assert.equal(assertValid(validator.validate(noAki.der, { time: FIXED_NOW, maxDepth: 1 })).profile, "lenient");
    assertInvalid(validator.validate(noAki.der, { time: FIXED_NOW, maxDepth: 1, lenient: false }), "profile", 0);
    assert.throws(() => new PathValidator({ trustAnchors: [root.der], maxDepth: -1 }), /maxDepth/);
  });
});
