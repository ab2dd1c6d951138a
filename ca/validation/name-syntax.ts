/**
 * The syntax RFC 5280 §4.2.1.6 requires of names in subjectAltName: dNSName in the preferred name
 * syntax (RFC 1034 §3.5 as modified by RFC 1123 §2.1), rfc822Name as an RFC 5321 Mailbox, a URI
 * with a scheme. Each function returns why the name is malformed, or undefined.
 *
 * A wildcard ("*" as the whole leftmost label, RFC 6125 §6.4.3) is accepted in a dNSName of a
 * subjectAltName: it is how TLS certificates name a set of hosts, and name constraints treat it as
 * that set (name-constraints.ts).
 */

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const IPV4_TEXT = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function dnsNameSyntaxError(name: string, allowWildcard = true): string | undefined {
  if (name.length === 0 || name === " ") return "an empty dNSName";
  if (name.length > 253) return "a dNSName longer than 253 characters";
  if (name.startsWith(".")) return "a dNSName with a leading dot";
  if (name.includes("_")) return "a dNSName with an underscore (not in the preferred name syntax)";
  if (IPV4_TEXT.test(name) || name.includes(":")) return "an IP address written as a dNSName (use iPAddress)";
  const labels = name.endsWith(".") ? name.slice(0, -1).split(".") : name.split(".");
  for (const [i, label] of labels.entries()) {
    if (i === 0 && label === "*" && allowWildcard && labels.length > 2) continue;
    if (label === "") return "a dNSName with an empty label";
    if (!LABEL.test(label)) return `a dNSName label "${label.slice(0, 20)}" outside the preferred name syntax (letters, digits, inner hyphens, at most 63 characters)`;
  }
  return undefined;
}

export function emailSyntaxError(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  if (at <= 0 || at === address.length - 1) return "an rfc822Name that is not local-part@domain";
  const local = address.slice(0, at);
  if (/[\s<>()\[\],;:\\"]/.test(local) && !/^"[^"]*"$/.test(local)) return "an rfc822Name whose local part is not an RFC 5321 Mailbox (display names and brackets are not allowed)";
  const domain = address.slice(at + 1);
  if (domain.startsWith("[") && domain.endsWith("]")) return undefined; // an address literal
  const dns = dnsNameSyntaxError(domain, false);
  return dns ? `an rfc822Name whose domain is ${dns}` : undefined;
}

export function uriSyntaxError(uri: string): string | undefined {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:./.test(uri)) return "a uniformResourceIdentifier without a scheme (a relative reference)";
  if (/[\s<>"{}|\\^`]/.test(uri)) return "a uniformResourceIdentifier with characters a URI cannot hold";
  return undefined;
}
