/**
 * Certificate encoding, general path: @peculiar/x509 encodes the TBSCertificate, our Signer signs
 * it (so any key backend works: file, Key Vault, HSM), and we splice the signature in.
 */
import { x509 } from "./peculiar.js";
import { type CertificateTemplate, type HostName, ipAddressOctets, type KeyUsage } from "../../policy/index.js";
import { SIGNATURE_ALGORITHMS, keyIdentifier, type Signer } from "../keys/signer.js";
import { children, readRoot, slice } from "./der.js";
import { subjectPublicKeyBits } from "./keys.js";
import { serialHex } from "./serial.js";

const KEY_USAGE_FLAGS: Readonly<Record<KeyUsage, x509.KeyUsageFlags>> = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  nonRepudiation: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
};

export interface CertificateToSign {
  readonly serial: Uint8Array;
  readonly template: CertificateTemplate;
  /** The subject's SubjectPublicKeyInfo, DER. */
  readonly subjectPublicKey: Uint8Array;
  /** The issuer's subject Name, DER, byte for byte as in its certificate; undefined for self-signed. */
  readonly issuerName: Uint8Array | undefined;
  /** The issuer's SPKI (for the authority key identifier); the signer's key for self-signed. */
  readonly issuerPublicKey: Uint8Array;
}

/** The subject Name as the template says it: O before CN (most significant first). */
export function subjectName(template: CertificateTemplate): x509.Name {
  const rdns: x509.JsonName = [];
  if (template.subject.organization !== undefined) rdns.push({ O: [template.subject.organization] });
  rdns.push({ CN: [template.subject.commonName] });
  return new x509.Name(rdns);
}

/** A host for @peculiar/x509: IPv6 written as eight full groups, the one form its parser reads exactly. */
function peculiarHost(host: HostName): { type: "dns" | "ip"; value: string } {
  if (host.type === "dns") return { type: "dns", value: host.value };
  const o = ipAddressOctets(host.value)!;
  if (o.length === 4) return { type: "ip", value: [...o].join(".") };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((o[i]! << 8) | o[i + 1]!).toString(16));
  return { type: "ip", value: groups.join(":") };
}

/** Extensions in a fixed order (the fast encoder relies on the same order). */
export function certificateExtensions(template: CertificateTemplate, subjectPublicKey: Uint8Array, issuerPublicKey: Uint8Array): x509.Extension[] {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const bc = template.basicConstraints;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(bc.ca, bc.ca ? bc.pathLen : undefined, true),
    new x509.KeyUsagesExtension(template.keyUsage.reduce((flags, u) => flags | KEY_USAGE_FLAGS[u], 0), true),
  ];
  if (template.extendedKeyUsage.length > 0) {
    extensions.push(new x509.ExtendedKeyUsageExtension([...template.extendedKeyUsage], false));
  }
  extensions.push(new x509.SubjectKeyIdentifierExtension(hex(keyIdentifier(subjectPublicKeyBits(subjectPublicKey)))));
  // subjectAltName right after the key id: the per-certificate extensions sit together (the fast encoder's layout).
  const sanNames = [...(template.subjectAltNameUris ?? []).map((value) => ({ type: "url" as const, value })), ...(template.subjectAltNameHosts ?? []).map(peculiarHost)];
  if (sanNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sanNames, false));
  extensions.push(new x509.AuthorityKeyIdentifierExtension(hex(keyIdentifier(subjectPublicKeyBits(issuerPublicKey)))));
  if (template.policyOids.length > 0) extensions.push(new x509.CertificatePolicyExtension([...template.policyOids], false));
  if (template.crlDistributionPoints.length > 0) extensions.push(new x509.CRLDistributionPointsExtension([...template.crlDistributionPoints], false));
  if (template.ocspUrls.length > 0 || template.caIssuersUrls.length > 0) {
    extensions.push(new x509.AuthorityInfoAccessExtension({ ocsp: [...template.ocspUrls], caIssuers: [...template.caIssuersUrls] }, false));
  }
  // id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1): extnValue is an encoded NULL.
  if (template.ocspNoCheck) extensions.push(new x509.Extension("1.3.6.1.5.5.7.48.1.5", false, Uint8Array.of(0x05, 0x00)));
  return extensions;
}

/** Encode the TBSCertificate with @peculiar/x509 (a placeholder signature is dropped right away). */
export async function encodeTbsCertificate(input: CertificateToSign, signer: Pick<Signer, "algorithm">): Promise<Uint8Array> {
  const algorithm = SIGNATURE_ALGORITHMS[signer.algorithm];
  const subject = subjectName(input.template);
  const placeholder = new Uint8Array(algorithm.webCrypto.name === "ECDSA" ? (algorithm.hash === "sha384" ? 96 : 64) : 256).fill(1);
  const draft = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(input.serial),
    subject,
    issuer: input.issuerName ? new x509.Name(input.issuerName) : subject,
    notBefore: input.template.notBefore,
    notAfter: input.template.notAfter,
    publicKey: input.subjectPublicKey,
    signature: placeholder,
    signingAlgorithm: { ...algorithm.webCrypto },
    extensions: certificateExtensions(input.template, input.subjectPublicKey, input.issuerPublicKey),
  });
  const der = new Uint8Array(draft.rawData);
  const tbs = children(der, readRoot(der))[0]!;
  return slice(der, tbs).slice();
}
