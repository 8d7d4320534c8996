/**
 * Request counters and a latency histogram, in Prometheus' text format for
 * `sys/metrics?format=prometheus`. Labels are route families and status
 * codes only, never a path (paths name secrets).
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0);
  #count = 0;
  #sum = 0;
  #rateLimited = 0;
  readonly #started = Date.now();

  record(family: string, status: number, seconds: number): void {
    const key = `${family}\u0000${status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#count++;
    this.#sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.#buckets[i]!++;
    if (status === 429) this.#rateLimited++;
  }

  prometheus(gauges: { openConnections: number }): string {
    const lines: string[] = [];
    lines.push('# HELP strongbox_serve_requests_total Requests answered, by route family and HTTP status.');
    lines.push('# TYPE strongbox_serve_requests_total counter');
    for (const [key, n] of [...this.#requests].sort()) {
      const [family, status] = key.split('\u0000');
      lines.push(`strongbox_serve_requests_total{route="${family}",code="${status}"} ${n}`);
    }
    lines.push('# HELP strongbox_serve_request_duration_seconds Time from a request read to its response written.');
    lines.push('# TYPE strongbox_serve_request_duration_seconds histogram');
    BUCKETS.forEach((b, i) => lines.push(`strongbox_serve_request_duration_seconds_bucket{le="${b}"} ${this.#buckets[i]}`));
    lines.push(`strongbox_serve_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`);
    lines.push(`strongbox_serve_request_duration_seconds_sum ${this.#sum}`);
    lines.push(`strongbox_serve_request_duration_seconds_count ${this.#count}`);
    lines.push('# HELP strongbox_serve_rate_limited_total Requests refused with 429 by the per-token rate limit.');
    lines.push('# TYPE strongbox_serve_rate_limited_total counter');
    lines.push(`strongbox_serve_rate_limited_total ${this.#rateLimited}`);
    lines.push('# HELP strongbox_serve_open_connections Client connections open now.');
    lines.push('# TYPE strongbox_serve_open_connections gauge');
    lines.push(`strongbox_serve_open_connections ${gauges.openConnections}`);
    lines.push('# HELP strongbox_serve_uptime_seconds Seconds since the server started.');
    lines.push('# TYPE strongbox_serve_uptime_seconds gauge');
    lines.push(`strongbox_serve_uptime_seconds ${Math.floor((Date.now() - this.#started) / 1000)}`);
    return `${lines.join('\n')}\n`;
  }
}
