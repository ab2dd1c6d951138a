/**
 * Path building: choosing among candidate issuers, cross-certification, bundles in any order,
 * trying another path when one fails, loops, and adversarial inputs that must end quickly.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { CertificateCache, PathValidator, validatePath } from "../../ca/index.js";
import { DAY, issue, issuerNamed, newKey, selfSigned, type Issued } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, pathSubjects, validate } from "../helpers/path-validation.js";
import { FIXED_NOW } from "../helpers/pki.js";

const root = selfSigned({ subject: "/CN=Root A" });

/** Time a call; the adversarial tests bound it. */
function timed<T>(f: () => T): { value: T; ms: number } {
  const start = performance.now();
  const value = f();
  return { value, ms: performance.now() - start };
}

describe("RFC 4158 path building", () => {
  test("RFC 4158 §3.5 of two CAs with the same name, the one whose key signed the target is used", () => {
    const first = issue(root, { subject: "/CN=Issuing CA", ca: true });
    const second = issue(root, { subject: "/CN=Issuing CA", ca: true });
    const dev = issue(second, { subject: "/CN=dev" });
    const r = assertValid(validate(dev, { anchors: [root], intermediates: [first, second] }));
    assert.equal(r.path[1]!.sha256, createHash("sha256").update(second.der).digest("hex"));
    assert.equal(r.attempts, 1, "authorityKeyIdentifier points at the right CA first");
  });

  test("RFC 4158 §3.5 without key identifiers, the wrong candidate's signature is skipped and the right one found", () => {
    const first = issue(root, { subject: "/CN=Issuing CA", ca: true, noKeyIdentifiers: true });
    const second = issue(root, { subject: "/CN=Issuing CA", ca: true, noKeyIdentifiers: true });
    const dev = issue(second, { subject: "/CN=dev", noKeyIdentifiers: true });
    // Certificates without key identifiers break the strict profile (§4.2.1.1-2): path building is tested leniently.
    assertValid(validate(dev, { anchors: [root], intermediates: [first, second], lenient: true }));
  });

  test("RFC 4158 §2.4 a cross-certificate links two roots: the path is found from either anchor", () => {
    const rootB = selfSigned({ subject: "/CN=Root B" });
    const caB = issue(rootB, { subject: "/CN=CA under B", ca: true });
    const crossBbyA = issue(root, { subject: "/CN=Root B", key: rootB.key, ca: true });
    const dev = issue(caB, { subject: "/CN=dev" });
    assert.deepEqual(pathSubjects(assertValid(validate(dev, { anchors: [root], intermediates: [caB, crossBbyA] }))), ["CN=dev", "CN=CA under B", "CN=Root B", "CN=Root A"]);
    assert.deepEqual(pathSubjects(assertValid(validate(dev, { anchors: [rootB], intermediates: [caB, crossBbyA] }))), ["CN=dev", "CN=CA under B", "CN=Root B"]);
  });

  test("RFC 4158 the bundle's order and duplicates do not matter", () => {
    const a = issue(root, { subject: "/CN=Level 1", ca: true });
    const b = issue(a, { subject: "/CN=Level 2", ca: true });
    const c = issue(b, { subject: "/CN=Level 3", ca: true });
    const dev = issue(c, { subject: "/CN=dev" });
    for (const bundle of [[a, b, c], [c, b, a], [b, c, a, c, a, root], [c, a, b, b]]) {
      assert.equal(assertValid(validate(dev, { anchors: [root], intermediates: bundle })).path.length, 5);
    }
  });

  test("RFC 4158 §2.5 when the first candidate path fails a §6.1 check, the next is tried", () => {
    const key = newKey();
    const unusable = issue(root, { subject: "/CN=Issuing CA", key, ca: true, keyUsage: ["cRLSign"] });
    const usable = issue(root, { subject: "/CN=Issuing CA", key, ca: true });
    const dev = issue(usable, { subject: "/CN=dev" });
    const r = assertValid(validate(dev, { anchors: [root], intermediates: [unusable, usable] }));
    assert.equal(r.attempts, 2);
    const only = assertInvalid(validate(dev, { anchors: [root], intermediates: [unusable] }), "key-usage", 1);
    assert.equal(only.attempts.length, 1);
  });

  test("RFC 4158 §2.5 an expired CA certificate and its renewal (same key): the current one is preferred", () => {
    const key = newKey();
    const expired = issue(root, { subject: "/CN=Issuing CA", key, ca: true, notAfter: new Date(FIXED_NOW.getTime() - DAY) });
    const renewed = issue(root, { subject: "/CN=Issuing CA", key, ca: true });
    const dev = issue(renewed, { subject: "/CN=dev" });
    const r = assertValid(validate(dev, { anchors: [root], intermediates: [expired, renewed] }));
    assert.equal(r.attempts, 1);
  });

  test("RFC 4158 §5.2 two CAs certifying each other form a loop that is cut: no path, a clear reason", () => {
    const kA = newKey();
    const kB = newKey();
    const aByB = issue(selfSigned({ subject: "/CN=Loop B", key: kB }), { subject: "/CN=Loop A", key: kA, ca: true });
    const bByA = issue(selfSigned({ subject: "/CN=Loop A", key: kA }), { subject: "/CN=Loop B", key: kB, ca: true });
    const dev = issue(aByB, { subject: "/CN=dev" });
    const { value, ms } = timed(() => validate(dev, { anchors: [root], intermediates: [aByB, bByA] }));
    assertInvalid(value, "path-building");
    assert.ok(ms < 1000, `took ${ms} ms`);
  });

  test("RFC 4158 §5.2 a loop beside the way to the anchor does not stop the search", () => {
    const kA = newKey();
    const kB = newKey();
    const aByB = issue(selfSigned({ subject: "/CN=Loop B", key: kB }), { subject: "/CN=Loop A", key: kA, ca: true });
    const bByA = issue(selfSigned({ subject: "/CN=Loop A", key: kA }), { subject: "/CN=Loop B", key: kB, ca: true });
    const aByRoot = issue(root, { subject: "/CN=Loop A", key: kA, ca: true });
    const dev = issue(aByB, { subject: "/CN=dev" });
    assert.deepEqual(pathSubjects(assertValid(validate(dev, { anchors: [root], intermediates: [aByB, bByA, aByRoot] }))), ["CN=dev", "CN=Loop A", "CN=Root A"]);
  });
});

describe("adversarial inputs end quickly with a clear error", () => {
  test("a chain of 300 CAs stops at the maximum depth", () => {
    const chain: Issued[] = [root];
    for (let i = 0; i < 300; i++) chain.push(issue(chain[chain.length - 1]!, { subject: `/CN=Deep CA ${i}`, ca: true }));
    const dev = issue(chain[chain.length - 1]!, { subject: "/CN=dev" });
    const { value, ms } = timed(() => validate(dev, { anchors: [root], intermediates: chain.slice(1).reverse() }));
    assert.match(assertInvalid(value, "max-depth").reason, /longer than the maximum depth of 10/);
    assert.ok(ms < 2000, `took ${ms} ms`);
  });

  test("200 candidate intermediates with the same name, none the real issuer: refused quickly", () => {
    const evilRoot = selfSigned({ subject: "/CN=Evil CA" });
    const decoys = Array.from({ length: 200 }, () => issue(evilRoot, { subject: "/CN=Evil CA", issuerName: "/CN=Evil CA", ca: true, key: newKey() }));
    const dev = issue(decoys[17]!, { subject: "/CN=dev" });
    const { value, ms } = timed(() => validate(dev, { anchors: [root], intermediates: decoys }));
    assert.equal(value.valid, false);
    assert.ok(["path-building", "signature"].includes((value as { check: string }).check), JSON.stringify(value).slice(0, 300));
    assert.ok(ms < 3000, `took ${ms} ms`);
  });

  test("200 same-name decoys beside the real CA: the real one is found", () => {
    const real = issue(root, { subject: "/CN=Device CA", ca: true });
    const decoys = Array.from({ length: 200 }, () => issue(root, { subject: "/CN=Device CA", ca: true, signingKey: newKey() }));
    const dev = issue(real, { subject: "/CN=dev" });
    const { value, ms } = timed(() => validate(dev, { anchors: [root], intermediates: [...decoys, real] }));
    assertValid(value);
    assert.ok(ms < 3000, `took ${ms} ms`);
  });

  test("a certification mesh with factorially many paths exhausts the search budget and says so", () => {
    const keys = Array.from({ length: 12 }, () => newKey());
    const mesh: Issued[] = [];
    for (const signer of keys) for (const subject of keys) if (signer !== subject) mesh.push(issue(issuerNamed("/CN=Mesh", signer), { subject: "/CN=Mesh", key: subject, ca: true }));
    const dev = issue(issuerNamed("/CN=Mesh", keys[0]!), { subject: "/CN=dev" });
    const { value, ms } = timed(() => validate(dev, { anchors: [root], intermediates: mesh, limits: { searchBudget: 500 } }));
    const r = assertInvalid(value, "path-building");
    assert.match(r.reason, /search budget: examined 500 candidate issuers/);
    assert.ok(ms < 3000, `took ${ms} ms`);
  });
});

describe("the parse cache", () => {
  test("a shared CertificateCache decodes each certificate once and gives the same answers", () => {
    const ca = issue(root, { subject: "/CN=Cached CA", ca: true });
    const devs = Array.from({ length: 5 }, (_, i) => issue(ca, { subject: `/CN=dev-${i}` }));
    const cache = new CertificateCache(100);
    for (const d of devs) assertValid(validatePath(d.der, { trustAnchors: [root.der], intermediates: [ca.der], time: FIXED_NOW, cache }));
    assert.equal(cache.size, 7);
    assertInvalid(validatePath(devs[0]!.der, { trustAnchors: [root.der], intermediates: [ca.der], time: new Date(FIXED_NOW.getTime() + 400 * DAY), cache }), "anchor-validity");
  });

  test("the cache is keyed by content: a reused buffer holding another certificate is decoded afresh", () => {
    const other = selfSigned({ subject: "/CN=Other Root" });
    const a = issue(root, { subject: "/CN=dev-a" });
    const b = issue(other, { subject: "/CN=dev-b" });
    const buffer = new Uint8Array(Math.max(a.der.length, b.der.length));
    const cache = new CertificateCache();
    buffer.set(a.der);
    assertValid(validatePath(buffer.subarray(0, a.der.length), { trustAnchors: [root.der], time: FIXED_NOW, cache }));
    buffer.set(b.der);
    assertInvalid(validatePath(buffer.subarray(0, b.der.length), { trustAnchors: [root.der], time: FIXED_NOW, cache }), "path-building");
  });

  test("the cache evicts the least recently used certificate beyond its capacity", () => {
    const cache = new CertificateCache(3);
    const certs = Array.from({ length: 5 }, (_, i) => issue(root, { subject: `/CN=c${i}` }));
    for (const c of certs) cache.get(c.der);
    assert.equal(cache.size, 3);
  });
});

describe("PathValidator", () => {
  test("one validator serves many devices, and a device's own chain can be given per call", () => {
    const ca = issue(root, { subject: "/CN=Plant CA", ca: true });
    const validator = new PathValidator({ trustAnchors: [root.der] });
    const devs = Array.from({ length: 3 }, (_, i) => issue(ca, { subject: `/CN=dev-${i}` }));
    for (const d of devs) {
      assertInvalid(validator.validate(d.der, { time: FIXED_NOW }), "path-building", 0);
      assertValid(validator.validate(d.der, { time: FIXED_NOW, extraIntermediates: [ca.der] }));
    }
    // The per-call chain does not stay in the validator.
    assertInvalid(validator.validate(devs[0]!.der, { time: FIXED_NOW }), "path-building");
  });

  test("a validator refuses to exist without trust anchors, and a request with a bad option", () => {
    assert.throws(() => new PathValidator({ trustAnchors: [] }), /no trust anchor/);
    const validator = new PathValidator({ trustAnchors: [root.der] });
    assert.throws(() => validator.validate(root.der, { maxDepth: -1 }), /maxDepth/);
    assert.throws(() => validator.validate(root.der, { maxDepth: 1.5 }), /maxDepth/);
    assert.throws(() => validator.validate(root.der, { purpose: "email" as never }), /unknown purpose/);
    assert.throws(() => validator.validate(Uint8Array.of(0x30, 0x00)), /the certificate to validate/);
  });
});
