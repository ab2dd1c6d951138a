/** TOTP codes for tests, standing in for the operator's authenticator app: from the enrolment's otpauth URI, at a given time (default now). */
import { secretOfOtpauthUri, totp } from "../../ca/index.js";

export const secretOf = secretOfOtpauthUri;

export function totpNow(otpauthUri: string, at: Date = new Date()): string {
  return totp(secretOfOtpauthUri(otpauthUri), at);
}
