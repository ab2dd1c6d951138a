/**
 * Name rules. Pure functions: each returns the problems it found (empty when the name is valid).
 */

/**
 * A DPS registration ID as the device's certificate CN. DPS accepts alphanumerics and `- . _ :`
 * (case-insensitive) and up to 128 characters, but an X.509 CN is at most 64 (RFC 5280 ub-common-name),
 * and IoT Hub is safest with IDs that start and end alphanumeric.
 */
export const REGISTRATION_ID_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._:-]{0,62}[A-Za-z0-9])?$/;
export const MAX_COMMON_NAME_LENGTH = 64;

export function registrationIdProblems(id: string): string[] {
  if (id.length === 0) return ["the common name is empty; it must be the device's DPS registration ID"];
  if (id.length > MAX_COMMON_NAME_LENGTH) {
    return [`the common name is ${id.length} characters; a DPS registration ID is at most ${MAX_COMMON_NAME_LENGTH}`];
  }
  if (!REGISTRATION_ID_PATTERN.test(id)) {
    return [
      `the common name "${printable(id)}" is not a valid DPS registration ID: use letters, digits and - . _ : only, starting and ending with a letter or digit`,
    ];
  }
  return [];
}

/** A person's or pipeline's name for a firmware signer, or an organisation name: printable, 1..64 characters. */
export const DISPLAY_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._@()/:,'+-]*$/u;

export function displayNameProblems(name: string, what: string): string[] {
  if (name.trim().length === 0) return [`the ${what} is empty`];
  if (name.length > MAX_COMMON_NAME_LENGTH) return [`the ${what} is ${name.length} characters; at most ${MAX_COMMON_NAME_LENGTH}`];
  if (!DISPLAY_NAME_PATTERN.test(name)) {
    return [`the ${what} "${printable(name)}" has characters outside letters, digits, space and . _ @ ( ) / : , ' + -`];
  }
  return [];
}

/** A DPS verification code: the service issues hex strings; accept what a CN can carry safely. */
export const VERIFICATION_CODE_PATTERN = /^[A-Za-z0-9]{1,64}$/;

export function verificationCodeProblems(code: string): string[] {
  return VERIFICATION_CODE_PATTERN.test(code)
    ? []
    : [`the verification code "${printable(code)}" must be 1 to 64 letters or digits, as DPS issues it`];
}

/** The placeholder a device SAN template names the registration ID with. */
export const REGISTRATION_ID_PLACEHOLDER = "{registration-id}";
/** A URI in a certificate: an IA5String; RFC 3986 syntax, printable ASCII, no spaces, at most 255 characters here. */
export const DEVICE_URI_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
/** RFC 8141: urn:<NID>:<NSS>, the NID 2 to 32 letters, digits and hyphens, not ending in a hyphen. */
const URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]{0,30}[A-Za-z0-9]:.+$/i;
const MAX_URI_LENGTH = 255;

/** Problems with the URI a device certificate's subjectAltName would carry (checked like the CN). */
export function deviceUriProblems(uri: string): string[] {
  if (uri.length > MAX_URI_LENGTH) return [`the subjectAltName URI is ${uri.length} characters; at most ${MAX_URI_LENGTH}`];
  if (!DEVICE_URI_PATTERN.test(uri)) return [`the subjectAltName URI "${printable(uri)}" is not a URI (RFC 3986: scheme ":" then printable ASCII without spaces)`];
  if (/^urn:/i.test(uri) && !URN.test(uri)) return [`the subjectAltName URN "${printable(uri)}" needs a namespace of 2 to 32 letters, digits and hyphens (RFC 8141): urn:<nid>:<rest>`];
  return [];
}

/** The device URI for `registrationId` under `template` (which holds REGISTRATION_ID_PLACEHOLDER once). */
export function deviceUri(template: string, registrationId: string): string {
  return template.replace(REGISTRATION_ID_PLACEHOLDER, registrationId);
}

/** Problems with a device SAN template (`init --device-san`): the placeholder exactly once, a URI once filled in. */
export function deviceUriTemplateProblems(template: string): string[] {
  const count = template.split(REGISTRATION_ID_PLACEHOLDER).length - 1;
  if (count !== 1) return [`the device subjectAltName template "${printable(template)}" must hold ${REGISTRATION_ID_PLACEHOLDER} exactly once (it holds it ${count} times)`];
  return deviceUriProblems(deviceUri(template, "a"));
}

/** A URN namespace from an organisation name: "Acme Devices" → "acme-devices" (2 to 32 characters). */
export function organizationUrnId(organization: string): string {
  const slug = organization
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .slice(0, 32)
    .replace(/^-+|-+$/g, "");
  return slug.length >= 2 ? slug : `org-${slug || "x"}`;
}

/** The default device SAN of a new home: `urn:<org-id>:device:{registration-id}`. */
export function defaultDeviceUriTemplate(organization: string): string {
  return `urn:${organizationUrnId(organization)}:device:${REGISTRATION_ID_PLACEHOLDER}`;
}

/** Echo user input in messages without control characters that could forge log lines. */
export function printable(s: string): string {
  const clipped = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  return clipped.replace(/[\u0000-\u001f\u007f]/g, "?");
}

/**
 * A production-line station's name (the CN of its `station` certificate, and the name of its files):
 * 1 to 64 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit.
 */
export const STATION_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$/;

export function stationNameProblems(name: string): string[] {
  if (name.length === 0) return ["the station name is empty"];
  if (name.length > MAX_COMMON_NAME_LENGTH) return [`the station name is ${name.length} characters; at most ${MAX_COMMON_NAME_LENGTH}`];
  if (!STATION_NAME_PATTERN.test(name)) return [`the station name "${printable(name)}" must be lowercase letters, digits, - and . only, starting and ending with a letter or digit`];
  return [];
}

/** How many host names a `tls-server` certificate may carry. */
export const MAX_TLS_HOSTS = 16;

/** A host as a subjectAltName entry: a DNS name (dNSName) or an IP address literal (iPAddress). */
export type HostName = { readonly type: "dns"; readonly value: string } | { readonly type: "ip"; readonly value: string };

/** The 4 octets of a dotted-quad IPv4 literal (no leading zeros, each 0..255), or undefined. */
function ipv4Octets(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

/** The 16 octets of an IPv6 literal (RFC 4291 §2.2: `::` once, an IPv4 tail allowed; no zone, no brackets), or undefined. */
function ipv6Octets(text: string): number[] | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let tail: number[] = [];
  let body = text;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = ipv4Octets(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    // "::1.2.3.4" keeps its "::"; "a:b:c:d:e:f:1.2.3.4" drops the colon before the IPv4 part.
    body = text[lastColon - 1] === ":" ? text.slice(0, lastColon + 1) : text.slice(0, lastColon);
  }
  const groupsWanted = 8 - tail.length / 2;
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const parse = (s: string): number[] | undefined => {
    if (s === "") return [];
    const groups = s.split(":");
    const out: number[] = [];
    for (const g of groups) {
      if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
      const v = parseInt(g, 16);
      out.push(v >> 8, v & 0xff);
    }
    return out;
  };
  let bytes: number[];
  if (halves.length === 2) {
    const head = parse(halves[0]!);
    const rest = parse(halves[1]!);
    if (!head || !rest) return undefined;
    const missing = groupsWanted * 2 - head.length - rest.length;
    if (missing < 2) return undefined; // "::" stands for at least one group
    bytes = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    const all = parse(body);
    if (!all || all.length !== groupsWanted * 2) return undefined;
    bytes = all;
  }
  return [...bytes, ...tail];
}

/** The octets of an IP address literal (4 for IPv4, 16 for IPv6), or undefined when `text` is not one. */
export function ipAddressOctets(text: string): Uint8Array | undefined {
  const octets = text.includes(":") ? ipv6Octets(text) : ipv4Octets(text);
  return octets ? Uint8Array.from(octets) : undefined;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;

/**
 * A host for a TLS server certificate (RFC 5280 §4.2.1.6, RFC 6125): an IP address literal (IPv4
 * dotted quad, IPv6 text), or a DNS host name in preferred name syntax (RFC 1034 §3.5, RFC 1123
 * §2.1: letter-digit-hyphen labels of 1 to 63 characters, at most 253 in all, no wildcard, no
 * trailing dot, a last label that is not all digits). Returns the entry (DNS names in lower case) or every problem.
 */
export function parseHost(text: string): { ok: true; host: HostName } | { ok: false; problem: string } {
  const shown = `"${printable(text)}"`;
  if (text.length === 0) return { ok: false, problem: "a host name is empty" };
  if (text.includes(":") || /^[0-9.]+$/.test(text)) {
    if (ipAddressOctets(text)) return { ok: true, host: { type: "ip", value: text.toLowerCase() } };
    return { ok: false, problem: `the host ${shown} is not an IP address literal (IPv4 a.b.c.d without leading zeros, or IPv6 without brackets or a zone)` };
  }
  if (text.includes("*")) return { ok: false, problem: `the host ${shown} is a wildcard; a tls-server certificate names each host` };
  if (text.length > 253) return { ok: false, problem: `the host name ${shown} is ${text.length} characters; a DNS name is at most 253` };
  if (text.endsWith(".")) return { ok: false, problem: `the host name ${shown} ends with a dot; give it without the trailing dot` };
  const labels = text.split(".");
  const bad = labels.find((l) => !DNS_LABEL.test(l));
  if (bad !== undefined) return { ok: false, problem: `the host name ${shown} is not a DNS host name: each label is 1 to 63 letters, digits and -, not starting or ending with - (label "${printable(bad)}")` };
  if (/^[0-9]+$/.test(labels.at(-1)!)) return { ok: false, problem: `the host name ${shown} ends in an all-numeric label; a DNS host name does not (an IP address is written a.b.c.d)` };
  return { ok: true, host: { type: "dns", value: text.toLowerCase() } };
}
