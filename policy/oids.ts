/**
 * Object identifiers used by Trustline.
 *
 * Trustline's own arc lives under 2.25 (ITU-T X.667: an OID made from a UUID needs no registration
 * and is unique by construction). UUID 9b344ced-0a05-4a4a-9597-71c39a91b54f as an integer:
 */
export const TRUSTLINE_ARC = "2.25.206301899026611410302643436773021168975";

/** The certificate policy document itself (certificate-policy.md), and one policy per certificate kind. */
export const POLICY_OIDS = {
  certificatePolicy: `${TRUSTLINE_ARC}.1`,
  deviceIdentity: `${TRUSTLINE_ARC}.1.1`,
  firmwareSigning: `${TRUSTLINE_ARC}.1.2`,
  dpsVerification: `${TRUSTLINE_ARC}.1.3`,
} as const;

/** RFC 5280 §4.2.1.12 key purposes. */
export const EKU_OIDS = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  codeSigning: "1.3.6.1.5.5.7.3.3",
  emailProtection: "1.3.6.1.5.5.7.3.4",
  timeStamping: "1.3.6.1.5.5.7.3.8",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  /**
   * Trustline's own key purpose: signing the head of a home's audit log. No registered key purpose
   * fits (codeSigning or OCSPSigning would let the key pass for something it is not), and a
   * dedicated one means no other certificate the root issued can stand in for the audit key.
   */
  auditLogSigning: `${TRUSTLINE_ARC}.2.1`,
} as const;

export type ExtendedKeyUsage = keyof typeof EKU_OIDS;
