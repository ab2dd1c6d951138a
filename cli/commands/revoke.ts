import { Command, Option } from "commander";
import { planMassRevocation, policy, revokeCertificate, revokeMass, type MassSelector, type RevocationReason, TrustlineError } from "../../ca/index.js";
import { emit, examples, globals, note, openHome, selectorCommands } from "../context.js";

const REASONS = Object.keys(policy.REVOCATION_REASONS);

function time(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new TrustlineError("USAGE", `${flag} "${value}" is not an ISO 8601 time, e.g. 2026-11-20T08:00:00Z`);
  return d;
}

export function revokeCommand(): Command {
  const revoke = new Command("revoke")
    .description("revoke a certificate, or every certificate of a batch, station or operator (an incident)")
    .argument("[serial]", "serial of one certificate (hex, any case, colons allowed)")
    .addOption(new Option("--reason <reason>", "RFC 5280 reason").choices(REASONS).makeOptionMandatory())
    .option("--invalidity-date <iso>", "when the key is known or suspected to have been compromised")
    .option("--batch <id>", "mass revocation: every certificate of this batch")
    .option("--station <id>", "mass revocation: every certificate issued at this station")
    .option("--operator <id>", "mass revocation: every certificate issued by this operator")
    .option("--from <iso>", "mass revocation: issued at or after this time")
    .option("--to <iso>", "mass revocation: issued before this time")
    .option("--ca <name>", "mass revocation: only certificates of this CA")
    .option("--yes", "mass revocation: confirm (without it, only the plan is shown)")
    .option("--dry-run", "mass revocation: list everything it would revoke, revoke nothing")
    .addHelpText(
      "after",
      examples(
        "trustline revoke 4F:1A:...:9C --reason keyCompromise --invalidity-date 2026-11-20T08:00:00Z",
        "trustline revoke 4F1A...9C --reason certificateHold      # suspend a device (release: --reason removeFromCRL)",
        "trustline revoke --station line-7 --from 2026-11-20T00:00Z --to 2026-11-21T00:00Z --reason keyCompromise --yes",
        "trustline revoke --batch CM-2026-11 --reason cessationOfOperation --dry-run --json",
      ) +
        "\nHere --station and --operator select what to revoke; who is revoking is given before the command name\n(trustline --operator alice revoke ...) or by TRUSTLINE_OPERATOR / TRUSTLINE_STATION.\n",
    )
    .action(async (serial: string | undefined, opts: { reason: RevocationReason; invalidityDate?: string; batch?: string; station?: string; operator?: string; from?: string; to?: string; ca?: string; yes?: boolean; dryRun?: boolean }, command: Command) => {
      const invalidityDate = time(opts.invalidityDate, "--invalidity-date");
      const mass = opts.batch !== undefined || opts.station !== undefined || opts.operator !== undefined;
      if (serial !== undefined && mass) throw new TrustlineError("USAGE", "give a serial or a mass selector (--batch, --station, --operator), not both");
      if (serial === undefined && !mass) throw new TrustlineError("USAGE", "give the serial to revoke, or --batch / --station / --operator for a mass revocation");
      const options = { reason: opts.reason, ...(invalidityDate ? { invalidityDate } : {}) };
      if (serial !== undefined) {
        const home = await openHome(command, true);
        const r = await revokeCertificate(home, serial, options);
        emit(command, r, () => (r.alreadyRevoked ? `${r.serial} (${r.subject}) was already ${r.reason === "certificateHold" ? "on hold" : "revoked"} (${r.reason}, ${r.revokedAt}); nothing changed` : `Revoked ${r.serial} (${r.subject}) from CA ${r.ca}: ${r.reason} at ${r.revokedAt}`));
        return;
      }
      const selector: MassSelector = {
        ...(opts.batch ? { batch: opts.batch } : {}),
        ...(opts.station ? { station: opts.station } : {}),
        ...(opts.operator ? { operator: opts.operator } : {}),
        ...(opts.from ? { from: opts.from } : {}),
        ...(opts.to ? { to: opts.to } : {}),
        ...(opts.ca ? { ca: opts.ca } : {}),
      };
      const home = await openHome(command, opts.yes === true && !opts.dryRun);
      if (!opts.yes || opts.dryRun) {
        const plan = await planMassRevocation(home, selector);
        emit(command, { dryRun: true, count: plan.serials.length, sample: plan.sample, ...(opts.dryRun ? { serials: plan.serials } : {}) }, () =>
          [
            `Would revoke ${plan.serials.length} certificate${plan.serials.length === 1 ? "" : "s"} (${opts.reason}):`,
            ...(opts.dryRun ? plan.serials : plan.sample.map((s) => `${s.serial}  ${s.subject}  issued ${s.issuedAt} by ${s.operator}@${s.station}${s.batch ? ` batch ${s.batch}` : ""}`)).map((l) => `  ${l}`),
            ...(!opts.dryRun && plan.serials.length > plan.sample.length ? [`  ... and ${plan.serials.length - plan.sample.length} more (--dry-run lists them all)`] : []),
            opts.dryRun ? "Dry run: nothing was revoked." : "Nothing was revoked: add --yes to revoke them.",
          ].join("\n"),
        );
        if (!opts.dryRun && !globals(command).json) note(command, "(mass revocation needs --yes)");
        return;
      }
      const result = await revokeMass(home, selector, options);
      emit(command, result, () => `Revoked ${result.revoked} certificate${result.revoked === 1 ? "" : "s"} (${result.reason})`);
    });
  selectorCommands.add(revoke);
  return revoke;
}
