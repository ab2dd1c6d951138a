/** `notify.url`: where security events go (an admin's setting, audited; the URL's path may be a secret, so only its origin is shown). */
import type { Home } from "../home.js";
import { checkWebhookUrl } from "./webhook.js";

export interface NotifySettings {
  /** scheme://host[:port] of the webhook, or null when none is set (the path is not shown: webhooks often carry a secret there). */
  readonly webhook: string | null;
}

export function notifySettings(home: Home): NotifySettings {
  const url = home.state.notify?.url;
  return { webhook: url ? new URL(url).origin : null };
}

/** Set (or with null, clear) the security-event webhook. */
export async function setNotifyUrl(home: Home, url: string | null): Promise<NotifySettings> {
  const checked = url === null ? null : checkWebhookUrl(url);
  await home.authorize("config.set");
  await home.transaction(async () => {
    // updateState reads the file afresh under the lock.
    await home.updateState((s) => {
      const { notify: _old, ...rest } = s;
      return checked ? { ...rest, notify: { url: checked } } : rest;
    });
    await home.record([{ action: "config.set", outcome: "ok", ...home.who, reason: "notify.url", details: { webhook: checked ? new URL(checked).origin : null } }]);
  });
  return notifySettings(home);
}
