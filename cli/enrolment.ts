/** Showing an enrolment's one-time secret to the person enrolling: the otpauth URI and its QR code. */
import type { Enrolment } from "../ca/index.js";

/** The authenticator app's enrolment as text; a QR code too when a person is at a terminal. */
export async function enrolmentText(e: Enrolment): Promise<string[]> {
  if (!e.otpauthUri) return [];
  const lines = [`Enrol ${e.operator.id}'s authenticator app now (shown once, never again):`, `  ${e.otpauthUri}`];
  // The QR library is loaded only to draw one: no other command pays for it.
  if (process.stdout.isTTY) lines.push(await (await import("qrcode")).default.toString(e.otpauthUri, { type: "terminal", small: true }));
  return lines;
}
