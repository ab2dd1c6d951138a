/**
 * Security events (refused sign-ins, a locked operator, a tampered audit log, a key compromise, a
 * mass revocation) POSTed as JSON to the incident process's webhook (`notify.url`). Sending never
 * waits: the command goes on at once and each delivery retries in the background within a bounded
 * time; a process waits for deliveries still under way only when it ends, and never longer than
 * its budget. A dead webhook therefore costs a command that raised an event at most the budget,
 * and a command that raised none (issuing) nothing.
 */
import { TrustlineError } from "../errors.js";

export interface SecurityEvent {
  /** `auth.fail`, `operator.locked`, `audit.verify-failed`, `revocation.key-compromise`, `revocation.mass`. */
  readonly event: string;
  readonly time: string;
  readonly organization: string;
  readonly operator?: string;
  readonly station?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface WebhookOptions {
  /** Per attempt (default 3 s). */
  readonly timeoutMs?: number;
  /** Attempts per event (default 3): network errors, 5xx and 429 are retried; other answers are final. */
  readonly attempts?: number;
  /** Wait before each retry (default 250 ms, doubling). */
  readonly backoffMs?: number;
}

export interface DeliveryReport {
  readonly delivered: number;
  readonly failed: number;
  /** Still under way when the budget ran out. */
  readonly pending: number;
  /** Why the failed ones failed (no secrets: status codes and error names). */
  readonly problems: readonly string[];
}

/** `notify.url`: http or https, no credentials in it (they would be in state.json and in logs). */
export function checkWebhookUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TrustlineError("USAGE", "notify.url must be an http:// or https:// URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new TrustlineError("USAGE", "notify.url must be an http:// or https:// URL");
  if (url.username || url.password) throw new TrustlineError("USAGE", "notify.url must not hold a user name or password: they would be stored in the home and shown");
  if (text.length > 2048) throw new TrustlineError("USAGE", "notify.url is longer than 2,048 characters");
  return url.toString();
}

export class WebhookNotifier {
  readonly #url: string;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #pending = new Set<Promise<void>>();
  #delivered = 0;
  #failed = 0;
  readonly #problems: string[] = [];

  constructor(url: string, options: WebhookOptions = {}) {
    this.#url = checkWebhookUrl(url);
    this.#timeoutMs = options.timeoutMs ?? 3_000;
    this.#attempts = options.attempts ?? 3;
    this.#backoffMs = options.backoffMs ?? 250;
  }

  /** Start delivering `event`; returns at once. */
  send(event: SecurityEvent): void {
    const delivery = this.#deliver(JSON.stringify(event)).finally(() => this.#pending.delete(delivery));
    this.#pending.add(delivery);
  }

  /** Wait for deliveries under way, at most `budgetMs`; what is left is abandoned (and counted). */
  async settle(budgetMs: number): Promise<DeliveryReport> {
    let timer: NodeJS.Timeout | undefined;
    const pending = [...this.#pending];
    if (pending.length > 0) {
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, budgetMs)));
      await Promise.race([Promise.allSettled(pending), deadline]);
      clearTimeout(timer);
    }
    return { delivered: this.#delivered, failed: this.#failed, pending: this.#pending.size, problems: [...this.#problems] };
  }

  async #deliver(body: string): Promise<void> {
    let problem = "";
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1) await sleep(this.#backoffMs * 2 ** (attempt - 2));
      try {
        const response = await fetch(this.#url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "trustline-notify/1" },
          body,
          redirect: "error",
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        await response.body?.cancel().catch(() => undefined);
        if (response.ok) {
          this.#delivered++;
          return;
        }
        problem = `HTTP ${response.status}`;
        if (response.status < 500 && response.status !== 429) break;
      } catch (e) {
        problem = (e as Error).name === "TimeoutError" ? `no answer within ${this.#timeoutMs} ms` : `${(e as Error).name}: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`;
      }
    }
    this.#failed++;
    this.#problems.push(problem);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
