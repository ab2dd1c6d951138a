/**
 * Revocation from CRLs: RFC 5280 §6.1.3(a)(3) with the CRL checks of §6.3.3 (issuer, signer and
 * cRLSign, authority key identifier, currency at the validation time, scope, reasons, delta CRLs),
 * and the three modes: require, if-available, off.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { crlViewFromDer, isTrustlineError, validatePath, type CrlView } from "../../ca/index.js";
import { crl, DAY, issue, newKey, selfSigned, type CrlSpec } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, validate } from "../helpers/path-validation.js";
import { FIXED_NOW } from "../helpers/pki.js";

const root = selfSigned({ subject: "/O=Acme/CN=Root" });
const ca = issue(root, { subject: "/O=Acme/CN=Device CA", ca: true, serial: 7n });
const dev = issue(ca, { subject: "/CN=dev-0001", serial: 42n });
const at = (days: number) => new Date(FIXED_NOW.getTime() + days * DAY);

const rootCrl = crl(root, {});
const caCrl = crl(ca, {});
const revokedDev = crl(ca, { number: 2, revoked: [{ serial: 42n, reason: "keyCompromise", date: at(-2) }] });

describe("RFC 5280 §6.1.3(a)(3) revocation", () => {
  test("RFC 5280 §6.1.3(a)(3) with current CRLs for every certificate and none listing them, the path is valid", () => {
    const r = assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, caCrl], revocation: "require" }));
    assert.deepEqual(r.checks.filter((c) => c.check === "revocation").map((c) => c.detail.startsWith("not revoked")), [true, true]);
  });

  test("RFC 5280 §6.1.3(a)(3) a revoked target is refused with the date and reason", () => {
    const r = assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, revokedDev], revocation: "require" }), "revocation", 0);
    assert.deepEqual(r.revoked, { revocationDate: at(-2).toISOString(), reason: "keyCompromise" });
    assert.match(r.reason, /revoked on .* \(keyCompromise\)/);
  });

  test("RFC 5280 §6.1.3(a)(3) a revoked intermediate is refused", () => {
    const revokedCa = crl(root, { revoked: [{ serial: 7n, reason: "cACompromise" }] });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [revokedCa, caCrl], revocation: "if-available" }), "revocation", 1);
  });

  test("revocation modes: require fails without a CRL, if-available checks only what it has, off checks nothing", () => {
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [caCrl], revocation: "require" }), "revocation", 1).reason, /no current CRL/);
    const partial = assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [caCrl], revocation: "if-available" }));
    assert.match(partial.checks.find((c) => c.check === "revocation" && c.index === 1)!.detail, /not checked/);
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [revokedDev], revocation: "if-available" }), "revocation", 0);
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [revokedDev], revocation: "off" }));
  });

  test("RFC 5280 §6.3.3(a) a CRL is current from thisUpdate to nextUpdate: an expired or future CRL does not count", () => {
    const expired = crl(ca, { thisUpdate: at(-10), nextUpdate: at(-1) });
    const future = crl(ca, { thisUpdate: at(1), nextUpdate: at(8) });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, expired], revocation: "require" }), "revocation", 0).reason, /expired at its nextUpdate/);
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, future], revocation: "require" }), "revocation", 0).reason, /issued after the validation time/);
    const olderRootCrl = crl(root, { thisUpdate: at(-10), nextUpdate: at(-1) });
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [olderRootCrl, expired], revocation: "require", time: at(-5) }));
  });

  test("an authentic CRL past its nextUpdate still proves a revocation (a revocation does not expire)", () => {
    const staleRevoked = crl(ca, { thisUpdate: at(-10), nextUpdate: at(-1), revoked: [{ serial: 42n, reason: "superseded" }] });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [staleRevoked], revocation: "if-available" }), "revocation", 0);
  });

  test("RFC 5280 §6.3.3(g) a newer CRL releases a certificateHold; a hold listed in the current CRL counts", () => {
    const hold = crl(ca, { number: 5, revoked: [{ serial: 42n, reason: "certificateHold" }] });
    const released = crl(ca, { number: 6 });
    assert.equal(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, hold], revocation: "require" }), "revocation").revoked?.reason, "certificateHold");
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, hold, released], revocation: "require" }));
  });
});

describe("RFC 5280 §6.3.3(f) who may sign a CRL", () => {
  test("RFC 5280 §6.3.3(f) a CRL whose signature does not verify is not used", () => {
    const forged = crl(ca, { revoked: [{ serial: 42n }], corruptSignature: true });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, forged], revocation: "require" }), "revocation", 0).reason, /signature does not verify/);
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [forged], revocation: "if-available" }));
  });

  test("RFC 5280 §6.3.3(f) a CRL from an issuer whose keyUsage lacks cRLSign is not used", () => {
    const noCrlSign = issue(root, { subject: "/CN=No cRLSign CA", ca: true, keyUsage: ["keyCertSign"] });
    const leaf = issue(noCrlSign, { subject: "/CN=dev" });
    const r = assertInvalid(validate(leaf, { anchors: [root], intermediates: [noCrlSign], crls: [rootCrl, crl(noCrlSign, {})], revocation: "require" }), "revocation", 0);
    assert.match(r.reason, /cRLSign/);
  });

  test("RFC 5280 §6.3.3(f) a separate CRL signing key: a certificate with the CA's name, issued by the same root, signs valid CRLs", () => {
    const crlSigner = issue(root, { subject: "/O=Acme/CN=Device CA", key: newKey(), ca: false, keyUsage: ["cRLSign"] });
    const separate = crl(ca, { signer: crlSigner, revoked: [{ serial: 99n }] });
    assertValid(validate(dev, { anchors: [root], intermediates: [ca, crlSigner], crls: [rootCrl, separate], revocation: "require" }));
    const revokedBySeparate = crl(ca, { signer: crlSigner, revoked: [{ serial: 42n, reason: "keyCompromise" }] });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca, crlSigner], crls: [rootCrl, revokedBySeparate], revocation: "require" }), "revocation", 0);
  });

  test("RFC 5280 §6.3.3(f) a separate CRL signer must itself validate: revoked, or under another root, it is not trusted", () => {
    const crlSigner = issue(root, { subject: "/O=Acme/CN=Device CA", key: newKey(), ca: false, keyUsage: ["cRLSign"], serial: 555n });
    const separate = crl(ca, { signer: crlSigner });
    const signerRevoked = crl(root, { revoked: [{ serial: 555n, reason: "keyCompromise" }] });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca, crlSigner], crls: [signerRevoked, separate], revocation: "require" }), "revocation", 0).reason, /does not validate/);
    const otherRoot = selfSigned({ subject: "/CN=Other Root" });
    const stranger = issue(otherRoot, { subject: "/O=Acme/CN=Device CA", key: newKey(), ca: false, keyUsage: ["cRLSign"] });
    const strangeCrl = crl(ca, { signer: stranger });
    assertInvalid(validate(dev, { anchors: [root, otherRoot], intermediates: [ca, stranger], crls: [rootCrl, strangeCrl], revocation: "require" }), "revocation", 0);
  });

  test("adversarial: 100 forged CRL signers with the CA's name and their CRLs end quickly, unused", () => {
    const strangers = Array.from({ length: 100 }, () => issue(selfSigned({ subject: "/CN=Nobody" }), { subject: "/O=Acme/CN=Device CA", key: newKey(), ca: false, keyUsage: ["cRLSign"] }));
    const forgedCrls = strangers.map((s) => crl(ca, { signer: s, revoked: [{ serial: 42n }] }));
    const start = performance.now();
    const r = validate(dev, { anchors: [root], intermediates: [ca, ...strangers], crls: [rootCrl, ...forgedCrls, caCrl], revocation: "require" });
    assertValid(r);
    assert.ok(performance.now() - start < 3000, `took ${performance.now() - start} ms`);
  });

  test("RFC 5280 §5.2.1 the CRL's authorityKeyIdentifier selects the key after a CA key rollover", () => {
    const oldKey = newKey();
    const newKeyPair = newKey();
    const caOld = issue(root, { subject: "/CN=Rolled CA", key: oldKey, ca: true });
    const caNew = issue(root, { subject: "/CN=Rolled CA", key: newKeyPair, ca: true });
    const oldLeaf = issue(caOld, { subject: "/CN=old device", serial: 1n });
    const crlByNew = crl(caNew, { revoked: [{ serial: 1n }] });
    const crlByOld = crl(caOld, {});
    // The certificate was issued under the old key; the CRL by the new key (same name) covers it too.
    assertInvalid(validate(oldLeaf, { anchors: [root], intermediates: [caOld, caNew], crls: [rootCrl, crlByNew], revocation: "require" }), "revocation", 0);
    assertValid(validate(oldLeaf, { anchors: [root], intermediates: [caOld, caNew], crls: [rootCrl, crlByOld], revocation: "require" }));
  });
});

describe("RFC 5280 §5.2.5 and §6.3.3(b) CRL scope", () => {
  test("RFC 5280 §5.2.5 onlyContainsUserCerts covers end entities, not CAs; onlyContainsCACerts the reverse", () => {
    const userOnly = crl(root, { idp: { onlyUser: true } });
    const caOnly = crl(root, { idp: { onlyCa: true } });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [userOnly, caCrl], revocation: "require" }), "revocation", 1);
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [caOnly, caCrl], revocation: "require" }));
  });

  test("RFC 5280 §6.3.3(d) onlySomeReasons partitions cover a certificate only together", () => {
    const keyCompromise = crl(ca, { number: 3, idp: { onlySomeReasons: ["keyCompromise", "cACompromise"] } });
    const rest = crl(ca, { number: 4, idp: { onlySomeReasons: ["affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "aACompromise"] } });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, keyCompromise], revocation: "require" }), "revocation", 0).reason, /only some revocation reasons/);
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, keyCompromise, rest], revocation: "require" }));
  });

  test("RFC 5280 §6.3.3(b)(2)(i) a partitioned CRL covers only the certificates naming its distribution point", () => {
    const partitioned = issue(ca, { subject: "/CN=dev-p", crlDistributionPoints: ["http://pki.test/ca-1.crl"] });
    const part1 = crl(ca, { idp: { uri: "http://pki.test/ca-1.crl" } });
    const part2 = crl(ca, { idp: { uri: "http://pki.test/ca-2.crl" } });
    assertValid(validate(partitioned, { anchors: [root], intermediates: [ca], crls: [rootCrl, part1], revocation: "require" }));
    assert.match(assertInvalid(validate(partitioned, { anchors: [root], intermediates: [ca], crls: [rootCrl, part2], revocation: "require" }), "revocation", 0).reason, /distribution point/);
  });

  test("RFC 5280 §6.3.3(d) a distribution point's reasons limit what a CRL through it covers", () => {
    const split = issue(ca, {
      subject: "/CN=dev-r",
      crlDistributionPoints: [
        { uri: "http://pki.test/compromise.crl", reasons: ["keyCompromise", "cACompromise"] },
        { uri: "http://pki.test/routine.crl", reasons: ["affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "aACompromise"] },
      ],
    });
    const compromise = crl(ca, { number: 30, idp: { uri: "http://pki.test/compromise.crl" } });
    const routine = crl(ca, { number: 31, idp: { uri: "http://pki.test/routine.crl" } });
    assert.match(assertInvalid(validate(split, { anchors: [root], intermediates: [ca], crls: [rootCrl, compromise], revocation: "require" }), "revocation", 0).reason, /only some revocation reasons/);
    assertValid(validate(split, { anchors: [root], intermediates: [ca], crls: [rootCrl, compromise, routine], revocation: "require" }));
  });
});

describe("RFC 5280 §5.2.5 and §5.3.3 indirect CRLs", () => {
  const authority = issue(root, { subject: "/O=Acme/CN=CRL Authority", ca: false, keyUsage: ["cRLSign"] });
  const delegated = issue(ca, { subject: "/CN=dev-d", serial: 77n, crlDistributionPoints: [{ uri: "http://pki.test/indirect.crl", crlIssuer: "/O=Acme/CN=CRL Authority" }] });
  const otherCa = issue(root, { subject: "/O=Acme/CN=Other CA", ca: true });
  const indirect = (revoked: CrlSpec["revoked"]) => crl(authority, { idp: { uri: "http://pki.test/indirect.crl", indirect: true }, ...(revoked ? { revoked } : {}) });

  test("RFC 5280 §6.3.3(b)(1) an indirect CRL from the cRLIssuer a certificate names covers it", () => {
    assertValid(validate(delegated, { anchors: [root], intermediates: [ca, authority], crls: [rootCrl, indirect([])], revocation: "require" }));
  });

  test("RFC 5280 §5.3.3 an indirect CRL revokes the certificate whose issuer its certificateIssuer entry names, not another CA's with the same serial", () => {
    const listed = indirect([{ serial: 77n, reason: "keyCompromise", certificateIssuer: ca.name }]);
    assertInvalid(validate(delegated, { anchors: [root], intermediates: [ca, authority], crls: [rootCrl, listed], revocation: "require" }), "revocation", 0);
    const othersOnly = indirect([{ serial: 77n, reason: "keyCompromise", certificateIssuer: otherCa.name }]);
    assertValid(validate(delegated, { anchors: [root], intermediates: [ca, authority], crls: [rootCrl, othersOnly], revocation: "require" }));
  });

  test("RFC 5280 §6.3.3(b)(1) a CRL from the named cRLIssuer that is not indirect, or the issuer's own CRL, does not cover the certificate", () => {
    const notIndirect = crl(authority, { idp: { uri: "http://pki.test/indirect.crl" } });
    assert.match(assertInvalid(validate(delegated, { anchors: [root], intermediates: [ca, authority], crls: [rootCrl, notIndirect], revocation: "require" }), "revocation", 0).reason, /not indirect/);
    assertInvalid(validate(delegated, { anchors: [root], intermediates: [ca, authority], crls: [rootCrl, caCrl], revocation: "require" }), "revocation", 0);
  });

  test("RFC 5280 §6.3.3(f) the indirect CRL's issuer must validate to the same trust anchor", () => {
    const stray = selfSigned({ subject: "/O=Acme/CN=CRL Authority" });
    const strayCrl = crl(stray, { idp: { uri: "http://pki.test/indirect.crl", indirect: true } });
    assertInvalid(validate(delegated, { anchors: [root], intermediates: [ca, stray], crls: [rootCrl, strayCrl], revocation: "require" }), "revocation", 0);
  });

  test("RFC 5280 §5.3.3 a certificateIssuer entry in a CRL that is not indirect makes the CRL unusable", () => {
    const odd = crl(ca, { revoked: [{ serial: 5n, certificateIssuer: otherCa.name }] });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, odd], revocation: "require" }), "revocation", 0).reason, /not indirect/);
  });
});

describe("RFC 5280 §5.2 CRL extensions", () => {
  test("RFC 5280 §5.2 a CRL with an unrecognised critical extension is not used", () => {
    const odd = crl(ca, { extensions: [{ oid: "1.3.6.1.4.1.99999.7", critical: true, value: Uint8Array.of(0x05, 0x00) }] });
    assert.match(assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, odd], revocation: "require" }), "revocation", 0).reason, /unsupported critical/);
  });

  test("RFC 5280 §6.1.3(a)(1) a CRL signed with SHA-1 is not used", () => {
    const rsaCa = issue(root, { subject: "/CN=RSA CA", ca: true, key: newKey("rsa2048") });
    const leaf = issue(rsaCa, { subject: "/CN=dev" });
    const sha1 = crl(rsaCa, { signatureAlg: "rsa-sha1" });
    assert.match(assertInvalid(validate(leaf, { anchors: [root], intermediates: [rsaCa], crls: [rootCrl, sha1], revocation: "require" }), "revocation", 0).reason, /SHA-1/);
    assertValid(validate(leaf, { anchors: [root], intermediates: [rsaCa], crls: [rootCrl, crl(rsaCa, { signatureAlg: "rsa-sha256" })], revocation: "require" }));
  });
});

describe("RFC 5280 §5.2.4 delta CRLs", () => {
  test("RFC 5280 §5.2.4 a delta CRL on the current base adds revocations", () => {
    const base = crl(ca, { number: 10 });
    const delta = crl(ca, { number: 11, deltaBase: 10, revoked: [{ serial: 42n, reason: "keyCompromise" }] });
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, base], revocation: "require" }));
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, base, delta], revocation: "require" }), "revocation", 0);
  });

  test("RFC 5280 §5.2.4 a delta CRL alone is not a complete CRL, and a delta on a newer base than the CRL held is ignored", () => {
    const delta = crl(ca, { number: 11, deltaBase: 10 });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, delta], revocation: "require" }), "revocation", 0);
    const oldBase = crl(ca, { number: 8 });
    const revokingDelta = crl(ca, { number: 11, deltaBase: 10, revoked: [{ serial: 42n }] });
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, oldBase, revokingDelta], revocation: "require" }));
  });

  test("RFC 5280 §5.3.1 removeFromCRL in a delta releases a hold in the base", () => {
    const base = crl(ca, { number: 20, revoked: [{ serial: 42n, reason: "certificateHold" }] });
    const delta = crl(ca, { number: 21, deltaBase: 20, revoked: [{ serial: 42n, reason: "removeFromCRL" }] });
    assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, base], revocation: "require" }), "revocation", 0);
    assertValid(validate(dev, { anchors: [root], intermediates: [ca], crls: [rootCrl, base, delta], revocation: "require" }));
  });
});

describe("the CrlView interface", () => {
  test("crlViewFromDer reads issuer, dates, number, key identifier and entries; refuses what is not a CRL", () => {
    const view = crlViewFromDer(revokedDev.der);
    assert.equal(view.crlNumber, 2n);
    assert.equal(view.thisUpdate.toISOString(), at(-1).toISOString());
    assert.equal(view.nextUpdate?.toISOString(), at(7).toISOString());
    assert.equal(view.lookup("2a")?.reason, "keyCompromise");
    assert.equal(view.lookup("2b"), undefined);
    assert.equal(view.verifySignature(ca.key.spki), true);
    assert.equal(view.verifySignature(root.key.spki), false);
    assert.equal(crlViewFromDer(Buffer.from(revokedDev.pem)).crlNumber, 2n);
    assert.throws(() => crlViewFromDer(ca.der), (e: unknown) => isTrustlineError(e, "INPUT_INVALID"));
  });

  test("any decoder can stand behind CrlView: a hand-written view is used like a decoded one", () => {
    const decoded = crlViewFromDer(caCrl.der);
    const listed = new Set(["2a"]);
    const custom: CrlView = {
      issuerDer: decoded.issuerDer,
      thisUpdate: decoded.thisUpdate,
      ...(decoded.nextUpdate ? { nextUpdate: decoded.nextUpdate } : {}),
      // RFC 5280 §5.2.3: a view must expose the cRLNumber, or the strict profile does not use the CRL.
      ...(decoded.crlNumber !== undefined ? { crlNumber: decoded.crlNumber } : {}),
      signatureAlgorithm: decoded.signatureAlgorithm,
      verifySignature: (spki) => decoded.verifySignature(spki),
      lookup: (serial) => (listed.has(serial) ? { revocationDate: at(-3), reason: "superseded" } : undefined),
    };
    const r = validatePath(dev.der, { trustAnchors: [root.der], intermediates: [ca.der], crls: [rootCrl.der, custom], revocation: "require", time: FIXED_NOW });
    assert.equal(assertInvalid(r, "revocation", 0).revoked?.reason, "superseded");
  });
});
