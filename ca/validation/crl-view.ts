/**
 * What path validation needs to know about a CRL, and nothing more. Any CRL decoder can provide
 * it: `crlViewFromDer` (crl-der.ts) is a small one; a linear decoder for very large CRLs can
 * implement the same interface and be passed to `validatePath` as is.
 *
 * Conventions for implementers:
 * - serial numbers are lower-case hex without leading zero bytes (as `serialHex` in
 *   ca/x509/serial.ts writes them); `lookup` is called once per certificate checked.
 * - a critical CRL extension or CRL entry extension the decoder does not handle must be listed
 *   in `unsupportedCriticalExtensions` (RFC 5280 §5.2, §5.3): the CRL is then not used.
 * - the optional fields mirror CRL extensions; leave them undefined when the extension is absent;
 * - `lookupAll` and `certificateIssuer` matter only for indirect CRLs (RFC 5280 §5.2.5).
 */
import type { DistributionPointName } from "./extensions.js";

export type RevocationReason =
  | "unspecified"
  | "keyCompromise"
  | "cACompromise"
  | "affiliationChanged"
  | "superseded"
  | "cessationOfOperation"
  | "certificateHold"
  | "removeFromCRL"
  | "privilegeWithdrawn"
  | "aACompromise";

/** CRLReason codes (RFC 5280 §5.3.1); 7 is unused. */
export const REVOCATION_REASONS: readonly (RevocationReason | undefined)[] = [
  "unspecified",
  "keyCompromise",
  "cACompromise",
  "affiliationChanged",
  "superseded",
  "cessationOfOperation",
  "certificateHold",
  undefined,
  "removeFromCRL",
  "privilegeWithdrawn",
  "aACompromise",
];

export interface RevokedEntry {
  readonly revocationDate: Date;
  readonly reason?: RevocationReason;
  readonly invalidityDate?: Date;
  /** In an indirect CRL: the issuer (Name, DER) of the certificate this entry revokes, when not the CRL's issuer (§5.3.3). */
  readonly certificateIssuer?: Uint8Array;
}

/** issuingDistributionPoint (RFC 5280 §5.2.5): which certificates and reasons the CRL covers. */
export interface IssuingDistributionPoint {
  readonly distributionPoint?: DistributionPointName;
  readonly onlyContainsUserCerts: boolean;
  readonly onlyContainsCACerts: boolean;
  /** ReasonFlags bits (bit 1 keyCompromise ... bit 8 aACompromise); undefined: every reason. */
  readonly onlySomeReasons?: number;
  readonly indirectCRL: boolean;
  readonly onlyContainsAttributeCerts: boolean;
}

export interface CrlView {
  /** The issuer Name, DER, as in the CRL. */
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  readonly crlNumber?: bigint;
  /** True when the cRLNumber extension is marked critical (RFC 5280 §5.2.3 forbids it). */
  readonly crlNumberCritical?: boolean;
  /** authorityKeyIdentifier's keyIdentifier, lower-case hex. */
  readonly authorityKeyId?: string;
  /** The outer signatureAlgorithm's OID (SHA-1 signatures are refused like certificates'). */
  readonly signatureAlgorithm: string;
  /** deltaCRLIndicator's BaseCRLNumber: present only on a delta CRL. */
  readonly deltaBaseCrlNumber?: bigint;
  readonly issuingDistributionPoint?: IssuingDistributionPoint;
  readonly unsupportedCriticalExtensions?: readonly string[];
  /** Whether the CRL's signature verifies with this SubjectPublicKeyInfo (DER). */
  verifySignature(issuerSpki: Uint8Array): boolean;
  /** The entry for a serial number, or undefined when the CRL does not list it. */
  lookup(serialHex: string): RevokedEntry | undefined;
  /**
   * Optional, for indirect CRLs only: every entry with this serial, whatever its certificate
   * issuer. An indirect CRL is not used when its view does not implement this.
   */
  lookupAll?(serialHex: string): readonly RevokedEntry[];
}
