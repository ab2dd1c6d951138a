/** Home settings an admin may change: `config show`, `config set notify.url <url>`, `config unset notify.url`. */
import { Command } from "commander";
import { notifySettings, setNotifyUrl, TrustlineError } from "../../ca/index.js";
import { emit, examples, openHome } from "../context.js";

const KEYS = ["notify.url"] as const;

function checkKey(key: string): void {
  if (!(KEYS as readonly string[]).includes(key)) throw new TrustlineError("USAGE", `unknown setting "${key.slice(0, 40)}": settings are ${KEYS.join(", ")}`);
}

export function configCommand(): Command {
  const config = new Command("config").description("home settings: where security events are sent (notify.url)");
  config
    .command("show")
    .description("show the settings (a webhook's path is not shown: it may hold a secret)")
    .action(async (_opts: unknown, command: Command) => {
      const home = await openHome(command, false);
      const s = notifySettings(home);
      emit(command, s, () => `notify.url  ${s.webhook ? `${s.webhook}/… (security events are POSTed there)` : "not set"}`);
    });
  config
    .command("set")
    .argument("<key>", "notify.url")
    .argument("<value>", "the webhook URL security events are POSTed to as JSON")
    .description("change a setting (admin)")
    .addHelpText("after", examples("trustline config set notify.url https://incidents.acme.example/hooks/trustline"))
    .action(async (key: string, value: string, _opts: unknown, command: Command) => {
      checkKey(key);
      const home = await openHome(command, true);
      const s = await setNotifyUrl(home, value);
      emit(command, s, () => `notify.url set: security events go to ${s.webhook}`);
    });
  config
    .command("unset")
    .argument("<key>", "notify.url")
    .description("remove a setting (admin)")
    .action(async (key: string, _opts: unknown, command: Command) => {
      checkKey(key);
      const home = await openHome(command, true);
      const s = await setNotifyUrl(home, null);
      emit(command, s, () => "notify.url removed: security events are only in the audit log");
    });
  return config;
}
