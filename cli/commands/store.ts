import { Command } from "commander";
import { checkStore } from "../../ca/index.js";
import { emit, examples, openHome } from "../context.js";
import { EXIT } from "../exit-codes.js";

export function storeCommand(): Command {
  const store = new Command("store").description("the certificate store: its integrity");

  store
    .command("check")
    .description("compare the inventory and the revocation log with the audit trail: exit 0 when every issued certificate and revocation is there, 1 when something is missing")
    .addHelpText("after", examples("trustline store check", "trustline store check --json | jq .missingRevocations"))
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const report = await checkStore(home);
      emit(command, report, () =>
        [
          report.consistent ? "Store consistent with the audit trail" : "Store NOT consistent with the audit trail",
          `  ${report.auditEntries} audit entries: ${report.certificatesInTrail} certificates issued, ${report.revocationsInTrail} revoked or on hold`,
          ...report.missingCertificates.map((s) => `  missing certificate ${s} (issued per the audit trail, not in the inventory)`),
          ...report.missingRevocations.map((r) => `  missing revocation ${r.serial} (${r.reason} per the audit trail, not in the revocation log: it would read as not revoked)`),
          ...report.unrecordedRevocations.map((s) => `  revocation of ${s} is in the revocation log but not in the audit trail`),
          ...report.unreadable.map((m) => `  unreadable: ${m}`),
        ].join("\n"),
      );
      if (!report.consistent) process.exitCode = EXIT.VERIFICATION_FAILED;
    });

  return store;
}
