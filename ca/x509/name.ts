/** X.501 Names: read the attributes out of DER without a schema library. */
import { children, content, DerError, oidText, type Tlv } from "./der.js";

export interface NameAttribute {
  /** Short name (CN, O, OU, C, ...) or the dotted OID when unknown. */
  readonly type: string;
  readonly value: string;
}

/** Short names for the attribute types people see in certificates; others print as dotted OIDs. */
export const SHORT_NAMES: Readonly<Record<string, string>> = {
  "2.5.4.3": "CN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "E",
  "0.9.2342.19200300.100.1.25": "DC",
};

function decodeString(tag: number, bytes: Uint8Array): string {
  switch (tag) {
    case 0x0c: // UTF8String
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (treated as Latin-1, as most software does)
      return Buffer.from(bytes).toString("latin1");
    case 0x1e: // BMPString (UTF-16BE)
      return Buffer.from(bytes).swap16().toString("utf16le");
    default:
      throw new DerError(`unsupported string type 0x${tag.toString(16)} in a name`);
  }
}

export function parseName(buf: Uint8Array, name: Tlv): NameAttribute[] {
  const out: NameAttribute[] = [];
  for (const rdn of children(buf, name)) {
    if (rdn.tag !== 0x31) throw new DerError("a name component is not a SET");
    for (const atv of children(buf, rdn)) {
      const [type, value] = children(buf, atv);
      if (!type || !value || type.tag !== 0x06) throw new DerError("malformed name attribute");
      const dotted = oidText(content(buf, type));
      out.push({ type: SHORT_NAMES[dotted] ?? dotted, value: decodeString(value.tag, content(buf, value)) });
    }
  }
  return out;
}

/** RFC 4514-style text, most significant component first as people read it in OpenSSL's order. */
export function nameToString(attrs: readonly NameAttribute[]): string {
  return attrs.map((a) => `${a.type}=${a.value.replace(/([,+"\\<>;])/g, "\\$1")}`).join(", ");
}
