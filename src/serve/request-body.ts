/**
 * Reading a request's JSON body the way Vault does: an empty or missing body
 * is `{}`, the top level must be an object, and fields are decoded weakly
 * (Go's mapstructure WeaklyTypedInput): `"3"` is a number, `"true"` a
 * boolean, `"a,b"` a list, a duration an integer of seconds or a Go duration
 * string. Messages name the field, never its value.
 */
import { badRequest } from './vault-error.js';

export type Body = Record<string, unknown>;

export function parseBody(raw: Buffer): Body {
  if (raw.length === 0 || raw.toString('latin1').trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest('failed to parse JSON input: the request body is not valid JSON');
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('failed to parse JSON input: the request body must be a JSON object');
  return parsed as Body;
}

export function intField(body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw badRequest(`${field} must be a whole number`);
  return n;
}

export function boolField(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') {
    const b = parseGoBool(v);
    if (b !== undefined) return b;
  }
  throw badRequest(`${field} must be true or false`);
}

/** Go's strconv.ParseBool, which Vault uses for query flags such as `?list=`. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

export function stringField(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw badRequest(`${field} must be a string`);
}

/** A list given as a JSON list or as a comma-separated string (hvac sends `"a,b"`). */
export function stringListField(body: Body, field: string): string[] | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  const items = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : undefined;
  if (!items) throw badRequest(`${field} must be a list or a comma-separated string`);
  return items.map((x) => {
    if (typeof x !== 'string' && typeof x !== 'number') throw badRequest(`${field} must hold strings`);
    return String(x).trim();
  }).filter((s) => s !== '');
}

/** Version numbers: `[1,2]`, `["1","2"]` (the CLI) or `"1,2"`. */
export function versionsField(body: Body, field = 'versions'): number[] {
  const list = stringListField(body, field) ?? [];
  return list.map((s) => {
    if (!/^\d+$/.test(s)) throw badRequest(`${field} must hold version numbers`);
    return Number(s);
  });
}

/** A map of strings to strings (custom_metadata, meta). */
export function stringMapField(body: Body, field: string): Record<string, string> | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${field} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw badRequest(`${field} must be an object of strings`);
    out[k] = x;
  }
  return out;
}

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/**
 * A duration in whole seconds: an integer (seconds), a string of digits, or a
 * Go duration (`"1h30m"`, `"90s"`, `"0s"`; Vault also takes `d`).
 */
export function durationField(body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  const seconds = parseDurationSeconds(v);
  if (seconds === undefined) throw badRequest(`${field} must be a duration such as 3600 or "1h"`);
  return seconds;
}

export function parseDurationSeconds(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return Math.floor(total);
}

/** Seconds as Go prints a duration (`"3h25m19s"`, `"0s"`), as Vault reports delete_version_after. */
export function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
