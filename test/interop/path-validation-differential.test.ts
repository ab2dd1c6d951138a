/**
 * Differential tests against OpenSSL's verifier on randomly generated (seeded, reproducible) paths:
 * the policy tree (§6.1.2-§6.1.5 with initial policy set, explicit policy, mapping and anyPolicy
 * inhibition), name constraints (§4.2.1.10 on every supported form), and the strict profile with
 * trust anchor constraints. Each case is a real certificate chain; OpenSSL judges it with the
 * equivalent options, always with -x509_strict (our default profile).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { validatePath, type ValidationResult } from "../../ca/index.js";
import { oid, sequence, tlv } from "../../ca/x509/der.js";
import { ANY_POLICY, DAY, ext, issue, POLICY, selfSigned, type CertSpec, type GeneralNameSpec, type Issued } from "../helpers/cert-factory.js";
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

function judge(dir: string, chain: readonly Issued[], leaf: Issued, ours: ValidationResult, extraArgs: readonly string[], description: string, anchor?: Issued): Outcome {
  if (anchor) writeFileSync(join(dir, "root.pem"), anchor.pem);
  writeFileSync(join(dir, "chain.pem"), chain.map((c) => c.pem).join(""));
  writeFileSync(join(dir, "leaf.pem"), leaf.pem);
  const r = openssl(["verify", "-attime", String(FIXED_NOW.getTime() / 1000), "-x509_strict", ...extraArgs, "-CAfile", join(dir, "root.pem"), "-untrusted", join(dir, "chain.pem"), join(dir, "leaf.pem")]);
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

  /**
   * RFC 5280 §4 strict profile and RFC 5937 anchor constraints against `openssl verify -x509_strict`
   * on random chains, each with one defect (or none) on a random certificate. Where OpenSSL 3.0 and
   * we differ, it is on purpose, and the test asserts exactly that difference:
   * - OpenSSL 3.0's -x509_strict does not check the name syntax of §4.2.1.6 (an underscore or a
   *   leading dot in a dNSName), the criticality MUSTs of §4.2.1.10 (nameConstraints) and §4.2.1.11
   *   (policyConstraints), nor serial numbers (§4.1.2.2): we do. (A critical authorityInfoAccess
   *   both refuse: OpenSSL as an unhandled critical extension, we under §4.2.2.1.)
   * - OpenSSL matches a wildcard dNSName ("*.example.com") against excluded subtrees as a literal
   *   string, so an exclusion of bar.example.com does not catch it; we treat it as the set of names
   *   it stands for (RFC 6125 §6.4.3), which that exclusion meets.
   * Every other defect gets the same verdict from both.
   */
  test("RFC 5280 §4 strict profile and RFC 5937 anchors agree with openssl -x509_strict on 160 random chains, except the documented differences", () => {
    const rnd = random(4_2_1_9);
    type Defect = { name: string; opensslMisses?: true; apply: (specs: CertSpec[], anchor: { spec: CertSpec }) => void };
    const last = (specs: CertSpec[]) => specs.length - 1;
    const set = (specs: CertSpec[], i: number, more: Partial<CertSpec>) => (specs[i] = { ...specs[i]!, ...more });
    const someCa = (specs: CertSpec[]) => Math.floor(rnd.next() * (specs.length - 1));
    const aia = (critical: boolean) => ({ oid: "1.3.6.1.5.5.7.1.1", critical, value: sequence(sequence(oid("1.3.6.1.5.5.7.48.1"), tlv(0x86, new Uint8Array(Buffer.from("http://ocsp.example.com"))))) });
    const defects: Defect[] = [
      { name: "none", apply: () => {} },
      { name: "§4.2.1.1 target without authorityKeyIdentifier", apply: (s) => set(s, last(s), { noKeyIdentifiers: true }) },
      { name: "§4.2.1.1-2 CA without key identifiers", apply: (s) => set(s, someCa(s), { noKeyIdentifiers: true }) },
      { name: "§4.2.1.9 CA basicConstraints not critical", apply: (s) => set(s, someCa(s), { noBasicConstraints: true, extensions: [ext.basicConstraints(true, undefined, false)] }) },
      { name: "§4.2.1.3 end entity asserting keyCertSign", apply: (s) => set(s, last(s), { keyUsage: ["digitalSignature", "keyCertSign"] }) },
      { name: "§4.2.1.3 CA without keyUsage", apply: (s) => set(s, someCa(s), { keyUsage: null }) },
      { name: "§4.2.1.9 pathLen in an end entity", apply: (s) => set(s, last(s), { extensions: [ext.basicConstraints(false, 0)] }) },
      { name: "§4.2.1.6 empty subject, SAN not critical", apply: (s) => set(s, last(s), { subject: "", extensions: [ext.subjectAltName([{ dns: "dev.example.com" }], false)] }) },
      { name: "§4.2.1.6 empty subject, SAN critical (conforming)", apply: (s) => set(s, last(s), { subject: "", san: [{ dns: "dev.example.com" }] }) },
      { name: "§4.2.1.6 dNSName with an underscore", opensslMisses: true, apply: (s) => set(s, last(s), { san: [{ dns: "dev_1.example.com" }] }) },
      { name: "§4.2.1.6 dNSName with a leading dot", opensslMisses: true, apply: (s) => set(s, last(s), { san: [{ dns: ".example.com" }] }) },
      { name: "§4.2.1.10 nameConstraints not critical", opensslMisses: true, apply: (s) => set(s, someCa(s), { extensions: [ext.nameConstraints({ permitted: [{ dns: "example.com" }] }, false)] }) },
      { name: "§4.2.1.11 policyConstraints not critical", opensslMisses: true, apply: (s) => set(s, someCa(s), { extensions: [ext.policyConstraints({ inhibitPolicyMapping: 5 }, false)] }) },
      { name: "§4.2.2.1 authorityInfoAccess critical (openssl: unhandled critical extension)", apply: (s) => set(s, last(s), { extensions: [aia(true)] }) },
      { name: "§4.1.2.2 serial number zero", opensslMisses: true, apply: (s) => set(s, last(s), { serial: 0n }) },
      { name: "RFC 6125 wildcard under an exclusion it meets", opensslMisses: true, apply: (s) => {
        set(s, someCa(s), { nameConstraints: { excluded: [{ dns: "bar.example.com" }] } });
        set(s, last(s), { san: [{ dns: "*.example.com" }] });
      } },
      { name: "RFC 6125 wildcard under an exclusion it does not meet", apply: (s) => {
        set(s, someCa(s), { nameConstraints: { excluded: [{ dns: "x.bar.example.com" }] } });
        set(s, last(s), { san: [{ dns: "*.example.com" }] });
      } },
      { name: "RFC 5937 expired anchor", apply: (_s, a) => (a.spec = { ...a.spec, notBefore: new Date(FIXED_NOW.getTime() - 400 * DAY), notAfter: new Date(FIXED_NOW.getTime() - DAY) }) },
      { name: "RFC 5937 anchor pathLen 0 above an intermediate", apply: (_s, a) => (a.spec = { ...a.spec, ca: { pathLen: 0 } }) },
      { name: "RFC 5937 anchor name constraints the target breaks", apply: (s, a) => {
        a.spec = { ...a.spec, nameConstraints: { permitted: [{ dns: "example.com" }] } };
        set(s, last(s), { san: [{ dns: "dev.example.org" }] });
      } },
      { name: "RFC 5937 anchor name constraints the target keeps", apply: (s, a) => {
        a.spec = { ...a.spec, nameConstraints: { permitted: [{ dns: "example.com" }] } };
        set(s, last(s), { san: [{ dns: "dev.example.com" }] });
      } },
      { name: "RFC 5937 anchor keyUsage without keyCertSign", apply: (_s, a) => (a.spec = { ...a.spec, keyUsage: ["digitalSignature", "cRLSign"] }) },
    ];
    const outcomes: (Outcome & { defect: Defect })[] = [];
    for (let t = 0; t < 160; t++) {
      const defect = t < defects.length ? defects[t]! : rnd.pick(defects);
      const anchor = { spec: { subject: `/C=US/O=Acme/CN=Strict Root ${t}` } as CertSpec };
      const specs: CertSpec[] = [];
      for (let i = 1 + Math.floor(rnd.next() * 2); i > 0; i--) specs.push({ subject: `/C=US/O=Acme/CN=Strict CA ${i}`, ca: true });
      specs.push({ subject: "/C=US/O=Acme/CN=dev", san: [{ dns: "dev.example.com" }] });
      defect.apply(specs, anchor);
      const root = selfSigned(anchor.spec);
      const chain: Issued[] = [];
      let issuer = root;
      for (const spec of specs.slice(0, -1)) chain.push((issuer = issue(issuer, spec)));
      const leaf = issue(issuer, specs[specs.length - 1]!);
      const ours = validatePath(leaf.der, { trustAnchors: [root.der], intermediates: chain.map((c) => c.der), time: FIXED_NOW });
      outcomes.push({ ...judge(dir, chain, leaf, ours, [], `${defect.name} (${specs.length - 1} intermediate(s))`, root), defect });
    }
    const unexpected = outcomes.filter((o) => (o.defect.opensslMisses ? !(o.opensslOk && !o.ours.valid) : o.ours.valid !== o.opensslOk));
    const report = unexpected
      .slice(0, 6)
      .map((o) => `${o.description}\n  trustline: ${o.ours.valid ? "valid" : `${o.ours.check}: ${o.ours.reason}`}\n  openssl: ${o.opensslText.split("\n").slice(-2).join(" | ")}`)
      .join("\n");
    assert.equal(unexpected.length, 0, `${unexpected.length} of ${outcomes.length} differ other than as documented:\n${report}`);
    assert.ok(outcomes.some((o) => o.ours.valid) && outcomes.some((o) => !o.ours.valid && !o.opensslOk));
  });
});
