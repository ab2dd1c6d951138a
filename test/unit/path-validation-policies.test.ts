/**
 * Certificate policies: the valid_policy_tree of RFC 5280 §6.1.2-§6.1.5 with the user's initial
 * policy set, explicit policy, policy mappings, inhibitPolicyMapping and inhibitAnyPolicy. Paths
 * in the spirit of NIST PKITS §4.8-§4.12, built here.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ANY_POLICY, issue, selfSigned, type CertSpec, type Issued } from "../helpers/cert-factory.js";
import { POLICY } from "../helpers/cert-factory.js";
import { assertInvalid, assertValid, validate, type Setup } from "../helpers/path-validation.js";

const P1 = POLICY(1);
const P2 = POLICY(2);
const P3 = POLICY(3);

const root = selfSigned({ subject: "/CN=Policy Root" });

/** root -> CAs (specs, in order) -> leaf (spec): [leaf, intermediates]. */
function chain(cas: readonly Partial<CertSpec>[], leaf: Partial<CertSpec>): [Issued, Issued[]] {
  const inters: Issued[] = [];
  let issuer = root;
  cas.forEach((spec, i) => {
    issuer = issue(issuer, { subject: `/CN=Policy CA ${i + 1}`, ca: true, ...spec });
    inters.push(issuer);
  });
  return [issue(issuer, { subject: "/CN=Policy leaf", ...leaf }), inters];
}

function check([leaf, inters]: [Issued, Issued[]], options: Omit<Setup, "anchors" | "intermediates"> = {}) {
  return validate(leaf, { anchors: [root], intermediates: inters, ...options });
}

describe("RFC 5280 §6.1.3(d)-(f) certificate policies", () => {
  const samePolicy = chain([{ policies: [P1] }, { policies: [P1] }], { policies: [P1] });

  test("RFC 5280 §6.1.3(d) every certificate asserting P1: valid for any-policy and for {P1}, the result names P1", () => {
    assert.deepEqual(assertValid(check(samePolicy)).policies, [P1]);
    assert.deepEqual(assertValid(check(samePolicy, { initialPolicySet: [P1], initialExplicitPolicy: true })).policies, [P1]);
  });

  test("RFC 5280 §6.1.5(g) with an explicit policy required, a path for P1 is refused for {P2}; without it, valid with no policy", () => {
    assertInvalid(check(samePolicy, { initialPolicySet: [P2], initialExplicitPolicy: true }), "explicit-policy", 0);
    assert.deepEqual(assertValid(check(samePolicy, { initialPolicySet: [P2] })).policies, []);
  });

  test("RFC 5280 §6.1.3(e) a certificate without certificatePolicies empties the tree: refused when an explicit policy is required", () => {
    const gap = chain([{ policies: [P1] }, {}], { policies: [P1] });
    assertInvalid(check(gap, { initialExplicitPolicy: true }), "certificate-policies", 1);
    assert.deepEqual(assertValid(check(gap)).policies, []);
  });

  test("RFC 5280 §6.1.3(d)(1)(ii) anyPolicy in a CA lets a specific policy below it through", () => {
    assert.deepEqual(assertValid(check(chain([{ policies: [ANY_POLICY] }], { policies: [P1] }), { initialPolicySet: [P1], initialExplicitPolicy: true })).policies, [P1]);
  });

  test("RFC 5280 §6.1.3(d)(2) anyPolicy in the target takes the policies expected of it", () => {
    assert.deepEqual(assertValid(check(chain([{ policies: [P1, P2] }], { policies: [ANY_POLICY] }), { initialExplicitPolicy: true })).policies, [P1, P2]);
  });

  test("RFC 5280 §6.1.3(d) disjoint policies leave nothing: refused when explicit, valid with no policy otherwise", () => {
    const disjoint = chain([{ policies: [P1] }], { policies: [P2] });
    assertInvalid(check(disjoint, { initialExplicitPolicy: true }), "certificate-policies", 0);
    assert.deepEqual(assertValid(check(disjoint)).policies, []);
  });

  test("RFC 5280 §6.1.3(d)(3) pruning: a policy dropped by one CA does not come back below it", () => {
    // CA1 asserts P1 and anyPolicy; CA2 asserts P2 (matched under anyPolicy), so the P1 branch is pruned.
    const path = chain([{ policies: [P1, ANY_POLICY] }, { policies: [P2] }], { policies: [P2] });
    assertInvalid(check(path, { initialPolicySet: [P1], initialExplicitPolicy: true }), "explicit-policy", 0);
    assert.deepEqual(assertValid(check(path, { initialPolicySet: [P2], initialExplicitPolicy: true })).policies, [P2]);
  });

  test("RFC 5280 §6.1.5(g)(iii)(3) an anyPolicy leaf is replaced by the user's policies", () => {
    const allAny = chain([{ policies: [ANY_POLICY] }], { policies: [ANY_POLICY] });
    assert.deepEqual(assertValid(check(allAny)).policies, [ANY_POLICY]);
    assert.deepEqual(assertValid(check(allAny, { initialPolicySet: [P3, P1], initialExplicitPolicy: true })).policies, [P1, P3]);
  });
});

describe("RFC 5280 §6.1.4(i) and §6.1.5(b) requireExplicitPolicy", () => {
  test("RFC 5280 §6.1.4(i) requireExplicitPolicy 0 in a CA: a path below it without policies is refused", () => {
    assertInvalid(check(chain([{ policyConstraints: { requireExplicitPolicy: 0 } }], {})), "certificate-policies", 0);
    assertValid(check(chain([{ policyConstraints: { requireExplicitPolicy: 0 }, policies: [P1] }], { policies: [P1] })));
  });

  test("RFC 5280 §6.1.4(i) requireExplicitPolicy counts non-self-issued certificates: 1 binds the next-but-one, 3 does not bind this path", () => {
    const path = (skip: number) => chain([{ policyConstraints: { requireExplicitPolicy: skip } }, {}], {});
    assertInvalid(check(path(1)), "certificate-policies", 0);
    assertInvalid(check(path(2)), "explicit-policy", 0);
    assertValid(check(path(3)));
  });

  test("RFC 5280 §6.1.5(b) requireExplicitPolicy 0 in the target requires a policy for it", () => {
    assertInvalid(check(chain([{}], { policyConstraints: { requireExplicitPolicy: 0 } })), "explicit-policy", 0);
    assertValid(check(chain([{ policies: [P1] }], { policies: [P1], policyConstraints: { requireExplicitPolicy: 0 } })));
  });

  test("RFC 5280 §6.1.4(h) self-issued certificates do not count down explicit_policy", () => {
    // requireExplicitPolicy 2: the next two non-self-issued certificates may go without a policy.
    const ca = issue(root, { subject: "/CN=Rolling", ca: true, policyConstraints: { requireExplicitPolicy: 2 } });
    const rollover = issue(ca, { subject: "/CN=Rolling", ca: true });
    const leaf = issue(rollover, { subject: "/CN=leaf" });
    assertValid(validate(leaf, { anchors: [root], intermediates: [ca, rollover] }));
    const notSelf = issue(ca, { subject: "/CN=Other", ca: true });
    assertInvalid(validate(issue(notSelf, { subject: "/CN=leaf" }), { anchors: [root], intermediates: [ca, notSelf] }), "explicit-policy", 0);
  });
});

describe("RFC 5280 §6.1.4(a)-(b) policy mappings", () => {
  const mapped = chain([{ policies: [P1], policyMappings: [[P1, P2]] }], { policies: [P2] });

  test("RFC 5280 §6.1.4(b)(1) a mapping P1 -> P2 lets a P2 target satisfy a user who accepts P1", () => {
    assert.deepEqual(assertValid(check(mapped, { initialPolicySet: [P1], initialExplicitPolicy: true })).policies, [P2]);
  });

  test("RFC 5280 §6.1.5(g)(iii) the user's set applies to the issuer's domain: {P2} does not accept a P1 -> P2 mapping", () => {
    assertInvalid(check(mapped, { initialPolicySet: [P2], initialExplicitPolicy: true }), "explicit-policy", 0);
  });

  test("RFC 5280 §6.1.4(b)(1) a mapping of a policy the CA does not assert, under anyPolicy, creates it", () => {
    const viaAny = chain([{ policies: [ANY_POLICY], policyMappings: [[P1, P3]] }], { policies: [P3] });
    assert.deepEqual(assertValid(check(viaAny, { initialPolicySet: [P1], initialExplicitPolicy: true })).policies, [P3]);
  });

  test("RFC 5280 §6.1.4(b)(2) with mapping inhibited by the user, the mapped policy is deleted", () => {
    assertInvalid(check(mapped, { initialExplicitPolicy: true, initialPolicyMappingInhibit: true }), "certificate-policies", 0);
  });

  test("RFC 5280 §6.1.4(i) inhibitPolicyMapping 0 in a CA stops mappings below it; 1 allows one more CA to map", () => {
    const inhibited = (skip: number) => chain([{ policies: [P1], policyConstraints: { inhibitPolicyMapping: skip } }, { policies: [P1], policyMappings: [[P1, P2]] }], { policies: [P2] });
    assertInvalid(check(inhibited(0), { initialExplicitPolicy: true }), "certificate-policies", 0);
    assertValid(check(inhibited(1), { initialExplicitPolicy: true }));
  });

  test("RFC 5280 §6.1.4(a) mapping to or from anyPolicy is refused", () => {
    assertInvalid(check(chain([{ policies: [P1], policyMappings: [[ANY_POLICY, P1]] }], { policies: [P1] })), "policy-mappings", 1);
    assertInvalid(check(chain([{ policies: [P1], policyMappings: [[P1, ANY_POLICY]] }], { policies: [P1] })), "policy-mappings", 1);
  });

  test("RFC 5280 §6.1.4(b) one issuer policy mapped to two subject policies expects both", () => {
    const split = chain([{ policies: [P1], policyMappings: [[P1, P2], [P1, P3]] }], { policies: [P3] });
    assert.deepEqual(assertValid(check(split, { initialPolicySet: [P1], initialExplicitPolicy: true })).policies, [P3]);
  });
});

describe("RFC 5280 §6.1.4(j) inhibitAnyPolicy", () => {
  test("RFC 5280 §6.1.4(j) inhibitAnyPolicy 0: anyPolicy in the next CA no longer matches", () => {
    const path = (inhibit?: number) => chain([{ policies: [ANY_POLICY], ...(inhibit !== undefined ? { inhibitAnyPolicy: inhibit } : {}) }, { policies: [ANY_POLICY] }], { policies: [P1] });
    assertInvalid(check(path(0), { initialExplicitPolicy: true }), "certificate-policies", 1);
    assert.deepEqual(assertValid(check(path(), { initialExplicitPolicy: true })).policies, [P1]);
    assert.deepEqual(assertValid(check(path(1), { initialExplicitPolicy: true })).policies, [P1]);
  });

  test("RFC 5280 §6.1.3(d)(2) a self-issued intermediate's anyPolicy still counts when inhibited", () => {
    const ca = issue(root, { subject: "/CN=Inhibiting", ca: true, policies: [ANY_POLICY], inhibitAnyPolicy: 0 });
    const rollover = issue(ca, { subject: "/CN=Inhibiting", ca: true, policies: [ANY_POLICY] });
    const leaf = issue(rollover, { subject: "/CN=leaf", policies: [P1] });
    assertValid(validate(leaf, { anchors: [root], intermediates: [ca, rollover], initialExplicitPolicy: true }));
  });

  test("RFC 5280 §6.1.1(g) initial-any-policy-inhibit: a path of anyPolicy only is refused when a policy is required", () => {
    const allAny = chain([{ policies: [ANY_POLICY] }], { policies: [ANY_POLICY] });
    assertInvalid(check(allAny, { initialExplicitPolicy: true, initialAnyPolicyInhibit: true }), "certificate-policies", 1);
    assertValid(check(allAny, { initialExplicitPolicy: true }));
  });
});

describe("the policy tree is bounded", () => {
  test("policy mappings that would grow the tree past the node limit are refused, not computed", () => {
    const policies = Array.from({ length: 12 }, (_, i) => POLICY(100 + i));
    const fanOut = policies.flatMap((p) => policies.map((q) => [p, q] as [string, string]));
    // Every node expects all 12 policies after each mapping: 12, 144, then 1,728 leaves.
    const cas = Array.from({ length: 2 }, () => ({ policies: [...policies], policyMappings: fanOut }));
    const r = assertInvalid(check(chain(cas, { policies: [...policies] }), { limits: { policyTreeNodes: 200 } }), "certificate-policies");
    assert.match(r.reason, /exceed 200 nodes/);
    assertValid(check(chain(cas, { policies: [...policies] })));
  });
});
