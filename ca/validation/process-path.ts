/**
 * RFC 5280 §6.1, on one candidate path: initialization (§6.1.2), basic certificate processing
 * (§6.1.3), preparation for the next certificate (§6.1.4) and wrap-up (§6.1.5), in the RFC's order,
 * with the state variables named as the RFC names them. The path is given as the RFC numbers it:
 * certs[0] is certificate 1, issued by the trust anchor; certs[n-1] is the target.
 *
 * Every check made is recorded; processing stops at the first that fails.
 */
import type { ParsedCertificate } from "./certificate.js";
import { ANY_POLICY, KEY_USAGE } from "./extensions.js";
import { NameConstraintState } from "./name-constraints.js";
import { PolicyTreeTooLarge, ValidPolicyTree } from "./policy-tree.js";
import { caPurposeViolation, targetPurposeViolation, type Purpose } from "./purpose.js";
import { CHECKS, type Check, type CheckName, type RevocationDetails } from "./result.js";
import { checkRevocation, type RevocationContext } from "./revocation.js";
import { verifySignature } from "./signature.js";
import { isSelfSigned, profileViolation } from "./profile.js";
import { checkSubjectPublicKey } from "../x509/spki.js";

/** Why the target's key must not be trusted, or undefined (checks without importing the key). */
function subjectPublicKeyProblem(spki: Uint8Array): string | undefined {
  try {
    checkSubjectPublicKey(spki);
    return undefined;
  } catch (e) {
    return `the certificate's public key is refused: ${(e as Error).message}`;
  }
}

export interface PathOptions {
  readonly time: Date;
  readonly purpose: Purpose;
  readonly allowSha1: boolean;
  /** undefined: any-policy. */
  readonly initialPolicySet: ReadonlySet<string> | undefined;
  readonly initialExplicitPolicy: boolean;
  readonly initialPolicyMappingInhibit: boolean;
  readonly initialAnyPolicyInhibit: boolean;
  readonly policyNodeLimit: number;
  readonly nameConstraintComparisons: number;
  /** Apply the strict profile (RFC 5280 §4 MUSTs) to every certificate of the path; false: --lenient. */
  readonly strict: boolean;
  /** Extra keyUsage the target must have (cRLSign for a CRL signer), with its name. */
  readonly targetKeyUsage?: { readonly bits: number; readonly name: string };
  readonly revocation: RevocationContext;
}

export type PathOutcome =
  | { readonly ok: true; readonly checks: Check[]; readonly policies: string[] }
  | { readonly ok: false; readonly checks: Check[]; readonly failure: Check };

class Failed extends Error {
  constructor(readonly failure: Check) {
    super(failure.detail);
  }
}

const SHA1_NOTE = "SHA-1 signatures are refused (collisions are practical); only a trust anchor's own self-signature may use it";

/**
 * The signature of `cert` checked with `issuer`'s key (or inherited DSA parameters); the outcome
 * is memoised on `cert` per issuer key, since it cannot change. Returns the reason it fails.
 */
export function signatureFailure(cert: ParsedCertificate, issuer: ParsedCertificate, inheritedParameters?: Uint8Array): string | undefined {
  const memoKey = inheritedParameters ? `${issuer.id}/${Buffer.from(inheritedParameters).toString("hex")}` : issuer.id;
  const memo = cert.signatureChecks.get(memoKey);
  if (memo !== undefined) return memo === "" ? undefined : memo;
  const alg = cert.signatureAlgorithm;
  let reason: string | undefined;
  if ("unsupported" in alg) reason = alg.unsupported;
  else {
    const key = inheritedParameters ? issuer.publicKeyWithParameters(inheritedParameters) : issuer.publicKey();
    reason = key.value ? verifySignature(alg, cert.tbs, cert.signatureValue, key.value) : key.error;
  }
  cert.signatureChecks.set(memoKey, reason ?? "");
  return reason;
}

export function processPath(anchor: ParsedCertificate, certs: readonly ParsedCertificate[], o: PathOptions): PathOutcome {
  const n = certs.length;
  const checks: Check[] = [];
  // Index in the reported path: the target is 0, certificate i (1-based, RFC numbering) is n - i.
  let index = 0;
  const pass = (check: CheckName, detail: string, section: string = CHECKS[check]) => {
    checks.push({ check, rfcSection: section, index, ok: true, detail });
  };
  const fail = (check: CheckName, detail: string, section: string = CHECKS[check], revoked?: RevocationDetails): never => {
    const failure: Check = { check, rfcSection: section, index, ok: false, detail, ...(revoked ? { revoked } : {}) };
    checks.push(failure);
    throw new Failed(failure);
  };

  // §6.1.2 initialization.
  const tree = new ValidPolicyTree(o.policyNodeLimit);
  const nameConstraints = new NameConstraintState(o.nameConstraintComparisons);
  let explicitPolicy = o.initialExplicitPolicy ? 0 : n + 1;
  let inhibitAnyPolicy = o.initialAnyPolicyInhibit ? 0 : n + 1;
  let policyMapping = o.initialPolicyMappingInhibit ? 0 : n + 1;
  let workingIssuer = anchor; // working_public_key and working_issuer_name
  let workingKeyParameters = anchor.keyParameters;
  let maxPathLength = n;

  try {
    // RFC 5937 §2-3: a trust anchor given as a certificate brings its own constraints.
    index = n;
    checkAnchor();
    const anchorPathLen = anchor.ext.basicConstraints?.pathLen;
    if (anchorPathLen !== undefined && anchorPathLen < maxPathLength) maxPathLength = anchorPathLen;
    if (anchor.ext.nameConstraints) nameConstraints.add(anchor.ext.nameConstraints);
    pass(
      "anchor-constraints",
      `${anchorPathLen === undefined ? "no pathLenConstraint" : `pathLenConstraint ${anchorPathLen}`}; ${anchor.ext.nameConstraints ? "its name constraints apply to every certificate below" : "no name constraints"}`,
    );

    for (let i = 1; i <= n; i++) {
      const cert = certs[i - 1]!;
      const last = i === n;
      index = n - i;

      // §4.2: the extensions must be decodable and unique before anything reads them.
      if (cert.duplicateExtensions.length > 0) fail("duplicate-extensions", `extensions ${cert.duplicateExtensions.join(", ")} appear more than once`);
      pass("duplicate-extensions", "each extension appears once");
      if (cert.malformedExtensions.length > 0) {
        fail("extension-syntax", cert.malformedExtensions.map((m) => `${m.oid}: ${m.reason}`).join("; "));
      }
      pass("extension-syntax", "the extensions decode");

      // §6.1.3(a)(1): the signature, with the working public key.
      const alg = cert.signatureAlgorithm;
      if ("unsupported" in alg) fail("signature-algorithm", alg.unsupported);
      if (!cert.algorithmFieldsAgree) fail("signature-algorithm", "the signature field of the TBSCertificate differs from signatureAlgorithm", "4.1.1.2");
      if (!("unsupported" in alg) && alg.hash === "sha1" && !o.allowSha1) fail("signature-algorithm", `signed with ${alg.name}: ${SHA1_NOTE}`, "6.1.3(a)(1)");
      pass("signature-algorithm", "name" in alg ? alg.name : "");
      const issuerNeedsParameters = workingIssuer.inheritsKeyParameters && workingKeyParameters !== undefined;
      const sigFailure = signatureFailure(cert, workingIssuer, issuerNeedsParameters ? workingKeyParameters : undefined);
      if (sigFailure) fail("signature", `${sigFailure} (issuer ${workingIssuer.subject.text})`);
      pass("signature", `verified with the key of ${workingIssuer.subject.text}`);

      // §6.1.3(a)(2): validity at the validation time.
      const t = o.time.getTime();
      if (t < cert.notBefore.getTime()) fail("validity", `not valid before ${cert.notBefore.toISOString()} (validation time ${o.time.toISOString()})`);
      if (t > cert.notAfter.getTime()) fail("validity", `expired at ${cert.notAfter.toISOString()} (validation time ${o.time.toISOString()})`);
      pass("validity", `${cert.validityText[0]} .. ${cert.validityText[1]}`);

      // §6.1.3(a)(4), before (3) so that a CRL is only looked for under the right issuer.
      if (cert.issuer.key !== workingIssuer.subject.key) fail("name-chaining", `the issuer ${cert.issuer.text} is not the working issuer name ${workingIssuer.subject.text}`);
      pass("name-chaining", `issuer ${cert.issuer.text}`);

      // §6.1.3(a)(3): revocation.
      const revocation = checkRevocation(cert, workingIssuer, anchor, o.revocation);
      if (revocation.status === "revoked") {
        const { revocationDate, reason, invalidityDate } = revocation.entry;
        fail("revocation", revocation.reason, CHECKS.revocation, {
          revocationDate: revocationDate.toISOString(),
          ...(reason ? { reason } : {}),
          ...(invalidityDate ? { invalidityDate: invalidityDate.toISOString() } : {}),
        });
      }
      if (revocation.status === "unknown") fail("revocation", revocation.reason);
      pass("revocation", revocation.status === "good" || revocation.status === "unchecked" ? revocation.detail : "");

      // §6.1.3(b)-(c): name constraints, except on self-issued intermediates.
      if (cert.selfIssued && !last) pass("name-constraints", "self-issued intermediate: not subject to name constraints (§6.1.3(b))");
      else {
        const violation = nameConstraints.check(cert);
        if (violation) fail("name-constraints", violation);
        pass("name-constraints", nameConstraints.empty ? "no name constraints apply" : "every name is permitted and none excluded");
      }

      // §6.1.3(d)-(f): certificate policies.
      const policies = cert.ext.certificatePolicies;
      if (policies) tree.processCertificatePolicies(i, policies, inhibitAnyPolicy > 0 || (!last && cert.selfIssued));
      else tree.setNull();
      if (explicitPolicy <= 0 && tree.isNull) fail("certificate-policies", "an explicit policy is required and no acceptable policy remains in the valid_policy_tree", "6.1.3(f)");
      pass("certificate-policies", policies ? `asserts ${policies.map((p) => p.oid).join(", ")}` : "no certificatePolicies extension");

      if (!last) {
        prepareForNext(cert, i);
      } else {
        wrapUp(cert);
      }
      // RFC 5280 §4: the strict profile, after §6.1 so that an algorithm failure is reported first.
      if (o.strict) {
        const bad = profileViolation(cert);
        if (bad) fail("profile", `${bad.detail} (strict profile; --lenient skips it)`, bad.section);
        pass("profile", "conforms to the RFC 5280 §4 profile");
      }
    }
  } catch (e) {
    if (e instanceof Failed) return { ok: false, checks, failure: e.failure };
    if (e instanceof PolicyTreeTooLarge) {
      const failure: Check = { check: "certificate-policies", rfcSection: "6.1.3(d)", index, ok: false, detail: e.message };
      checks.push(failure);
      return { ok: false, checks, failure };
    }
    throw e;
  }

  // §6.1.5(g): the user-constrained policy set.
  return { ok: true, checks, policies: tree.isNull ? [] : tree.policiesAt(n) };

  /** The trust anchor's own validity, CA-ness, key usage and critical extensions (RFC 5937 §3), and its profile. */
  function checkAnchor(): void {
    const t = o.time.getTime();
    if (t < anchor.notBefore.getTime()) fail("anchor-validity", `the trust anchor is not valid before ${anchor.notBefore.toISOString()} (validation time ${o.time.toISOString()})`);
    if (t > anchor.notAfter.getTime()) fail("anchor-validity", `the trust anchor expired at ${anchor.notAfter.toISOString()} (validation time ${o.time.toISOString()})`);
    pass("anchor-validity", `${anchor.validityText[0]} .. ${anchor.validityText[1]}`);
    // A version 1 self-signed root cannot say it is a CA; it is taken as one, as every verifier does.
    const legacyRoot = anchor.version === 1 && isSelfSigned(anchor);
    if (!legacyRoot) {
      if (!anchor.ext.basicConstraints) fail("anchor-basic-constraints", "the trust anchor certificate has no basicConstraints: it is not a CA");
      if (!anchor.isCa) fail("anchor-basic-constraints", "the trust anchor certificate's basicConstraints says cA FALSE: it is not a CA");
    }
    pass("anchor-basic-constraints", legacyRoot ? "version 1 self-signed root (no extensions): taken as a CA" : "cA TRUE");
    if (anchor.ext.keyUsage !== undefined && (anchor.ext.keyUsage & KEY_USAGE.keyCertSign) === 0) fail("anchor-key-usage", "the trust anchor certificate's keyUsage does not allow keyCertSign");
    pass("anchor-key-usage", anchor.ext.keyUsage === undefined ? "no keyUsage extension" : "keyCertSign");
    if (anchor.unknownCriticalExtensions.length > 0) fail("anchor-critical-extensions", `the trust anchor has unrecognised critical extension(s) ${anchor.unknownCriticalExtensions.join(", ")}`);
    if (anchor.duplicateExtensions.length > 0 || anchor.malformedExtensions.length > 0) {
      fail("anchor-critical-extensions", `the trust anchor's extensions do not decode: ${[...anchor.duplicateExtensions.map((d) => `${d} twice`), ...anchor.malformedExtensions.map((m) => `${m.oid}: ${m.reason}`)].join("; ")}`);
    }
    pass("anchor-critical-extensions", "every critical extension is recognised");
    if (o.strict) {
      const bad = profileViolation(anchor);
      if (bad) fail("profile", `the trust anchor: ${bad.detail} (strict profile; --lenient skips it)`, bad.section);
      pass("profile", "the trust anchor conforms to the RFC 5280 §4 profile");
    }
  }

  /** §6.1.4: preparation for certificate i+1. */
  function prepareForNext(cert: ParsedCertificate, i: number): void {
    // (a)-(b): policy mappings.
    const mappings = cert.ext.policyMappings;
    if (mappings) {
      const bad = mappings.find((m) => m.issuerDomainPolicy === ANY_POLICY || m.subjectDomainPolicy === ANY_POLICY);
      if (bad) fail("policy-mappings", "anyPolicy may not be mapped to or from", "6.1.4(a)");
      const anyQualifiers = cert.ext.certificatePolicies?.find((p) => p.oid === ANY_POLICY)?.qualifiers;
      tree.applyPolicyMappings(i, mappings, anyQualifiers, policyMapping > 0);
      pass("policy-mappings", `${mappings.length} mapping(s) ${policyMapping > 0 ? "applied" : "inhibited: mapped policies removed"}`, "6.1.4(b)");
    }
    // (c)-(f): the working issuer name and key (with DSA parameters inherited when absent).
    if (!(cert.inheritsKeyParameters && workingIssuer.keyAlgorithm === cert.keyAlgorithm)) workingKeyParameters = cert.keyParameters;
    workingIssuer = cert;
    // (g): name constraints.
    if (cert.ext.nameConstraints) nameConstraints.add(cert.ext.nameConstraints);
    // (h): counters, unless self-issued.
    if (!cert.selfIssued) {
      if (explicitPolicy > 0) explicitPolicy--;
      if (policyMapping > 0) policyMapping--;
      if (inhibitAnyPolicy > 0) inhibitAnyPolicy--;
    }
    // (i)-(j): policyConstraints and inhibitAnyPolicy.
    const pc = cert.ext.policyConstraints;
    if (pc?.requireExplicitPolicy !== undefined && pc.requireExplicitPolicy < explicitPolicy) explicitPolicy = pc.requireExplicitPolicy;
    if (pc?.inhibitPolicyMapping !== undefined && pc.inhibitPolicyMapping < policyMapping) policyMapping = pc.inhibitPolicyMapping;
    const iap = cert.ext.inhibitAnyPolicy;
    if (iap !== undefined && iap < inhibitAnyPolicy) inhibitAnyPolicy = iap;
    // (k): a CA certificate.
    if (cert.version < 3) fail("basic-constraints", `a version ${cert.version} certificate cannot be an intermediate CA (no basicConstraints)`);
    if (!cert.ext.basicConstraints) fail("basic-constraints", "an intermediate certificate without basicConstraints is not a CA");
    if (!cert.isCa) fail("basic-constraints", "an intermediate certificate with basicConstraints cA FALSE is not a CA");
    pass("basic-constraints", "cA TRUE");
    // (l)-(m): path length.
    if (!cert.selfIssued) {
      if (maxPathLength <= 0) fail("path-length", "a pathLenConstraint above forbids another non-self-issued CA certificate here");
      maxPathLength--;
    }
    const pathLen = cert.ext.basicConstraints?.pathLen;
    if (pathLen !== undefined && pathLen < maxPathLength) maxPathLength = pathLen;
    pass("path-length", cert.selfIssued ? "self-issued: not counted (§6.1.4(l))" : `${maxPathLength} more CA certificate(s) allowed below`);
    // (n): keyCertSign.
    if (cert.ext.keyUsage !== undefined && (cert.ext.keyUsage & KEY_USAGE.keyCertSign) === 0) fail("key-usage", "the CA certificate's keyUsage does not allow keyCertSign");
    pass("key-usage", cert.ext.keyUsage === undefined ? "no keyUsage extension" : "keyCertSign");
    // (o): critical extensions.
    if (cert.unknownCriticalExtensions.length > 0) fail("critical-extensions", `unrecognised critical extension(s) ${cert.unknownCriticalExtensions.join(", ")}`);
    pass("critical-extensions", "every critical extension is recognised");
    // EKU chaining (see purpose.ts).
    const eku = caPurposeViolation(cert, o.purpose);
    if (eku) fail("extended-key-usage", eku);
    pass("extended-key-usage", o.purpose === "any" ? "purpose any" : `may certify for ${o.purpose}`);
  }

  /** §6.1.5: wrap-up on the target certificate. */
  function wrapUp(cert: ParsedCertificate): void {
    // (a)-(b)
    if (explicitPolicy > 0) explicitPolicy--;
    if (cert.ext.policyConstraints?.requireExplicitPolicy === 0) explicitPolicy = 0;
    // (f)
    if (cert.unknownCriticalExtensions.length > 0) fail("critical-extensions", `unrecognised critical extension(s) ${cert.unknownCriticalExtensions.join(", ")}`, "6.1.5(f)");
    pass("critical-extensions", "every critical extension is recognised", "6.1.5(f)");
    // (g)
    tree.intersect(n, o.initialPolicySet);
    if (explicitPolicy <= 0 && tree.isNull) {
      fail("explicit-policy", o.initialPolicySet ? "an explicit policy is required and the path supports none of the acceptable policies" : "an explicit policy is required and the path supports none");
    }
    pass("explicit-policy", tree.isNull ? "no policy required" : `valid for ${tree.policiesAt(n).join(", ")}`);
    // The target's own key is never used to verify anything on the path, yet the caller will trust
    // it: a key a CA must not certify (RSA e = 1, a compressed or non-canonical key) is refused here.
    const keyProblem = subjectPublicKeyProblem(cert.spki);
    if (keyProblem) fail("subject-public-key", keyProblem, "4.1.2.7");
    // The purpose (§4.2.1.12), and the key usage the caller needs.
    const purpose = targetPurposeViolation(cert, o.purpose);
    if (purpose) fail("extended-key-usage", purpose);
    pass("extended-key-usage", `purpose ${o.purpose}`);
    if (o.targetKeyUsage && cert.ext.keyUsage !== undefined && (cert.ext.keyUsage & o.targetKeyUsage.bits) === 0) {
      fail("key-usage", `keyUsage does not allow ${o.targetKeyUsage.name}`, "6.3.3(f)");
    }
  }
}
