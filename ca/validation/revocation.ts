/**
 * Revocation from CRLs, for one certificate of a path (RFC 5280 §6.1.3(a)(3), following the CRL
 * processing of §6.3.3):
 * - which CRLs cover the certificate, for which reasons (issuer or cRLIssuer, distribution point,
 *   onlyContains*, onlySomeReasons): crl-scope.ts (§6.3.3(b), (d));
 * - a CRL must be signed by the certificate's issuer, or by another certificate with the CRL
 *   issuer's name that validates to the same trust anchor (§6.3.3(f)); either must allow cRLSign
 *   when it has a keyUsage extension; the CRL's authorityKeyIdentifier, when present, selects the key;
 * - it must be current at the validation time: thisUpdate <= time <= nextUpdate (§6.3.3(a));
 * - partitions are united until every reason is covered (§6.3.3(i));
 * - a delta CRL (§5.2.4) extends a complete CRL of the same scope whose number is at least its
 *   BaseCRLNumber; its removeFromCRL entries release a certificateHold (§5.3.1);
 * - indirect CRLs are used when their view can tell whose each entry is (CrlView.lookupAll).
 *
 * An authentic CRL that lists the certificate proves revocation even after its nextUpdate (a
 * revocation does not expire; a hold might, so a stale hold is not counted).
 */
import type { ParsedCertificate } from "./certificate.js";
import { ALL_REASONS, applicability, entryFor, mightCover } from "./crl-scope.js";
import type { CrlView, RevokedEntry } from "./crl-view.js";
import { KEY_USAGE } from "./extensions.js";
import type { DistinguishedName } from "./names.js";

export type RevocationMode = "require" | "if-available" | "off";

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
  /** The CRL profile of §5 (cRLNumber present, non-critical); false under --lenient. */
  readonly strict: boolean;
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
  const candidates = ctx.crls.filter((c) => mightCover(c, cert));
  const complete = candidates.filter((c) => c.view.deltaBaseCrlNumber === undefined).sort(newestFirst);
  const deltas = candidates.filter((c) => c.view.deltaBaseCrlNumber !== undefined).sort(newestFirst);
  const unusable: string[] = [];
  let covered = 0;
  let coveredBy = "";

  const usable = (crl: PreparedCrl): { authentic: boolean; fresh: boolean; reasons: number } => {
    const v = crl.view;
    const why = (r: string, authentic = false) => (unusable.push(`${serialOf(crl)} from ${crl.issuer.text}: ${r}`), { authentic, fresh: false, reasons: 0 });
    if ((v.unsupportedCriticalExtensions ?? []).length > 0) return why(`it has unsupported critical extensions (${v.unsupportedCriticalExtensions!.join(", ")})`);
    if (!ctx.allowSha1 && SHA1_SIGNATURES.has(v.signatureAlgorithm)) return why("it is signed with SHA-1");
    // §5.2.3: "CRL issuers conforming to this profile MUST include this extension in all CRLs and
    // MUST mark this extension as non-critical." Without it, CRLs cannot be ordered nor deltas tied.
    if (ctx.strict && v.crlNumber === undefined) return why("it has no cRLNumber extension (RFC 5280 §5.2.3; --lenient accepts it)");
    if (ctx.strict && v.crlNumberCritical === true) return why("its cRLNumber extension is marked critical (RFC 5280 §5.2.3; --lenient accepts it)");
    const scope = applicability(crl, cert);
    if (!scope.applies) return why(scope.why);
    const signer = crlSigner(crl, issuer, anchor, ctx);
    if (!signer.ok) return why(signer.reason);
    if (v.thisUpdate.getTime() > t) return why(`it was issued after the validation time (thisUpdate ${v.thisUpdate.toISOString()})`, true);
    if (v.nextUpdate && v.nextUpdate.getTime() < t) return why(`it expired at its nextUpdate ${v.nextUpdate.toISOString()}`, true);
    return { authentic: true, fresh: true, reasons: scope.reasons };
  };
  const revoked = (entry: RevokedEntry, crl: PreparedCrl, delta = false): RevocationOutcome => ({
    status: "revoked",
    entry,
    reason: `it was revoked on ${entry.revocationDate.toISOString()}${entry.reason ? ` (${entry.reason})` : ""}, per ${delta ? "delta " : ""}${serialOf(crl)} from ${crl.issuer.text}`,
  });
  /** The fresh, authentic delta CRL on `base` (same scope, BaseCRLNumber at most base's number), if any. */
  const deltaFor = (base: PreparedCrl): PreparedCrl | undefined => {
    const n = base.view.crlNumber;
    if (n === undefined) return undefined;
    return deltas.find((d) => d.view.deltaBaseCrlNumber! <= n && d.view.crlNumber !== undefined && d.view.crlNumber > n && sameScope(d.view, base.view) && usable(d).fresh);
  };

  for (const crl of complete) {
    if ((covered & ALL_REASONS) === ALL_REASONS) break;
    const { authentic, fresh, reasons } = usable(crl);
    if (!authentic) continue;
    let entry = entryFor(crl, cert);
    const delta = fresh ? deltaFor(crl) : undefined;
    const change = delta ? entryFor(delta, cert) : undefined;
    if (change?.reason === "removeFromCRL" && entry?.reason === "certificateHold") entry = undefined; // the hold is released
    // A revocation does not expire: an authentic stale CRL still proves one (but not a hold, which may have been released).
    if (entry && entry.reason !== "removeFromCRL" && (fresh || entry.reason !== "certificateHold")) return revoked(entry, crl);
    if (change && change.reason !== "removeFromCRL") return revoked(change, delta!, true);
    if (!fresh) continue;
    covered |= reasons;
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
