/**
 * Pacing signatures against a service limit (Key Vault: e.g. 2,000 signatures per 10 s for an HSM
 * P-256 key, answered beyond with 429 + Retry-After). Many requests stay in flight to hide the
 * network's latency; once the service throttles, every request waits out Retry-After, and from
 * then on requests start evenly spaced at the rate the service was seen to accept, a little
 * below it, creeping up while no 429 comes: a steady stream instead of bursts that are refused.
 */
export interface PacerOptions {
  /** Requests in flight at most. */
  readonly maxInFlight: number;
  /** Cumulative time one request may spend waiting for throttling before it gives up (ms). */
  readonly throttleBudgetMs: number;
}

export class ThrottleBudgetExceeded extends Error {}

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
  /** Start times of the requests the service accepted in the last second. */
  readonly #accepted: number[] = [];

  constructor(options: PacerOptions) {
    this.#options = options;
  }

  /** Run `attempt` under the pacing, repeating it while the service answers "throttled". */
  async run<T>(attempt: () => Promise<T>, throttledFor: (e: unknown) => number | undefined): Promise<T> {
    await this.#enter();
    let waited = 0;
    try {
      for (;;) {
        const start = await this.#slot();
        try {
          const result = await attempt();
          this.#accept(start);
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

  #accept(start: number): void {
    const now = Date.now();
    this.#accepted.push(start);
    while (this.#accepted.length > 0 && this.#accepted[0]! <= now - 1000) this.#accepted.shift();
    // Creep back up while the service keeps accepting (1% per clean second).
    if (Number.isFinite(this.#rate) && now - this.#lastThrottle > 1000) {
      this.#rate *= 1.01;
      this.#lastThrottle = now;
    }
  }

  #throttled(retryAfterMs: number): void {
    const now = Date.now();
    this.#pausedUntil = Math.max(this.#pausedUntil, now + retryAfterMs);
    this.#nextStart = Math.max(this.#nextStart, this.#pausedUntil);
    if (now - this.#lastThrottle > 200) {
      // What the service accepted over the last second is its limit; stay just under it.
      const seen = this.#accepted.filter((t) => t > now - 1000).length;
      this.#rate = Number.isFinite(this.#rate) ? Math.max(1, this.#rate * 0.97) : Math.max(1, seen * 0.98);
    }
    this.#lastThrottle = now;
  }
}
