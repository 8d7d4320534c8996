/**
 * The shapes Vault clients parse: the response envelope of every logical 200,
 * 204 with no body when there is nothing to say, and `{"errors":[...]}` for
 * every status from 400 up. The Content-Type is exactly `application/json`:
 * hvac reads `errors` only when the header is that string, with no charset.
 */
import { randomUUID } from 'node:crypto';
import type { HttpResponse } from './http/types.js';

export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Type': 'application/json',
  'Cache-Control': 'no-store',
});

/** Raw JSON text spliced into a response as is: data written through the API reads back byte for byte. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify, except that a RawJson anywhere in `value` is written as its text. */
export function stringifyWithRaw(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof RawJson) {
      raws.push(v.text);
      return `\u0000raw${raws.length - 1}\u0000`;
    }
    return v;
  });
  if (raws.length === 0) return text;
  // The marker cannot occur in JSON.stringify output otherwise: a NUL inside a string is escaped as \u0000.
  return text.replace(/"\\u0000raw(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)]!);
}

/** The fields are shared (frozen): the transport writes the lines of a frozen set once (response-writer.ts). */
export function json(status: number, body: unknown): HttpResponse {
  return { status, headers: JSON_HEADERS, body: stringifyWithRaw(body) };
}

export interface EnvelopeExtras {
  auth?: unknown;
  warnings?: string[];
  /** Set on KV responses (newer Vault sends it; clients never rely on it). */
  mountType?: string;
}

/**
 * The envelope of a logical response (`data` may be null, e.g. a login,
 * which answers in `auth`). Every request answers one, so its fixed members
 * are written out as text and only `data` and `auth` go through
 * stringifyWithRaw: the same bytes JSON.stringify makes of the whole object,
 * in the same order, without calling its replacer on each of them.
 */
export function envelope(data: unknown, extras: EnvelopeExtras = {}, status = 200): HttpResponse {
  const dataText = stringifyWithRaw(data) as string | undefined; // undefined: no `data` member, as JSON.stringify leaves it out
  let body = `{"request_id":"${randomUUID()}","lease_id":"","renewable":false,"lease_duration":0`;
  if (dataText !== undefined) body += `,"data":${dataText}`;
  body += `,"wrap_info":null,"warnings":${stringifyWithRaw(extras.warnings ?? null)},"auth":${stringifyWithRaw(extras.auth ?? null)}`;
  if (extras.mountType) body += `,"mount_type":${JSON.stringify(extras.mountType)}`;
  return { status, headers: JSON_HEADERS, body: `${body}}` };
}

/**
 * The envelope with `data`'s members at the top level as well: older
 * endpoints (sys/mounts, sys/policy) answered so, and clients still read
 * them there (hvac's mount options under `data`, node-vault's at the top).
 */
export function envelopeAndTopLevel(data: Record<string, unknown>): HttpResponse {
  const body = JSON.parse(envelope(data).body as string) as Record<string, unknown>;
  return json(200, { ...data, ...body });
}

export function noContent(): HttpResponse {
  return { status: 204, headers: { 'Cache-Control': 'no-store' } };
}

/** `{"errors":[...]}`: every entry a string (hvac joins them). A plain 404 has none. */
export function errors(status: number, messages: string[]): HttpResponse {
  return json(status, { errors: messages });
}
