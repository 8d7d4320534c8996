/**
 * Durations as Vault's API takes them (TTL fields of tokens and AppRole):
 * a whole number of seconds (3600 or "3600"), a Go duration string ("90s",
 * "1h30m", "1.5h", "250ms"), or a whole number of days ("7d", as Vault's
 * parser allows on its own). "" is 0. The result is whole seconds, rounded
 * down as Vault does when it turns a duration into a TTL.
 */
import { StoreError } from '../../errors.js';

/** Go's units, in seconds. */
const UNITS: Readonly<Record<string, number>> = {
  ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600,
};

/** About 300 years: far past any TTL, still exact as milliseconds in a double. */
export const MAX_DURATION_SECONDS = 10_000_000_000;

function refused(field: string): StoreError {
  // The text given is not repeated: a misplaced paste may be anything.
  return new StoreError('E_USAGE', `${field} takes a duration: whole seconds (3600), or a string such as "90s", "1h30m" or "7d"`);
}

function seconds(n: number, field: string): number {
  if (!Number.isFinite(n) || n < 0 || n > MAX_DURATION_SECONDS) throw refused(field);
  return Math.floor(n + 1e-9); // 0.1h is 360 s, not 359.99…
}

/** A Go duration string ("1h30m", "1.5h", "90s"): its length in seconds, or undefined when it is not one. */
function goDuration(text: string): number | undefined {
  if (text === '0') return 0;
  // µ and μ (Go's two spellings of the micro sign) escaped: the CLI bundle stays ASCII, so V8 keeps its
  // source as one byte a character (scripts/bundle-cli.mjs).
  const part = /([0-9]*(?:\.[0-9]*)?)([a-z\u00b5\u03bc]+)/gy;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const m = part.exec(text);
    const unit = m ? UNITS[m[2]!] : undefined;
    if (!m || unit === undefined || m[1] === '' || m[1] === '.') return undefined;
    total += Number(m[1]) * unit;
    at = part.lastIndex;
  }
  return at === 0 ? undefined : total;
}

/**
 * Seconds from a duration as a client sent it.
 * @throws E_USAGE naming `field` (never the text given)
 */
export function parseDuration(value: unknown, field = 'a duration'): number {
  if (typeof value === 'number') return seconds(value, field);
  if (typeof value !== 'string') throw refused(field);
  const text = value.trim();
  if (text === '') return 0;
  if (/^[0-9]+$/.test(text)) return seconds(Number(text), field);
  const days = /^([0-9]+)d$/.exec(text);
  if (days) return seconds(Number(days[1]) * 86_400, field);
  const go = goDuration(text);
  if (go === undefined) throw refused(field);
  return seconds(go, field);
}

