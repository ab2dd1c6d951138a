/**
 * Which CRLs speak for a certificate, and for which reasons (RFC 5280 §6.3.3(b) and (d)):
 * - for each of the certificate's distribution points (or, without the extension, a default one
 *   naming nothing), the CRL's issuer must be the DP's cRLIssuer in an indirect CRL, or else the
 *   certificate's issuer (§6.3.3(b)(1));
 * - the issuingDistributionPoint's name must match the DP's name, or its cRLIssuer when the DP
 *   has no name; onlyContainsUserCerts / CACerts / AttributeCerts must fit (§6.3.3(b)(2));
 * - the reasons covered are the DP's reasons within the IDP's onlySomeReasons (§6.3.3(d)).
 * And which entry of a CRL is the certificate's: in an indirect CRL, the one whose
 * certificateIssuer (RFC 5280 §5.3.3) is the certificate's issuer.
 */
import type { ParsedCertificate } from "./certificate.js";
import type { RevokedEntry } from "./crl-view.js";
import type { DistributionPoint, DistributionPointName } from "./extensions.js";
import type { GeneralName } from "./general-names.js";
import { distinguishedNameFromDer, type DistinguishedName } from "./names.js";
import type { PreparedCrl } from "./revocation.js";

/** Every ReasonFlags bit a CRL can cover: keyCompromise (1) to aACompromise (8). */
export const ALL_REASONS = 0x1fe;

/** Comparable text for distribution point names; a relative name is completed with `base`. */
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

const dnOf = (names: readonly GeneralName[] | undefined): DistinguishedName | undefined => {
  const dn = names?.find((n) => n.kind === "dn");
  return dn?.kind === "dn" ? dn.name : undefined;
};

/** The implicit distribution point of a certificate without cRLDistributionPoints. */
const DEFAULT_POINT: DistributionPoint = {};

export type Applicability = { readonly applies: true; readonly reasons: number } | { readonly applies: false; readonly why: string };

/** Whether `crl` covers `cert`, and for which revocation reasons. */
export function applicability(crl: PreparedCrl, cert: ParsedCertificate): Applicability {
  const idp = crl.view.issuingDistributionPoint;
  if (idp?.onlyContainsAttributeCerts) return { applies: false, why: "it covers only attribute certificates" };
  if (idp?.onlyContainsUserCerts && cert.isCa) return { applies: false, why: "it covers only end-entity certificates" };
  if (idp?.onlyContainsCACerts && !cert.isCa) return { applies: false, why: "it covers only CA certificates" };
  const indirect = idp?.indirectCRL === true;
  if (indirect && !crl.view.lookupAll) return { applies: false, why: "it is an indirect CRL and its decoder does not say whose each entry is" };

  let reasons = 0;
  let why = crl.issuer.key === cert.issuer.key ? "its distribution point is not one the certificate names" : "it is from another issuer";
  for (const dp of cert.ext.crlDistributionPoints ?? [DEFAULT_POINT]) {
    if (dp.crlIssuer) {
      // (b)(1): the DP names its CRL issuer: an indirect CRL from that issuer.
      if (!dp.crlIssuer.some((n) => n.kind === "dn" && n.name.key === crl.issuer.key)) continue;
      if (!indirect) {
        why = "the certificate names this CRL's issuer as its cRLIssuer, but the CRL is not indirect";
        continue;
      }
    } else if (crl.issuer.key !== cert.issuer.key) continue;
    // (b)(2)(i): distribution point names.
    if (idp?.distributionPoint) {
      const crlNames = new Set(dpNames(idp.distributionPoint, crl.issuer));
      const certNames = dp.name ? dpNames(dp.name, dnOf(dp.crlIssuer) ?? cert.issuer) : (dp.crlIssuer ?? []).map(generalNameKey);
      if (!certNames.some((n) => crlNames.has(n))) continue;
    }
    reasons |= (dp.reasons ?? ALL_REASONS) & (idp?.onlySomeReasons ?? ALL_REASONS);
  }
  return reasons !== 0 ? { applies: true, reasons } : { applies: false, why };
}

/** A first cut before `applicability`: CRLs from the certificate's issuer, from a cRLIssuer it names, or indirect ones. */
export function mightCover(crl: PreparedCrl, cert: ParsedCertificate): boolean {
  if (crl.issuer.key === cert.issuer.key || crl.view.issuingDistributionPoint?.indirectCRL === true) return true;
  return (cert.ext.crlDistributionPoints ?? []).some((dp) => dp.crlIssuer?.some((n) => n.kind === "dn" && n.name.key === crl.issuer.key));
}

/** The CRL's entry for `cert`, if it lists it (in an indirect CRL, under the certificate's issuer). */
export function entryFor(crl: PreparedCrl, cert: ParsedCertificate): RevokedEntry | undefined {
  if (crl.view.issuingDistributionPoint?.indirectCRL !== true) return crl.view.lookup(cert.serial);
  for (const entry of crl.view.lookupAll?.(cert.serial) ?? []) {
    const issuerKey = entry.certificateIssuer ? distinguishedNameFromDer(entry.certificateIssuer).key : crl.issuer.key;
    if (issuerKey === cert.issuer.key) return entry;
  }
  return undefined;
}
