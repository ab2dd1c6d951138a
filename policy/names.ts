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
