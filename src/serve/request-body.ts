/**
 * Reading a request's JSON body the way Vault does: an empty or missing body
 * is `{}`, the top level must be an object, and fields are decoded weakly
 * (Go's mapstructure WeaklyTypedInput): `"3"` is a number, `"true"` a
 * boolean, `"a,b"` a list, a duration an integer of seconds or a Go duration
 * string. Messages name the field, never its value.
 */
import { badRequest } from './vault-error.js';
import { parseDuration } from './auth/duration.js';

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

/** Text that is a whole number as Go's ParseInt reads one in base 10 (a sign, then digits), within the safe range; else undefined. */
export function wholeNumber(text: string): number | undefined {
  if (!/^[-+]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Version numbers: `[1,2]`, `["1","2"]` (the CLI) or `"1,2"`. Any whole
 * number: 0 or less names no version, which the caller skips as the plugin
 * does; what is not a whole number is refused (400), as it is in Vault.
 */
export function versionsField(body: Body, field = 'versions'): number[] {
  const list = stringListField(body, field) ?? [];
  return list.map((s) => {
    const n = wholeNumber(s);
    if (n === undefined) throw badRequest(`${field} must hold version numbers`);
    return n;
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

/** A duration in whole seconds: an integer, a string of digits, or a Go duration (`"1h30m"`, `"90s"`). */
export function durationField(body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null || v === '') return undefined;
  return parseDuration(v, field);
}

/** Seconds as Go prints a duration (`"3h25m19s"`, `"0s"`), as Vault reports delete_version_after. */
export function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s}s`;
}
