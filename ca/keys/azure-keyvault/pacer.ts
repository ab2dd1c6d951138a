/**
 * Pacing signatures against a service limit (Key Vault: e.g. 2,000 signatures per 10 s for an HSM
 * P-256 key, answered beyond with 429 + Retry-After). Many requests stay in flight to hide the
 * network's latency; once the service throttles, every request waits out Retry-After, and from
 * then on requests start evenly spaced just under the rate the service turned out to allow (what
 * it accepted from the first request to the end of the pause it asked for, which spans its
 * window whatever its length): a steady stream instead of bursts that are refused.
 */
export interface PacerOptions {
  /** Requests in flight at most. */
  readonly maxInFlight: number;
  /** Cumulative time one request may spend waiting for throttling before it gives up (ms). */
  readonly throttleBudgetMs: number;
}

export class ThrottleBudgetExceeded extends Error {}

/**
 * The share of the observed limit to aim at: evenly spaced starts still bunch when the event loop
 * is busy for a moment, and a window that briefly holds a few too many costs a whole Retry-After.
 */
const TARGET = 0.97;

export class Pacer {
  readonly #options: PacerOptions;
  #inFlight = 0;
  readonly #queue: (() => void)[] = [];
  /** No request starts before this time (a Retry-After in force). */
  #pausedUntil = 0;
  /** Requests per second once throttled (Infinity: never throttled yet). */
  #rate = Infinity;
  #nextStart = 0;
  #lastThrottle = 0;
  /** When the first request started, and how many the service has accepted since. */
  #firstStart = 0;
  #acceptedCount = 0;

  constructor(options: PacerOptions) {
    this.#options = options;
  }

  /** Run `attempt` under the pacing, repeating it while the service answers "throttled". */
  async run<T>(attempt: () => Promise<T>, throttledFor: (e: unknown) => number | undefined): Promise<T> {
    await this.#enter();
    if (this.#firstStart === 0) this.#firstStart = Date.now();
    let waited = 0;
    try {
      for (;;) {
        await this.#slot();
        try {
          const result = await attempt();
          this.#accept();
          return result;
        } catch (e) {
          const retryAfterMs = throttledFor(e);
          if (retryAfterMs === undefined) throw e;
          waited += retryAfterMs;
          if (waited > this.#options.throttleBudgetMs) throw new ThrottleBudgetExceeded(`throttled for more than ${Math.round(this.#options.throttleBudgetMs / 1000)} s`);
          this.#throttled(retryAfterMs);
        }
      }
    } finally {
      this.#leave();
    }
  }

  async #enter(): Promise<void> {
    if (this.#inFlight < this.#options.maxInFlight) {
      this.#inFlight++;
      return;
    }
    await new Promise<void>((resolve) => this.#queue.push(resolve));
  }

  #leave(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#inFlight--;
  }

  /** Wait for this request's turn: after any pause, and evenly spaced once a rate is known. */
  async #slot(): Promise<number> {
    for (;;) {
      const now = Date.now();
      let at = Math.max(now, this.#pausedUntil);
      if (Number.isFinite(this.#rate)) {
        at = Math.max(at, this.#nextStart);
        this.#nextStart = at + 1000 / this.#rate;
      }
      if (at <= now) return now;
      await new Promise((resolve) => setTimeout(resolve, at - now));
      // A pause that began while this one slept moves the turn again.
      if (Date.now() >= this.#pausedUntil) return Date.now();
    }
  }

  #accept(): void {
    this.#acceptedCount++;
  }

  #throttled(retryAfterMs: number): void {
    const now = Date.now();
    this.#pausedUntil = Math.max(this.#pausedUntil, now + retryAfterMs);
    this.#nextStart = Math.max(this.#nextStart, this.#pausedUntil);
    // Requests already in flight when the service said no come back throttled too: one decision per burst.
    if (now - this.#lastThrottle > 200) {
      if (!Number.isFinite(this.#rate)) {
        const allowed = this.#acceptedCount / Math.max(1, (this.#pausedUntil - this.#firstStart) / 1000);
        this.#rate = Math.max(1, TARGET * allowed);
      } else {
        this.#rate = Math.max(1, this.#rate * 0.97);
      }
    }
    this.#lastThrottle = now;
  }
}
