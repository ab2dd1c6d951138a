/** Showing an enrolment's one-time secret to the person enrolling: the otpauth URI and its QR code. */
import QRCode from "qrcode";
import type { Enrolment } from "../ca/index.js";

/** The authenticator app's enrolment as text; a QR code too when a person is at a terminal. */
export async function enrolmentText(e: Enrolment): Promise<string[]> {
  if (!e.otpauthUri) return [];
  const lines = [`Enrol ${e.operator.id}'s authenticator app now (shown once, never again):`, `  ${e.otpauthUri}`];
  if (process.stdout.isTTY) lines.push(await QRCode.toString(e.otpauthUri, { type: "terminal", small: true }));
  return lines;
}
