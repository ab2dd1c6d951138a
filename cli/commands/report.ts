/** `trustline report`: the auditor's report of a period, as JSON (schemas/report.schema.json) or CSV (one row per certificate). */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { Command, Option } from "commander";
import { buildReport, Home, renderReportHtml, signReport, TrustlineError, verifyReport, writeReportCsv } from "../../ca/index.js";
import { emit, examples, globals, note, openHome } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { assertWritable, readInput, writeOutput } from "../files.js";

function date(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new TrustlineError("USAGE", `--${name} "${text.slice(0, 40)}" is not an ISO 8601 date`);
  return d;
}

export function reportCommand(): Command {
  const report = new Command("report")
    .description("the auditor's report of a period: issuance by CA, profile, operator, station, batch, day and sign-in origin; refusals; revocations; expiries; CRLs; DPS; the audit verdict; anomalies")
    .option("--from <date>", "start of the period, ISO 8601 (default: 30 days before --to)")
    .option("--to <date>", "end of the period, exclusive (default: now)")
    .option("--ca <name>", "only this issuing CA")
    .addOption(new Option("--format <format>", "json (the schema in schemas/report.schema.json), csv (one row per certificate) or html (one self-contained page, for screen and print)").choices(["json", "csv", "html"]).default("json"))
    .option("--out <file>", "where to write the report (required)")
    .option("--force", "overwrite --out (and its .p7s) if it exists")
    .option("--sign", "also write <out>.p7s, a detached CMS signature by the home's report signer, certified by the root (the first signed report makes the signer: an admin's write)")
    .addHelpText(
      "after",
      examples(
        "trustline report --out report-2026-11.json --from 2026-11-01 --to 2026-12-01",
        "trustline report --format csv --ca device --out certificates-2026-11.csv --from 2026-11-01",
        "trustline report --format html --out report-2026-11.html --from 2026-11-01 --to 2026-12-01 --sign",
        "trustline report verify report-2026-11.html --root root.pem",
      ),
    )
    .action(async (opts: { from?: string; to?: string; ca?: string; format: "json" | "csv" | "html"; out?: string; force?: boolean; sign?: boolean }, command: Command) => {
      if (opts.out === undefined) throw new TrustlineError("USAGE", "--out <file> is required: where to write the report");
      const out = opts.out;
      const home = await openHome(command, opts.sign === true);
      // A signature file in the way is refused before the report is built, not after.
      if (opts.sign) assertWritable(`${out}.p7s`, opts.force === true);
      const sign = async () => {
        if (!opts.sign) return undefined;
        const signed = await signReport(home, out, { force: opts.force === true });
        note(command, `Signed: ${signed.signature} (report signer serial ${signed.signer.serial}; check with: trustline report verify ${out})`);
        return signed;
      };
      const range = { ...(opts.from ? { from: date(opts.from, "from")! } : {}), ...(opts.to ? { to: date(opts.to, "to")! } : {}), ...(opts.ca ? { ca: opts.ca } : {}) };
      if (opts.format === "csv") {
        const stream = createWriteStream(out, { flags: opts.force ? "w" : "wx", mode: 0o644 });
        await once(stream, "open").catch((e: NodeJS.ErrnoException) => {
          throw new TrustlineError(e.code === "EEXIST" ? "ALREADY_EXISTS" : "INPUT_INVALID", `cannot write ${out}: ${e.code === "EEXIST" ? "it exists (--force to overwrite)" : e.code}`);
        });
        const rows = await writeReportCsv(home, range, stream);
        stream.end();
        await once(stream, "finish");
        note(command, `Wrote ${out}: ${rows} certificates`);
        const signed = await sign();
        emit(command, { out, format: "csv", rows, ...(signed ? { signature: signed.signature, sha256: signed.sha256 } : {}) }, () => "");
        return;
      }
      const report = await buildReport(home, range);
      writeOutput(out, opts.format === "html" ? renderReportHtml(report) : `${JSON.stringify(report, null, 2)}\n`, { force: opts.force === true });
      const signed = await sign();
      emit(command, { out, format: opts.format, ...(signed ? { signature: signed.signature, sha256: signed.sha256 } : {}), period: report.period, issued: report.issuance.total, refused: report.refusals.total, revoked: report.revocations.total, auditIntact: report.audit.intact, anomalies: report.anomalies.length }, () =>
        `Wrote ${out}: ${report.issuance.total} issued, ${report.refusals.total} refused, ${report.revocations.total} revoked from ${report.period.from} to ${report.period.to}; audit log ${report.audit.intact ? "intact" : "NOT intact"}; ${report.anomalies.length} anomalies`,
      );
    });

  report
    .command("verify")
    .argument("<report>", "the report file; its signature is <report>.p7s unless --signature says otherwise")
    .description("check a signed report: not edited since it was signed, signed by a report signer the pinned root certified; exit 0 only if so")
    .option("--signature <p7s>", "the detached signature (default: <report>.p7s)")
    .option("--root <pem>", "the pinned root certificate (repeatable; default: the root of the home at --home)", (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText(
      "after",
      examples("trustline report verify report-2026-11.html --root root.pem", "openssl cms -verify -binary -inform DER -in report-2026-11.html.p7s -content report-2026-11.html -CAfile root.pem -purpose any -out /dev/null") +
        "\nExit status: 0 valid; 1 invalid (the failing check is named); 2 usage; 3 unreadable input.\n",
    )
    .action(async (file: string, opts: { signature?: string; root?: string[] }, command: Command) => {
      let trust: Uint8Array[];
      if (opts.root?.length) trust = opts.root.map((f) => readInput(f, "root certificate"));
      else {
        const home = await Home.open({ home: globals(command).home }).catch((e: unknown) => {
          throw new TrustlineError("USAGE", `give the pinned root with --root <pem> (no home to take it from: ${(e as Error).message})`);
        });
        const root = home.state.cas.root;
        if (!root) throw new TrustlineError("USAGE", "the home has no root CA; give the pinned root with --root <pem>");
        trust = [Buffer.from(root.certificate)];
      }
      const verdict = await verifyReport({ report: file, signature: readInput(opts.signature ?? `${file}.p7s`, "signature"), trust });
      const e = verdict.evidence;
      emit(command, verdict, () =>
        [
          verdict.valid ? `VALID: ${file}` : `INVALID: ${file}\n  check failed: ${verdict.check}: ${verdict.reason}`,
          e.report ? `  sha256 ${e.report.sha256}, ${e.report.size} bytes` : "",
          e.signer ? `  signed by ${e.signer.subject} (serial ${e.signer.serial}), issued by ${e.signer.issuer}` : "",
          e.signingTime ? `  signed at ${e.signingTime}` : "",
        ]
          .filter(Boolean)
          .join("\n"),
      );
      if (!verdict.valid) process.exitCode = EXIT.VERIFICATION_FAILED;
    });
  return report;
}
