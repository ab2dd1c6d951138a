/**
 * A token bucket per requester (a station, a device renewing): `rate` requests a second on average,
 * up to `burst` at once. Protects the CA from one misbehaving station without slowing the others.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  /** `rate` 0: no limit. */
  constructor(rate: number, burst = Math.max(1, 2 * rate)) {
    this.#rate = rate;
    this.#burst = burst;
  }

  /** Take one request's token: 0 when allowed, else the seconds until one is available. */
  take(key: string, nowMs = Date.now()): number {
    if (this.#rate <= 0) return 0;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      // Bounded memory under many requesters: forget the full ones (a full bucket is the default).
      if (this.#buckets.size >= 100_000) for (const [k, b] of this.#buckets) if (b.tokens + ((nowMs - b.at) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(k);
      bucket = { tokens: this.#burst, at: nowMs };
      this.#buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((nowMs - bucket.at) / 1000) * this.#rate);
    bucket.at = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.#rate);
  }
}
