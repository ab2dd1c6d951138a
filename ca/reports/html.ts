/**
 * The report as one self-contained HTML file: inline CSS and SVG, no script, no network, so it
 * reads the same in any browser with JavaScript off, on screen and printed (a print stylesheet with
 * page breaks between sections). Charts are SVG with a text alternative (role="img", <title>, and
 * the same numbers in a table). Every value from the home is escaped: subjects, stations and
 * batch names come from outside.
 */
import type { Counts, ReportData } from "./build.js";

const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const fmt = (n: number) => n.toLocaleString("en-US");

/** Colours for stations and reasons, distinguishable in print too (each bar also has its label in the table). */
const PALETTE = ["#1f5fa8", "#d9822b", "#2e8b57", "#b03a48", "#6b4fa0", "#7a7a7a", "#3aa0a8", "#a8892e"];

function table(caption: string, head: readonly string[], rows: readonly (readonly unknown[])[], empty = "none"): string {
  if (rows.length === 0) return `<p class="empty"><strong>${esc(caption)}:</strong> ${esc(empty)}</p>`;
  return `<table><caption>${esc(caption)}</caption><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

const countRows = (counts: Counts) => Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));

/** Every day of the period (UTC), so a day without issuance shows as an empty column. */
function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(from.slice(0, 10)); t < Date.parse(to); t += 86_400_000) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** Issuance per day, stacked by station: one <rect class="bar"> per day and station with a count. */
function timeline(data: ReportData): string {
  const days = daysOf(data.period.from, data.period.to);
  const stations = Object.keys(data.issuance.byStation).sort();
  const max = Math.max(1, ...days.map((d) => Object.values(data.issuance.byDay[d] ?? {}).reduce((a, b) => a + b, 0)));
  const width = 720;
  const height = 220;
  const step = width / Math.max(1, days.length);
  const bars: string[] = [];
  days.forEach((d, i) => {
    let y = height;
    stations.forEach((s, j) => {
      const n = data.issuance.byDay[d]?.[s] ?? 0;
      if (n === 0) return;
      const h = (n / max) * (height - 10);
      y -= h;
      bars.push(`<rect class="bar" data-day="${d}" data-station="${esc(s)}" x="${(i * step + 1).toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, step - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[j % PALETTE.length]}"><title>${d} ${esc(s)}: ${n}</title></rect>`);
    });
  });
  const total = data.issuance.total;
  const legend = stations.map((s, j) => `<li><span class="swatch" style="background:${PALETTE[j % PALETTE.length]}"></span>${esc(s)}</li>`).join("");
  return `<figure><svg role="img" aria-labelledby="tl-title tl-desc" viewBox="0 0 ${width} ${height}" width="100%" height="${height}" xmlns="http://www.w3.org/2000/svg"><title id="tl-title">Certificates issued per day, stacked by station</title><desc id="tl-desc">${fmt(total)} certificates over ${days.length} days; the table "Issuance by day" gives every number.</desc><line x1="0" y1="${height}" x2="${width}" y2="${height}" stroke="#444"/>${bars.join("")}</svg><figcaption>Issued per day (UTC), stacked by station. Peak ${fmt(max)} a day.<ul class="legend">${legend}</ul></figcaption></figure>`;
}

/** Revocations by reason: horizontal bars, one <rect class="reason-bar"> per reason. */
function reasons(data: ReportData): string {
  const rows = countRows(data.revocations.byReason);
  if (rows.length === 0) return "";
  const max = Math.max(...rows.map(([, n]) => n));
  const rowHeight = 26;
  const bars = rows
    .map(([reason, n], i) => `<text x="0" y="${i * rowHeight + 17}" font-size="13">${esc(reason)}</text><rect class="reason-bar" x="170" y="${i * rowHeight + 4}" width="${((n / max) * 480).toFixed(1)}" height="18" fill="${PALETTE[i % PALETTE.length]}"><title>${esc(reason)}: ${n}</title></rect><text x="${(175 + (n / max) * 480).toFixed(1)}" y="${i * rowHeight + 17}" font-size="13">${fmt(n)}</text>`)
    .join("");
  return `<figure><svg role="img" aria-labelledby="rv-title" viewBox="0 0 720 ${rows.length * rowHeight + 8}" width="100%" height="${rows.length * rowHeight + 8}" xmlns="http://www.w3.org/2000/svg"><title id="rv-title">Revocations by reason: ${rows.map(([r, n]) => `${esc(r)} ${n}`).join(", ")}</title>${bars}</svg><figcaption>Revocations in the period by reason.</figcaption></figure>`;
}

const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1b1b;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:2px solid #1f5fa8;padding-bottom:.2rem;margin-top:2rem}
.meta{color:#555}.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.6rem;margin:1rem 0}
.tile{border:1px solid #ccd;border-radius:6px;padding:.6rem .8rem}.tile .n{font-size:1.6rem;font-weight:700;display:block}
.tile.bad{border-color:#b03a48;color:#b03a48}
table{border-collapse:collapse;margin:.8rem 0;width:100%}caption{text-align:left;font-weight:600;margin-bottom:.3rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}td{font-variant-numeric:tabular-nums}
thead th{background:#eef2f8}.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
.ok{color:#2e8b57;font-weight:700}.bad{color:#b03a48;font-weight:700}figure{margin:1rem 0}
@media print{body{margin:0;max-width:none;font-size:11pt}section{break-before:page}section:first-of-type{break-before:auto}
table,figure{break-inside:avoid}h2{break-after:avoid}a{color:inherit}}
`;

export function renderReportHtml(data: ReportData): string {
  const tile = (label: string, n: number | string, id: string, bad = false) => `<div class="tile${bad ? " bad" : ""}"><span class="n" id="${id}">${typeof n === "number" ? fmt(n) : esc(n)}</span>${esc(label)}</div>`;
  const a = data.audit;
  const days = daysOf(data.period.from, data.period.to);
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Trustline report: ${esc(data.home.organization)}, ${esc(data.period.from.slice(0, 10))} to ${esc(data.period.to.slice(0, 10))}</title>
<style>${STYLE}</style></head>
<body>
<header><h1>Certificate report: ${esc(data.home.organization)}</h1>
<p class="meta">Period ${esc(data.period.from)} to ${esc(data.period.to)}${data.filter.ca ? `, CA ${esc(data.filter.ca)}` : ""}. Generated ${esc(data.generatedAt)} by Trustline (${esc(data.format)}). Issued under certificate policy ${esc(data.home.certificatePolicyOid)} (arc ${esc(data.home.policyArc)}).</p></header>
<main>
<section aria-labelledby="s-summary"><h2 id="s-summary">Summary</h2>
<div class="tiles">${tile("certificates issued", data.issuance.total, "total-issued")}${tile("requests refused", data.refusals.total, "total-refused")}${tile("revoked or held", data.revocations.total, "total-revoked")}${tile("expire within 30 days", data.expiring.within30Days, "expiring-30")}${tile("anomalies", data.anomalies.length, "total-anomalies", data.anomalies.length > 0)}${tile("audit log", a.intact ? "intact" : "NOT intact", "audit-verdict", !a.intact)}</div>
<p>Audit trail: ${a.intact ? `<span class="ok">intact</span>, ${fmt(a.entries)} entries, head signed through entry ${fmt(a.signedThrough ?? 0)} (SHA-256 ${esc(a.headHash)})` : `<span class="bad">NOT intact</span>: ${esc(a.problem)}`}.</p>
${timeline(data)}
</section>
<section aria-labelledby="s-issuance"><h2 id="s-issuance">Issuance</h2>
${table("By operator", ["Operator", "Certificates"], countRows(data.issuance.byOperator))}
${table("By station", ["Station", "Certificates"], countRows(data.issuance.byStation))}
${table("By sign-in origin", ["Origin", "Certificates"], countRows(data.issuance.byOrigin))}
${table("By CA", ["CA", "Certificates"], countRows(data.issuance.byCa))}
${table("By profile", ["Profile", "Certificates"], countRows(data.issuance.byProfile))}
${table("By batch", ["Batch", "Certificates"], countRows(data.issuance.byBatch))}
${table("Issuance by day", ["Day", "Certificates", "By station"], days.filter((d) => data.issuance.byDay[d]).map((d) => [d, Object.values(data.issuance.byDay[d]!).reduce((x, y) => x + y, 0), countRows(data.issuance.byDay[d]!).map(([s, n]) => `${s} ${n}`).join(", ")]))}
</section>
<section aria-labelledby="s-refusals"><h2 id="s-refusals">Refusals and revocations</h2>
${table("Refusals by reason code", ["Code", "Requests"], countRows(data.refusals.byCode))}
${reasons(data)}
${table("Revocations by reason", ["Reason", "Certificates"], countRows(data.revocations.byReason))}
${table("Mass revocations", ["Time", "Operator", "Reason", "Certificates", "Selector"], data.revocations.mass.map((m) => [m.time, m.operator, m.reason, m.count, JSON.stringify(m.selector)]))}
${table("Expiring (valid now)", ["Within", "Certificates"], [["30 days", data.expiring.within30Days], ["90 days", data.expiring.within90Days], ["365 days", data.expiring.within365Days]])}
</section>
<section aria-labelledby="s-publication"><h2 id="s-publication">Publication, DPS and firmware</h2>
${table("CRLs published", ["CA", "CRL number", "Time", "Entries"], data.crls.map((c) => [c.ca, c.crlNumber, c.time, c.entries]))}
${table("OCSP responder certificates", ["CA", "Serial", "Valid until"], data.ocspResponders.map((r) => [r.ca, r.serial, r.notAfter]))}
${table("Azure DPS", ["Operation", "Count"], [["disabled-enrollment exports", data.dps.exports], ["pushes", data.dps.pushes], ["CA uploads", data.dps.uploads]])}
${table("Firmware signer certificates", ["Subject", "Serial", "Issued", "Valid until", "Status", "Operator"], data.firmwareSigners.map((s) => [s.subject, s.serial, s.issuedAt, s.notAfter, s.status, s.operator]))}
</section>
<section aria-labelledby="s-anomalies"><h2 id="s-anomalies">Worth an auditor's eye</h2>
${table("Anomalies", ["Kind", "What"], data.anomalies.map((x) => [x.kind, x.message]), "none found")}
</section>
<section aria-labelledby="s-home"><h2 id="s-home">The CA home</h2>
${table("Certification authorities", ["CA", "Profile", "Subject", "Key", "Valid from", "Valid until", "Policy OIDs"], data.home.cas.map((c) => [c.name, c.profile, c.subject, c.keyBackend, c.notBefore, c.notAfter, c.policyOids.join(", ") || "none"]))}
</section>
</main>
</body></html>
`;
}
