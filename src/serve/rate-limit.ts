/**
 * An optional per-token rate limit: a token bucket per token accessor,
 * `rate` requests a second with bursts of `burst`. Beyond it: 429, which
 * hvac raises as RateLimitExceeded. Buckets of tokens not seen for a minute
 * are dropped so the map stays small.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #sweptAt = 0;

  constructor(private readonly rate: number, private readonly burst: number, private readonly now: () => number) {}

  /** Whether `key` may make one more request now (and counts it). */
  take(key: string): boolean {
    const t = this.now();
    if (t - this.#sweptAt > 60_000) this.#sweep(t);
    const b = this.#buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.#buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #sweep(t: number): void {
    this.#sweptAt = t;
    for (const [k, b] of this.#buckets) if (t - b.at > 60_000) this.#buckets.delete(k);
  }
}
