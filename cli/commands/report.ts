/** `trustline report`: the auditor's report of a period, as JSON (schemas/report.schema.json) or CSV (one row per certificate). */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { Command, Option } from "commander";
import { buildReport, renderReportHtml, TrustlineError, writeReportCsv } from "../../ca/index.js";
import { emit, examples, note, openHome } from "../context.js";
import { writeOutput } from "../files.js";

function date(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new TrustlineError("USAGE", `--${name} "${text.slice(0, 40)}" is not an ISO 8601 date`);
  return d;
}

export function reportCommand(): Command {
  return new Command("report")
    .description("the auditor's report of a period: issuance by CA, profile, operator, station, batch, day and sign-in origin; refusals; revocations; expiries; CRLs; DPS; the audit verdict; anomalies")
    .option("--from <date>", "start of the period, ISO 8601 (default: 30 days before --to)")
    .option("--to <date>", "end of the period, exclusive (default: now)")
    .option("--ca <name>", "only this issuing CA")
    .addOption(new Option("--format <format>", "json (the schema in schemas/report.schema.json), csv (one row per certificate) or html (one self-contained page, for screen and print)").choices(["json", "csv", "html"]).default("json"))
    .requiredOption("--out <file>", "where to write the report")
    .option("--force", "overwrite --out if it exists")
    .addHelpText("after", examples("trustline report --out report-2026-11.json --from 2026-11-01 --to 2026-12-01", "trustline report --format csv --ca device --out certificates-2026-11.csv --from 2026-11-01", "trustline report --format html --out report-2026-11.html --from 2026-11-01 --to 2026-12-01"))
    .action(async (opts: { from?: string; to?: string; ca?: string; format: "json" | "csv" | "html"; out: string; force?: boolean }, command: Command) => {
      const home = await openHome(command, false);
      const range = { ...(opts.from ? { from: date(opts.from, "from")! } : {}), ...(opts.to ? { to: date(opts.to, "to")! } : {}), ...(opts.ca ? { ca: opts.ca } : {}) };
      if (opts.format === "csv") {
        const out = createWriteStream(opts.out, { flags: opts.force ? "w" : "wx", mode: 0o644 });
        await once(out, "open").catch((e: NodeJS.ErrnoException) => {
          throw new TrustlineError(e.code === "EEXIST" ? "ALREADY_EXISTS" : "INPUT_INVALID", `cannot write ${opts.out}: ${e.code === "EEXIST" ? "it exists (--force to overwrite)" : e.code}`);
        });
        const rows = await writeReportCsv(home, range, out);
        out.end();
        await once(out, "finish");
        note(command, `Wrote ${opts.out}: ${rows} certificates`);
        emit(command, { out: opts.out, format: "csv", rows }, () => "");
        return;
      }
      const report = await buildReport(home, range);
      writeOutput(opts.out, opts.format === "html" ? renderReportHtml(report) : `${JSON.stringify(report, null, 2)}\n`, { force: opts.force === true });
      emit(command, { out: opts.out, format: opts.format, period: report.period, issued: report.issuance.total, refused: report.refusals.total, revoked: report.revocations.total, auditIntact: report.audit.intact, anomalies: report.anomalies.length }, () =>
        `Wrote ${opts.out}: ${report.issuance.total} issued, ${report.refusals.total} refused, ${report.revocations.total} revoked from ${report.period.from} to ${report.period.to}; audit log ${report.audit.intact ? "intact" : "NOT intact"}; ${report.anomalies.length} anomalies`,
      );
    });
}
