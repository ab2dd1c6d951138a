/**
 * Differential tests against OpenSSL's verifier on randomly generated (seeded, reproducible) paths:
 * the policy tree (§6.1.2-§6.1.5 with initial policy set, explicit policy, mapping and anyPolicy
 * inhibition) and name constraints (§4.2.1.10 on every supported form). Each case is a real
 * certificate chain; OpenSSL judges it with the equivalent options.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { validatePath, type ValidationResult } from "../../ca/index.js";
import { ANY_POLICY, issue, POLICY, selfSigned, type CertSpec, type GeneralNameSpec, type Issued } from "../helpers/cert-factory.js";
import { FIXED_NOW, tempDir } from "../helpers/pki.js";
import { openssl } from "./openssl.js";

/** mulberry32: a small seeded generator, so a failing case can be replayed. */
function random(seed: number): { next: () => number; pick: <T>(a: readonly T[]) => T } {
  let s = seed | 0;
  const next = () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: (a) => a[Math.floor(next() * a.length)]! };
}

interface Outcome {
  readonly description: string;
  readonly ours: ValidationResult;
  readonly opensslOk: boolean;
  readonly opensslText: string;
}

function judge(dir: string, chain: readonly Issued[], leaf: Issued, ours: ValidationResult, extraArgs: readonly string[], description: string): Outcome {
  writeFileSync(join(dir, "chain.pem"), chain.map((c) => c.pem).join(""));
  writeFileSync(join(dir, "leaf.pem"), leaf.pem);
  const r = openssl(["verify", "-attime", String(FIXED_NOW.getTime() / 1000), ...extraArgs, "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "chain.pem"), join(dir, "leaf.pem")]);
  return { description, ours, opensslOk: r.status === 0, opensslText: `${r.stdout}${r.stderr}`.trim() };
}

function assertAgreement(outcomes: readonly Outcome[]): void {
  const disagreements = outcomes.filter((o) => o.ours.valid !== o.opensslOk);
  const report = disagreements
    .slice(0, 5)
    .map((o) => `${o.description}\n  trustline: ${o.ours.valid ? "valid" : `${o.ours.check}: ${o.ours.reason}`}\n  openssl: ${o.opensslText.split("\n").slice(-2).join(" | ")}`)
    .join("\n");
  assert.equal(disagreements.length, 0, `${disagreements.length} of ${outcomes.length} disagree:\n${report}`);
  // The generator must produce both verdicts, or the comparison proves little.
  assert.ok(outcomes.some((o) => o.ours.valid) && outcomes.some((o) => !o.ours.valid), "the random cases should include valid and invalid paths");
}

describe("differential against openssl verify", { timeout: 180_000 }, () => {
  let dir: string;
  let cleanup: () => void;
  const root = selfSigned({ subject: "/C=US/O=Acme/CN=Differential Root" });
  before(() => {
    ({ dir, cleanup } = tempDir("trustline-differential-"));
    writeFileSync(join(dir, "root.pem"), root.pem);
  });
  after(() => cleanup?.());

  test("RFC 5280 §6.1.3(d)-§6.1.5(g) the policy tree agrees with openssl -policy_check on 150 random paths", () => {
    const rnd = random(20260301);
    const POLICIES = [POLICY(1), POLICY(2), POLICY(3), ANY_POLICY];
    const SPECIFIC = POLICIES.slice(0, 3);
    const somePolicies = () => (rnd.next() < 0.15 ? undefined : [...new Set(Array.from({ length: 1 + Math.floor(rnd.next() * 2) }, () => rnd.pick(POLICIES)))]);
    const outcomes: Outcome[] = [];
    for (let t = 0; t < 150; t++) {
      const chain: Issued[] = [];
      let issuer = root;
      const description: string[] = [];
      for (let i = 1 + Math.floor(rnd.next() * 3); i > 0; i--) {
        const spec: { -readonly [K in keyof CertSpec]: CertSpec[K] } = { subject: `/CN=Policy CA ${i}`, ca: true };
        const policies = somePolicies();
        if (policies) spec.policies = policies;
        if (rnd.next() < 0.3) {
          const pairs = Array.from({ length: 1 + Math.floor(rnd.next() * 2) }, () => [rnd.pick(SPECIFIC), rnd.pick(SPECIFIC)] as const);
          spec.policyMappings = pairs.filter((m, k) => pairs.findIndex((x) => x[0] === m[0] && x[1] === m[1]) === k);
        }
        if (rnd.next() < 0.25) {
          const pc: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number } = {};
          if (rnd.next() < 0.6) pc.requireExplicitPolicy = Math.floor(rnd.next() * 3);
          if (rnd.next() < 0.6 || pc.requireExplicitPolicy === undefined) pc.inhibitPolicyMapping = Math.floor(rnd.next() * 3);
          spec.policyConstraints = pc;
        }
        if (rnd.next() < 0.2) spec.inhibitAnyPolicy = Math.floor(rnd.next() * 3);
        issuer = issue(issuer, spec);
        chain.push(issuer);
        description.push(JSON.stringify({ policies: spec.policies, mappings: spec.policyMappings, pc: spec.policyConstraints, inhibitAny: spec.inhibitAnyPolicy }));
      }
      const leafPolicies = somePolicies();
      const leaf = issue(issuer, { subject: "/CN=Policy leaf", ...(leafPolicies ? { policies: leafPolicies } : {}), ...(rnd.next() < 0.1 ? { policyConstraints: { requireExplicitPolicy: 0 } } : {}) });
      const o = { explicit: rnd.next() < 0.5, inhibitMap: rnd.next() < 0.2, inhibitAny: rnd.next() < 0.2, set: rnd.next() < 0.5 ? [rnd.pick(SPECIFIC)] : [] };
      description.push(`leaf ${JSON.stringify(leafPolicies)}; options ${JSON.stringify(o)}`);
      const ours = validatePath(leaf.der, {
        trustAnchors: [root.der],
        intermediates: chain.map((c) => c.der),
        time: FIXED_NOW,
        initialPolicySet: o.set,
        initialExplicitPolicy: o.explicit,
        initialPolicyMappingInhibit: o.inhibitMap,
        initialAnyPolicyInhibit: o.inhibitAny,
      });
      // OpenSSL reads "no -policy" as an empty user set; any-policy must be named.
      const args = ["-policy_check", ...(o.set.length ? o.set : [ANY_POLICY]).flatMap((p) => ["-policy", p]), ...(o.explicit ? ["-explicit_policy"] : []), ...(o.inhibitMap ? ["-inhibit_map"] : []), ...(o.inhibitAny ? ["-inhibit_any"] : [])];
      outcomes.push(judge(dir, chain, leaf, ours, args, description.join("\n    ")));
    }
    assertAgreement(outcomes);
  });

  test("RFC 5280 §4.2.1.10 name constraints agree with openssl on 150 random paths (DNS, e-mail, URI, IP, DN)", () => {
    const rnd = random(5280);
    const names = {
      dns: ["example.com", "a.example.com", "b.example.com", "example.org", "x.a.example.com"],
      email: ["alice@example.com", "bob@a.example.com", "carol@example.org", "dave@x.a.example.com"],
      uri: ["https://example.com/x", "https://a.example.com:8443/", "http://user@b.example.com/p", "https://example.org/"],
      ip: ["10.1.2.3", "10.2.0.1", "192.168.1.5", "2001:db8::1", "2001:db9::1"],
      dn: ["/C=US/O=Acme/OU=Dev/CN=dev one", "/C=US/O=Acme/CN=dev two", "/C=US/O=Other/CN=dev three", "/C=FR/O=Acme/CN=dev four"],
    };
    const constraints = {
      dns: ["example.com", "a.example.com", "example.org", "org", ".example.com"],
      email: ["example.com", ".example.com", "a.example.com", "alice@example.com", "example.org"],
      uri: ["example.com", ".example.com", "a.example.com", "example.org"],
      ip: ["10.0.0.0/8", "10.1.0.0/16", "192.168.0.0/16", "2001:db8::/32"],
      dn: ["/C=US/O=Acme", "/C=US/O=Acme/OU=Dev", "/C=US", "/C=FR"],
    };
    const forms = Object.keys(names) as (keyof typeof names)[];
    const generalName = (from: typeof names): GeneralNameSpec => {
      const form = rnd.pick(forms);
      return { [form]: rnd.pick(from[form]) } as GeneralNameSpec;
    };
    const outcomes: Outcome[] = [];
    for (let t = 0; t < 150; t++) {
      const chain: Issued[] = [];
      let issuer = root;
      const description: string[] = [];
      for (let i = 1 + Math.floor(rnd.next() * 2); i > 0; i--) {
        const nc: { permitted?: GeneralNameSpec[]; excluded?: GeneralNameSpec[] } = {};
        if (rnd.next() < 0.7) nc.permitted = Array.from({ length: 1 + Math.floor(rnd.next() * 3) }, () => generalName(constraints));
        if (rnd.next() < 0.5 || !nc.permitted) nc.excluded = Array.from({ length: 1 + Math.floor(rnd.next() * 2) }, () => generalName(constraints));
        issuer = issue(issuer, { subject: `/C=US/O=Acme/CN=NC CA ${i}`, ca: true, nameConstraints: nc });
        chain.push(issuer);
        description.push(JSON.stringify(nc));
      }
      const subject = rnd.next() < 0.3 ? "" : `${rnd.pick(names.dn)}${rnd.next() < 0.3 ? `/E=${rnd.pick(names.email)}` : ""}`;
      const san = subject === "" || rnd.next() < 0.7 ? Array.from({ length: 1 + Math.floor(rnd.next() * 3) }, () => generalName(names)) : undefined;
      const leaf = issue(issuer, { subject, ...(san ? { san } : {}) });
      description.push(`leaf ${JSON.stringify({ subject, san })}`);
      const ours = validatePath(leaf.der, { trustAnchors: [root.der], intermediates: chain.map((c) => c.der), time: FIXED_NOW });
      outcomes.push(judge(dir, chain, leaf, ours, [], description.join("\n    ")));
    }
    assertAgreement(outcomes);
  });
});
