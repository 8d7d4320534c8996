/**
 * `store get NAME --field K`: one top-level field of a JSON secret (a version
 * written with `store set --type json`), as `vault kv get -field=K` prints
 * it: a string as its text, anything else as compact JSON. Only here is a
 * value parsed; a plain get never parses.
 */
import { StoreError } from '../errors.js';
import type { SecretVersion } from '../store/types.js';

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface Field {
  /** The field's JSON value. */
  value: unknown;
  /** What is printed: a string's own text, else the value as compact JSON. The caller wipes it. */
  bytes: Uint8Array;
}

/**
 * The field `field` of version `s`.
 * @throws StoreError E_USAGE (not a JSON secret), E_NOT_FOUND (no such field)
 */
export function fieldOf(s: SecretVersion, field: string): Field {
  const which = `${s.name} version ${s.version}`;
  if (!s.json) {
    throw new StoreError('E_USAGE', `${which} is not a JSON secret (it was written as plain bytes), so it has no fields`, [
      `print the whole value: store get ${s.name}`,
      `write a JSON object as one: store set ${s.name} --type json`,
    ]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(STRICT_UTF8.decode(s.value.expose()));
  } catch {
    parsed = undefined; // reported below; JSON.parse's own message would quote the value
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    // put checked it and the AEAD and row MAC authenticate value and flag: only a bug gets here.
    throw new StoreError('E_INVALID_VALUE', `${which} is marked JSON but does not read as a JSON object`);
  }
  if (!Object.hasOwn(parsed, field)) {
    throw new StoreError('E_NOT_FOUND', `${which} has no field ${JSON.stringify(field)}`, ['field names are matched exactly, case included']);
  }
  const value = (parsed as Record<string, unknown>)[field];
  return { value, bytes: new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value)) };
}
