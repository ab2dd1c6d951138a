/** RFC 5280 §4.2.1.10 and §6.1.3(b)-(c), §6.1.4(g): name constraints on every name form this engine supports. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ext, issue, selfSigned, type GeneralNameSpec } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, validate } from "../helpers/path-validation.js";

const root = selfSigned({ subject: "/C=US/O=Acme/CN=Root" });

/** root -> CA (with the constraints) -> leaf (with the names); the verdict. */
function under(constraints: { permitted?: GeneralNameSpec[]; excluded?: GeneralNameSpec[] }, leaf: { subject?: string; san?: GeneralNameSpec[] }) {
  const ca = issue(root, { subject: "/C=US/O=Acme/CN=Constrained CA", ca: true, nameConstraints: constraints });
  const dev = issue(ca, { subject: leaf.subject ?? "", ...(leaf.san ? { san: leaf.san } : {}) });
  return validate(dev, { anchors: [root], intermediates: [ca] });
}

describe("RFC 5280 §4.2.1.10 dNSName constraints", () => {
  test("RFC 5280 §4.2.1.10 a permitted DNS subtree admits the domain and its subdomains, case-insensitively", () => {
    for (const dns of ["example.com", "a.example.com", "x.y.Example.COM"]) assertValid(under({ permitted: [{ dns: "example.com" }] }, { san: [{ dns }] }));
  });

  test("RFC 5280 §4.2.1.10 a name outside the permitted DNS subtree is refused (label boundaries respected)", () => {
    for (const dns of ["badexample.com", "example.org", "com"]) assertInvalid(under({ permitted: [{ dns: "example.com" }] }, { san: [{ dns }] }), "name-constraints", 0);
  });

  test("RFC 5280 §4.2.1.10 an excluded DNS subtree refuses its names and admits the rest", () => {
    assertInvalid(under({ excluded: [{ dns: "evil.example.com" }] }, { san: [{ dns: "www.evil.example.com" }] }), "name-constraints", 0);
    assertValid(under({ excluded: [{ dns: "evil.example.com" }] }, { san: [{ dns: "good.example.com" }] }));
  });

  test("RFC 5280 §4.2.1.10 a constraint on one form does not restrict the others", () => {
    assertValid(under({ permitted: [{ dns: "example.com" }] }, { san: [{ email: "anyone@anywhere.test" }] }));
  });
});

describe("RFC 5280 §4.2.1.10 rfc822Name constraints", () => {
  test("RFC 5280 §4.2.1.10 a host constraint admits every mailbox at that host only", () => {
    assertValid(under({ permitted: [{ email: "example.com" }] }, { san: [{ email: "alice@example.com" }] }));
    assertInvalid(under({ permitted: [{ email: "example.com" }] }, { san: [{ email: "alice@sub.example.com" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 a .domain constraint admits hosts within the domain, not the domain itself", () => {
    assertValid(under({ permitted: [{ email: ".example.com" }] }, { san: [{ email: "bob@mail.example.com" }] }));
    assertInvalid(under({ permitted: [{ email: ".example.com" }] }, { san: [{ email: "bob@example.com" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 a mailbox constraint admits exactly that mailbox", () => {
    assertValid(under({ permitted: [{ email: "ops@example.com" }] }, { san: [{ email: "ops@EXAMPLE.com" }] }));
    assertInvalid(under({ permitted: [{ email: "ops@example.com" }] }, { san: [{ email: "dev@example.com" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 an e-mail address in the subject DN (emailAddress) is held to rfc822Name constraints", () => {
    assertValid(under({ permitted: [{ email: "example.com" }] }, { subject: "/CN=alice/E=alice@example.com" }));
    assertInvalid(under({ permitted: [{ email: "example.com" }] }, { subject: "/CN=mallory/E=mallory@evil.test" }), "name-constraints");
    assertInvalid(under({ excluded: [{ email: "evil.test" }] }, { subject: "/CN=mallory/E=mallory@evil.test", san: [{ dns: "ok.test" }] }), "name-constraints");
  });
});

describe("RFC 5280 §4.2.1.10 uniformResourceIdentifier constraints", () => {
  test("RFC 5280 §4.2.1.10 URI constraints apply to the host: exact host, or .domain for hosts within", () => {
    assertValid(under({ permitted: [{ uri: "host.example.com" }] }, { san: [{ uri: "https://host.example.com:8443/path" }] }));
    assertInvalid(under({ permitted: [{ uri: "host.example.com" }] }, { san: [{ uri: "https://other.example.com/" }] }), "name-constraints");
    assertValid(under({ permitted: [{ uri: ".example.com" }] }, { san: [{ uri: "https://user@a.example.com/" }] }));
    assertInvalid(under({ permitted: [{ uri: ".example.com" }] }, { san: [{ uri: "https://example.com/" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 a URI without a host cannot be shown to be within a permitted subtree", () => {
    assertInvalid(under({ permitted: [{ uri: ".example.com" }] }, { san: [{ uri: "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66" }] }), "name-constraints");
    assertValid(under({ excluded: [{ uri: ".example.com" }] }, { san: [{ uri: "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66" }] }));
  });
});

describe("RFC 5280 §4.2.1.10 iPAddress constraints", () => {
  test("RFC 5280 §4.2.1.10 an IPv4 address within the permitted network is admitted; one outside is refused", () => {
    assertValid(under({ permitted: [{ ip: "10.20.0.0/16" }] }, { san: [{ ip: "10.20.30.40" }] }));
    assertInvalid(under({ permitted: [{ ip: "10.20.0.0/16" }] }, { san: [{ ip: "10.21.0.1" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 IPv6 networks, and IPv4 constraints do not match IPv6 addresses", () => {
    assertValid(under({ permitted: [{ ip: "2001:db8::/32" }] }, { san: [{ ip: "2001:db8:1::5" }] }));
    assertInvalid(under({ permitted: [{ ip: "2001:db8::/32" }] }, { san: [{ ip: "2001:db9::5" }] }), "name-constraints");
    assertInvalid(under({ permitted: [{ ip: "10.0.0.0/8" }] }, { san: [{ ip: "::ffff:a00:1" }] }), "name-constraints");
    assertInvalid(under({ excluded: [{ ip: "192.168.0.0/16" }] }, { san: [{ ip: "192.168.1.1" }] }), "name-constraints");
  });
});

describe("RFC 5280 §4.2.1.10 directoryName constraints", () => {
  test("RFC 5280 §4.2.1.10 a subject DN within the permitted subtree (a prefix of RDNs) is admitted", () => {
    assertValid(under({ permitted: [{ dn: "/C=US/O=Acme" }] }, { subject: "/C=US/O=Acme/OU=Devices/CN=dev" }));
    assertValid(under({ permitted: [{ dn: "/C=US/O=acme" }] }, { subject: "/C=US/O=ACME/CN=dev" }));
  });

  test("RFC 5280 §4.2.1.10 a subject DN outside the permitted subtree, or inside an excluded one, is refused", () => {
    assertInvalid(under({ permitted: [{ dn: "/C=US/O=Acme" }] }, { subject: "/C=US/O=Other/CN=dev" }), "name-constraints");
    assertInvalid(under({ excluded: [{ dn: "/C=US/O=Acme/OU=Revoked" }] }, { subject: "/C=US/O=Acme/OU=Revoked/CN=dev" }), "name-constraints");
    assertInvalid(under({ permitted: [{ dn: "/C=US/O=Acme/OU=Devices" }] }, { subject: "/C=US/O=Acme/CN=dev" }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 a directoryName in subjectAltName is held to the same constraints", () => {
    assertInvalid(under({ permitted: [{ dn: "/C=US/O=Acme" }] }, { subject: "/C=US/O=Acme/CN=dev", san: [{ dn: "/C=FR/O=Acme" }] }), "name-constraints");
  });

  test("RFC 5280 §4.2.1.10 an empty subject (names in the SAN only) is not checked against directoryName constraints", () => {
    assertValid(under({ permitted: [{ dn: "/C=US/O=Acme" }] }, { subject: "", san: [{ dns: "dev.example.com" }] }));
  });
});

describe("RFC 5280 §6.1.4(g) constraints accumulate along the path", () => {
  test("RFC 5280 §6.1.4(g) permitted subtrees intersect: a name must be in both CAs' subtrees", () => {
    const outer = issue(root, { subject: "/CN=Outer", ca: true, nameConstraints: { permitted: [{ dns: "example.com" }] } });
    const inner = issue(outer, { subject: "/CN=Inner", ca: true, nameConstraints: { permitted: [{ dns: "other.test" }, { dns: "a.example.com" }] } });
    const ok = issue(inner, { subject: "", san: [{ dns: "x.a.example.com" }] });
    const escapes = issue(inner, { subject: "", san: [{ dns: "x.other.test" }] });
    assertValid(validate(ok, { anchors: [root], intermediates: [outer, inner] }));
    assertInvalid(validate(escapes, { anchors: [root], intermediates: [outer, inner] }), "name-constraints", 0);
  });

  test("RFC 5280 §6.1.4(g) excluded subtrees unite, and bind the next CA's own names too", () => {
    const outer = issue(root, { subject: "/CN=Outer", ca: true, nameConstraints: { excluded: [{ dns: "a.test" }] } });
    const inner = issue(outer, { subject: "/CN=Inner", ca: true, san: [{ dns: "ca.a.test" }] });
    assertInvalid(validate(issue(inner, { subject: "/CN=dev" }), { anchors: [root], intermediates: [outer, inner] }), "name-constraints", 1);
  });

  test("RFC 5280 §6.1.3(b) a self-issued intermediate is exempt, but the target is not, though self-issued", () => {
    const outer = issue(root, { subject: "/C=US/O=Acme/CN=Outer", ca: true, nameConstraints: { permitted: [{ dn: "/C=US/O=Acme/OU=Devices" }] } });
    const rollover = issue(outer, { subject: "/C=US/O=Acme/CN=Outer", ca: true });
    assertValid(validate(issue(rollover, { subject: "/C=US/O=Acme/OU=Devices/CN=dev" }), { anchors: [root], intermediates: [outer, rollover] }));
    const selfIssuedLeaf = issue(outer, { subject: "/C=US/O=Acme/CN=Outer" });
    assertInvalid(validate(selfIssuedLeaf, { anchors: [root], intermediates: [outer] }), "name-constraints", 0);
  });

  test("RFC 5280 §4.2.1.10 a constraint on a name form this engine does not compare refuses certificates with that form", () => {
    const otherName = Uint8Array.of(0xa0, 0x0a, 0x06, 0x03, 0x2a, 0x03, 0x04, 0xa0, 0x03, 0x0c, 0x01, 0x78);
    const ca = issue(root, { subject: "/CN=CA", ca: true, extensions: [ext.nameConstraints({ permitted: [{ otherName }] })] });
    assertInvalid(validate(issue(ca, { subject: "", san: [{ otherName }] }), { anchors: [root], intermediates: [ca] }), "name-constraints");
    assertValid(validate(issue(ca, { subject: "", san: [{ dns: "a.test" }] }), { anchors: [root], intermediates: [ca] }));
  });

  test("RFC 5280 §4.2.1.10 a huge constraint set against many names is bounded and refused with a clear reason", () => {
    const permitted = Array.from({ length: 5000 }, (_, i) => ({ dns: `d${i}.example.com` }));
    const ca = issue(root, { subject: "/CN=Huge CA", ca: true, nameConstraints: { permitted } });
    const dev = issue(ca, { subject: "", san: Array.from({ length: 300 }, (_, i) => ({ dns: `h${i}.nowhere.test` })) });
    const start = performance.now();
    const r = assertInvalid(validate(dev, { anchors: [root], intermediates: [ca], limits: { nameConstraintComparisons: 100_000 } }), "name-constraints", 0);
    assert.ok(performance.now() - start < 2000);
    assert.match(r.reason, /not within the permitted subtrees|allowed number of comparisons/);
    const many = issue(ca, { subject: "", san: Array.from({ length: 300 }, (_, i) => ({ dns: `d${i}.example.com` })) });
    assert.match(assertInvalid(validate(many, { anchors: [root], intermediates: [ca], limits: { nameConstraintComparisons: 100_000 } }), "name-constraints").reason, /allowed number of comparisons/);
  });
});
