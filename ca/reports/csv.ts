/**
 * The report's CSV: one row per certificate issued in the period (RFC 4180: a header row, fields
 * quoted when they hold a comma, quote or line break, quotes doubled, CRLF line ends, UTF-8), so it
 * opens in a spreadsheet as it is. Streamed from the inventory: a home of millions is never in
 * memory. A field a spreadsheet would run as a formula (= + - @ at its start) is prefixed with '.
 */
import { once } from "node:events";
import type { Writable } from "node:stream";
import type { Home } from "../home.js";
import { statusAt } from "../store/types.js";
import { reportPeriod, type ReportOptions } from "./build.js";

export const CSV_COLUMNS = ["serial", "subject", "ca", "profile", "status", "notBefore", "notAfter", "issuedAt", "operator", "station", "batch", "session", "origin", "revocationReason", "revokedAt"] as const;

/** One RFC 4180 field. */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** Write the period's certificates as CSV to `out`; resolves with the number of rows. */
export async function writeReportCsv(home: Home, options: ReportOptions, out: Writable): Promise<number> {
  const now = home.clock();
  const { from, to } = reportPeriod(options, now);
  const revocations = await home.inventory.revocations();
  let rows = 0;
  let chunk = `${CSV_COLUMNS.join(",")}\r\n`;
  const filter = { issuedFrom: from.toISOString(), issuedTo: to.toISOString(), ...(options.ca ? { ca: options.ca } : {}) };
  for await (const r of home.inventory.query(filter, now)) {
    const revoked = revocations.get(r.serial);
    const fields = [r.serial, r.subject, r.ca, r.profile, statusAt(r, now, revoked), r.notBefore, r.notAfter, r.issuedAt, r.operator, r.station, r.batch ?? "", r.session ?? "", r.origin ?? "", revoked?.reason ?? "", revoked?.revokedAt ?? ""];
    chunk += `${fields.map(csvField).join(",")}\r\n`;
    rows++;
    // Write in pieces of about 64 KiB, waiting when the file is slower than the inventory.
    if (chunk.length >= 65_536) {
      if (!out.write(chunk)) await once(out, "drain");
      chunk = "";
    }
  }
  out.write(chunk);
  return rows;
}
