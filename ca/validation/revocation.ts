/**
 * Revocation from CRLs, for one certificate of a path (RFC 5280 §6.1.3(a)(3), following the CRL
 * processing of §6.3.3 where it applies to direct CRLs):
 * - a CRL is considered when its issuer name matches the certificate's issuer (§6.3.3(b)(1));
 * - its scope must cover the certificate: issuingDistributionPoint's onlyContainsUserCerts /
 *   onlyContainsCACerts / onlyContainsAttributeCerts, and its distribution point name must match
 *   one in the certificate's cRLDistributionPoints (§6.3.3(b)(2));
 * - it must be signed by the certificate's issuer, or by another certificate with the issuer's name
 *   that validates to the same trust anchor (§6.3.3(f)); either must allow cRLSign when it has a
 *   keyUsage extension; the CRL's authorityKeyIdentifier, when present, selects the key;
 * - it must be current at the validation time: thisUpdate <= time <= nextUpdate (§6.3.3(a));
 * - onlySomeReasons partitions are united until every reason is covered (§6.3.3(d), (i));
 * - a delta CRL (§5.2.4) extends a complete CRL of the same scope whose number is at least its
 *   BaseCRLNumber; its removeFromCRL entries release a certificateHold.
 * Indirect CRLs (§5.2.5 indirectCRL, certificateIssuer entries) are not used.
 *
 * An authentic CRL that lists the certificate proves revocation even after its nextUpdate (a
 * revocation does not expire; a hold might, so a stale hold is not counted).
 */
import type { ParsedCertificate } from "./certificate.js";
import type { CrlView, RevokedEntry } from "./crl-view.js";
import { KEY_USAGE, type DistributionPointName } from "./extensions.js";
import type { GeneralName } from "./general-names.js";
import type { DistinguishedName } from "./names.js";

export type RevocationMode = "require" | "if-available" | "off";

/** Every ReasonFlags bit a CRL can cover: keyCompromise (1) to aACompromise (8). */
const ALL_REASONS = 0x1fe;

const SHA1_SIGNATURES = new Set(["1.2.840.113549.1.1.5", "1.2.840.10045.4.1", "1.2.840.10040.4.3"]);

export interface PreparedCrl {
  readonly view: CrlView;
  readonly issuer: DistinguishedName;
  /** Position among the CRLs given, for messages. */
  readonly position: number;
}

export interface RevocationContext {
  readonly mode: RevocationMode;
  readonly time: Date;
  readonly allowSha1: boolean;
  readonly crls: readonly PreparedCrl[];
  /** Certificates (anchors and intermediates) whose subject has this name key. */
  certificatesNamed(nameKey: string): readonly ParsedCertificate[];
  /** §6.3.3(f): validate a CRL signer other than the issuer, to `anchor`; the reason when it fails. */
  validateCrlSigner(signer: ParsedCertificate, anchor: ParsedCertificate): string | undefined;
}

export type RevocationOutcome =
  | { readonly status: "good"; readonly detail: string }
  | { readonly status: "unchecked"; readonly detail: string }
  | { readonly status: "revoked"; readonly reason: string; readonly entry: RevokedEntry }
  | { readonly status: "unknown"; readonly reason: string };

/** Comparable text for distribution point names; relative names are completed with `base`. */
function dpNames(name: DistributionPointName, base: DistinguishedName): string[] {
  if ("relativeRdnKey" in name) return [`dn:${[...base.rdnKeys, name.relativeRdnKey].join(",")}`];
  return name.fullName.map(generalNameKey);
}

function generalNameKey(n: GeneralName): string {
  switch (n.kind) {
    case "dn":
      return `dn:${n.name.key}`;
    case "ip":
      return `ip:${Buffer.from(n.bytes).toString("hex")}`;
    case "email":
    case "dns":
    case "uri":
      return `${n.kind}:${n.value}`;
    default:
      return `${n.kind}:${Buffer.from(n.der).toString("hex")}`;
  }
}

/** Why the CRL's scope does not cover `cert`, or undefined when it does (§6.3.3(b)(2)). */
function scopeMismatch(crl: PreparedCrl, cert: ParsedCertificate): string | undefined {
  const idp = crl.view.issuingDistributionPoint;
  if (!idp) return undefined;
  if (idp.indirectCRL) return "it is an indirect CRL (not supported)";
  if (idp.onlyContainsAttributeCerts) return "it covers only attribute certificates";
  if (idp.onlyContainsUserCerts && cert.isCa) return "it covers only end-entity certificates";
  if (idp.onlyContainsCACerts && !cert.isCa) return "it covers only CA certificates";
  if (idp.distributionPoint) {
    const crlNames = new Set(dpNames(idp.distributionPoint, crl.issuer));
    const points = cert.ext.crlDistributionPoints ?? [];
    const matches = points.some((dp) =>
      dp.name ? dpNames(dp.name, cert.issuer).some((n) => crlNames.has(n)) : (dp.crlIssuer ?? []).some((n) => crlNames.has(generalNameKey(n))),
    );
    if (!matches) return "its distribution point is not one the certificate names";
  }
  return undefined;
}

const sameScope = (a: CrlView, b: CrlView): boolean => JSON.stringify(a.issuingDistributionPoint ?? null) === JSON.stringify(b.issuingDistributionPoint ?? null);

/**
 * The certificate that signed `crl`, when it is acceptable (§6.3.3(f)); else why not. `issuer` is
 * the certificate's issuer in the path (or the trust anchor).
 */
function crlSigner(crl: PreparedCrl, issuer: ParsedCertificate, anchor: ParsedCertificate, ctx: RevocationContext): { ok: true; signer: ParsedCertificate } | { ok: false; reason: string } {
  const aki = crl.view.authorityKeyId;
  const keyFits = (c: ParsedCertificate) => aki === undefined || c.ext.subjectKeyId === undefined || c.ext.subjectKeyId === aki;
  const mayCrlSign = (c: ParsedCertificate) => c.ext.keyUsage === undefined || (c.ext.keyUsage & KEY_USAGE.cRLSign) !== 0;
  let reason = "its signature does not verify with the issuer's key";
  if (keyFits(issuer) && crl.view.verifySignature(issuer.spki)) {
    if (mayCrlSign(issuer)) return { ok: true, signer: issuer };
    reason = "the issuer's keyUsage does not allow cRLSign";
  }
  for (const other of ctx.certificatesNamed(crl.issuer.key)) {
    if (other.id === issuer.id || !keyFits(other) || !crl.view.verifySignature(other.spki)) continue;
    if (!mayCrlSign(other)) {
      reason = "its signer's keyUsage does not allow cRLSign";
      continue;
    }
    const failure = ctx.validateCrlSigner(other, anchor);
    if (failure === undefined) return { ok: true, signer: other };
    reason = `its signer ${other.subject.text} (serial ${other.serial}) does not validate: ${failure}`;
  }
  return { ok: false, reason };
}

const serialOf = (crl: PreparedCrl) => (crl.view.crlNumber !== undefined ? `CRL #${crl.view.crlNumber}` : `CRL ${crl.position + 1}`);

function newestFirst(a: PreparedCrl, b: PreparedCrl): number {
  const an = a.view.crlNumber ?? -1n;
  const bn = b.view.crlNumber ?? -1n;
  if (an !== bn) return an > bn ? -1 : 1;
  return b.view.thisUpdate.getTime() - a.view.thisUpdate.getTime();
}

/** The revocation status of `cert`, issued by `issuer` (a path certificate or the anchor). */
export function checkRevocation(cert: ParsedCertificate, issuer: ParsedCertificate, anchor: ParsedCertificate, ctx: RevocationContext): RevocationOutcome {
  if (ctx.mode === "off") return { status: "unchecked", detail: "revocation checking is off" };
  const t = ctx.time.getTime();
  const sameIssuer = ctx.crls.filter((c) => c.issuer.key === cert.issuer.key);
  const complete = sameIssuer.filter((c) => c.view.deltaBaseCrlNumber === undefined).sort(newestFirst);
  const deltas = sameIssuer.filter((c) => c.view.deltaBaseCrlNumber !== undefined).sort(newestFirst);
  const unusable: string[] = [];
  let covered = 0;
  let coveredBy = "";

  const usable = (crl: PreparedCrl): { authentic: boolean; fresh: boolean } => {
    const v = crl.view;
    const why = (r: string) => (unusable.push(`${serialOf(crl)} from ${crl.issuer.text}: ${r}`), { authentic: false, fresh: false });
    if ((v.unsupportedCriticalExtensions ?? []).length > 0) return why(`it has unsupported critical extensions (${v.unsupportedCriticalExtensions!.join(", ")})`);
    if (!ctx.allowSha1 && SHA1_SIGNATURES.has(v.signatureAlgorithm)) return why("it is signed with SHA-1");
    const scope = scopeMismatch(crl, cert);
    if (scope) return why(scope);
    const signer = crlSigner(crl, issuer, anchor, ctx);
    if (!signer.ok) return why(signer.reason);
    if (v.thisUpdate.getTime() > t) return { ...why(`it was issued after the validation time (thisUpdate ${v.thisUpdate.toISOString()})`), authentic: true };
    if (v.nextUpdate && v.nextUpdate.getTime() < t) return { ...why(`it expired at its nextUpdate ${v.nextUpdate.toISOString()}`), authentic: true };
    return { authentic: true, fresh: true };
  };

  for (const crl of complete) {
    if ((covered & ALL_REASONS) === ALL_REASONS) break;
    const { authentic, fresh } = usable(crl);
    if (!authentic) continue;
    let entry = crl.view.lookup(cert.serial);
    if (entry && fresh && entry.reason === "certificateHold") {
      // A delta CRL may release the hold (removeFromCRL) or make it final.
      for (const delta of deltas) {
        if (delta.view.deltaBaseCrlNumber! > (crl.view.crlNumber ?? -1n) || !sameScope(delta.view, crl.view)) continue;
        const d = usable(delta);
        if (!d.authentic || !d.fresh) continue;
        const change = delta.view.lookup(cert.serial);
        if (change?.reason === "removeFromCRL") entry = undefined;
        else if (change) entry = change;
        break;
      }
    }
    if (entry && entry.reason !== "removeFromCRL" && (fresh || entry.reason !== "certificateHold")) {
      return {
        status: "revoked",
        entry,
        reason: `it was revoked on ${entry.revocationDate.toISOString()}${entry.reason ? ` (${entry.reason})` : ""}, per ${serialOf(crl)} from ${crl.issuer.text}`,
      };
    }
    if (!fresh) continue;
    // A fresh delta CRL based on this one may list a newer revocation.
    for (const delta of deltas) {
      if (crl.view.crlNumber === undefined || delta.view.deltaBaseCrlNumber! > crl.view.crlNumber || !sameScope(delta.view, crl.view)) continue;
      const d = usable(delta);
      if (!d.authentic || !d.fresh) continue;
      const added = delta.view.lookup(cert.serial);
      if (added && added.reason !== "removeFromCRL") {
        return { status: "revoked", entry: added, reason: `it was revoked on ${added.revocationDate.toISOString()}${added.reason ? ` (${added.reason})` : ""}, per delta ${serialOf(delta)} from ${delta.issuer.text}` };
      }
      break;
    }
    covered |= crl.view.issuingDistributionPoint?.onlySomeReasons ?? ALL_REASONS;
    coveredBy = coveredBy ? `${coveredBy}, ${serialOf(crl)}` : serialOf(crl);
  }

  if ((covered & ALL_REASONS) === ALL_REASONS) return { status: "good", detail: `not revoked (${coveredBy} from ${cert.issuer.text})` };
  const why =
    covered !== 0
      ? `: the current CRLs (${coveredBy}) cover only some revocation reasons`
      : unusable.length > 0
        ? `: ${unusable.slice(0, 3).join("; ")}${unusable.length > 3 ? "; ..." : ""}`
        : `: none of the ${ctx.crls.length} CRLs given is from ${cert.issuer.text}`;
  if (ctx.mode === "require") return { status: "unknown", reason: `no current CRL covers the certificate${why}` };
  return { status: "unchecked", detail: `not checked: no current CRL covers the certificate${why}` };
}
