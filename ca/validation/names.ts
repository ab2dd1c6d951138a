/**
 * Distinguished names for path validation: RFC 5280 §7.1 comparison.
 *
 * Two names match when they have the same RDNs in the same order, and each RDN holds the same set
 * of attribute type-and-values. Values of the directory string types (PrintableString, UTF8String,
 * and the legacy Teletex, BMP, Universal and IA5 strings) are compared after the essentials of the
 * RFC 4518 string preparation: Unicode NFKC, case folding, leading and trailing spaces removed and
 * inner runs of white space folded to one space — so "Acme  CA" in a PrintableString matches
 * "acme ca" in a UTF8String. Any other value is compared as exact DER.
 *
 * Every name is reduced once to a comparison key (a string); matching is then string equality,
 * which makes issuer lookup a Map lookup.
 */
import { SHORT_NAMES, nameToString } from "../x509/name.js";
import { DerError, TAG, content, hex, items, readOid, rootOf, type Tlv } from "./asn1.js";

export const OID_EMAIL_ADDRESS = "1.2.840.113549.1.9.1";

export interface DistinguishedName {
  /** The Name's DER, tag included, byte for byte as in the certificate. */
  readonly der: Uint8Array;
  /** One comparison key per RDN, most significant first (for directoryName subtree prefixes). */
  readonly rdnKeys: readonly string[];
  /** Equal keys ⇔ the names match under RFC 5280 §7.1. */
  readonly key: string;
  /** For people: "CN=dev-0001, O=Acme". */
  readonly text: string;
  /** Values of emailAddress attributes (legacy e-mail in the DN, subject to rfc822Name constraints). */
  readonly emailAddresses: readonly string[];
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

const STRING_TAGS = new Set<number>([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.TELETEX_STRING, TAG.IA5_STRING, TAG.UNIVERSAL_STRING, TAG.BMP_STRING]);

/** The text of a string-typed attribute value, or undefined when the bytes are not valid for the type. */
export function decodeDirectoryString(tag: number, bytes: Uint8Array): string | undefined {
  try {
    switch (tag) {
      case TAG.UTF8_STRING:
        return UTF8.decode(bytes);
      case TAG.PRINTABLE_STRING:
      case TAG.IA5_STRING:
      case TAG.TELETEX_STRING: // read as Latin-1, as most software does
        return Buffer.from(bytes).toString("latin1");
      case TAG.BMP_STRING:
        if (bytes.length % 2) return undefined;
        return Buffer.from(bytes).swap16().toString("utf16le");
      case TAG.UNIVERSAL_STRING: {
        if (bytes.length % 4) return undefined;
        let s = "";
        for (let i = 0; i < bytes.length; i += 4) s += String.fromCodePoint(((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0);
        return s;
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** RFC 4518 in essence: NFKC, case fold, insignificant space handling. */
export function prepareString(value: string): string {
  // NFKC leaves printable ASCII unchanged: skip it for the common case.
  const normalized = PRINTABLE_ASCII.test(value) ? value : value.normalize("NFKC");
  return normalized.toLowerCase().replace(/\s+/g, " ").trim();
}

interface ParsedRdn {
  readonly key: string;
  readonly display: { type: string; value: string }[];
  readonly emailAddresses: string[];
}

/** One RelativeDistinguishedName (a SET of type-and-values) reduced to its comparison key. */
export function parseRdn(buf: Uint8Array, rdn: Tlv): ParsedRdn {
  const atvKeys: string[] = [];
  const display: { type: string; value: string }[] = [];
  const emailAddresses: string[] = [];
  const atvs = items(buf, rdn, "RelativeDistinguishedName", TAG.SET);
  if (atvs.length === 0) throw new DerError("an empty RelativeDistinguishedName");
  for (const atv of atvs) {
    const [typeTlv, valueTlv, extra] = items(buf, atv, "AttributeTypeAndValue");
    if (!valueTlv || extra) throw new DerError("malformed AttributeTypeAndValue");
    const type = readOid(buf, typeTlv, "attribute type");
    const text = STRING_TAGS.has(valueTlv.tag) ? decodeDirectoryString(valueTlv.tag, content(buf, valueTlv)) : undefined;
    const raw = hex(buf.subarray(valueTlv.start, valueTlv.end));
    // JSON quoting keeps the key unambiguous whatever the value holds.
    atvKeys.push(text !== undefined ? `${type}=${JSON.stringify(prepareString(text))}` : `${type}#${raw}`);
    display.push({ type: SHORT_NAMES[type] ?? type, value: text ?? `#${raw}` });
    if (type === OID_EMAIL_ADDRESS && text !== undefined) emailAddresses.push(text);
  }
  // An RDN is a SET: the order of its members carries no meaning.
  return { key: atvKeys.sort().join("+"), display, emailAddresses };
}

/**
 * Parse a Name (the TLV `name` inside `buf`). Throws DerError on structural damage only: unknown
 * attribute types and value encodings are kept as exact bytes.
 */
export function parseDistinguishedName(buf: Uint8Array, name: Tlv): DistinguishedName {
  const rdnKeys: string[] = [];
  const display: { type: string; value: string }[] = [];
  const emailAddresses: string[] = [];
  for (const rdnTlv of items(buf, name, "Name")) {
    const rdn = parseRdn(buf, rdnTlv);
    rdnKeys.push(rdn.key);
    display.push(...rdn.display);
    emailAddresses.push(...rdn.emailAddresses);
  }
  return {
    der: buf.subarray(name.start, name.end),
    rdnKeys,
    key: rdnKeys.join(","),
    text: display.length === 0 ? "(empty name)" : nameToString(display),
    emailAddresses,
  };
}

/** A Name given alone as DER (a CRL issuer, for instance). */
export function distinguishedNameFromDer(der: Uint8Array): DistinguishedName {
  return parseDistinguishedName(der, rootOf(der, TAG.SEQUENCE, "Name"));
}

/** True when `name` lies in the subtree rooted at `base`: base's RDNs are a prefix of name's (§4.2.1.10). */
export function isDnWithin(name: DistinguishedName, base: DistinguishedName): boolean {
  if (base.rdnKeys.length > name.rdnKeys.length) return false;
  for (let i = 0; i < base.rdnKeys.length; i++) if (base.rdnKeys[i] !== name.rdnKeys[i]) return false;
  return true;
}
