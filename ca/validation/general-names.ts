/** GeneralName (RFC 5280 §4.2.1.6), as subjectAltName, name constraints and CRL distribution points use it. */
import { ctx, ctxCons, DerError, content, items, readOid, readTlv, type Tlv } from "./asn1.js";
import { parseDistinguishedName, type DistinguishedName } from "./names.js";

/** The name forms this engine compares; the others are kept opaque. */
export type GeneralName =
  | { readonly kind: "email"; readonly value: string }
  | { readonly kind: "dns"; readonly value: string }
  | { readonly kind: "uri"; readonly value: string }
  | { readonly kind: "ip"; readonly bytes: Uint8Array }
  | { readonly kind: "dn"; readonly name: DistinguishedName }
  | { readonly kind: OpaqueNameForm; readonly der: Uint8Array };

export type OpaqueNameForm = "otherName" | "x400Address" | "ediPartyName" | "registeredID";
export type NameForm = GeneralName["kind"];

const ia5 = (buf: Uint8Array, t: Tlv, what: string): string => {
  const bytes = content(buf, t);
  for (const b of bytes) if (b > 0x7f) throw new DerError(`${what} is not IA5 (ASCII) text`);
  return Buffer.from(bytes).toString("latin1");
};

export function parseGeneralName(buf: Uint8Array, t: Tlv, context: "name" | "constraint" = "name"): GeneralName {
  switch (t.tag) {
    case ctx(1):
      return { kind: "email", value: ia5(buf, t, "rfc822Name") };
    case ctx(2):
      return { kind: "dns", value: ia5(buf, t, "dNSName") };
    case ctx(6):
      return { kind: "uri", value: ia5(buf, t, "uniformResourceIdentifier") };
    case ctx(7): {
      const bytes = content(buf, t);
      // An address is 4 or 16 bytes; a constraint is an address and a mask (8 or 32 bytes).
      const sizes = context === "name" ? [4, 16] : [8, 32];
      if (!sizes.includes(bytes.length)) throw new DerError(`iPAddress ${context} of ${bytes.length} bytes`);
      return { kind: "ip", bytes };
    }
    case ctxCons(4): {
      const inner = readTlv(buf, t.contentStart, t.end);
      if (inner.end !== t.end) throw new DerError("directoryName holds more than one Name");
      return { kind: "dn", name: parseDistinguishedName(buf, inner) };
    }
    case ctxCons(0):
      return { kind: "otherName", der: buf.subarray(t.start, t.end) };
    case ctxCons(3):
      return { kind: "x400Address", der: buf.subarray(t.start, t.end) };
    case ctxCons(5):
      return { kind: "ediPartyName", der: buf.subarray(t.start, t.end) };
    case ctx(8):
      readOid(buf, { ...t, tag: 0x06 }, "registeredID");
      return { kind: "registeredID", der: buf.subarray(t.start, t.end) };
    default:
      throw new DerError(`unknown GeneralName tag 0x${t.tag.toString(16)}`);
  }
}

/** GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName. */
export function parseGeneralNames(buf: Uint8Array, t: Tlv | undefined, what: string, tag = 0x30): GeneralName[] {
  const list = items(buf, t, what, tag);
  if (list.length === 0) throw new DerError(`${what} is empty`);
  return list.map((n) => parseGeneralName(buf, n));
}

export function describeGeneralName(n: GeneralName): string {
  switch (n.kind) {
    case "email":
    case "dns":
    case "uri":
      return `${n.kind}:${n.value}`;
    case "ip":
      return `ip:${formatIp(n.bytes)}`;
    case "dn":
      return `dn:${n.name.text}`;
    default:
      return n.kind;
  }
}

export function formatIp(bytes: Uint8Array): string {
  const address = (b: Uint8Array) =>
    b.length === 4
      ? [...b].join(".")
      : Array.from({ length: b.length / 2 }, (_, i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(":");
  if (bytes.length === 8 || bytes.length === 32) {
    const half = bytes.length / 2;
    return `${address(bytes.subarray(0, half))}/${address(bytes.subarray(half))}`;
  }
  return address(bytes);
}
