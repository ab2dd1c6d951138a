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

/** Echo user input in messages without control characters that could forge log lines. */
export function printable(s: string): string {
  const clipped = s.length > 80 ? `${s.slice(0, 77)}...` : s;
  return clipped.replace(/[\u0000-\u001f\u007f]/g, "?");
}
