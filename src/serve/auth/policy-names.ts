/**
 * The policy names a token carries, as Vault normalises them: a list or a
 * comma-separated string ("a,b", as hvac sends AppRole's token_policies),
 * trimmed, lower-cased, without empties or repeats, sorted. `default` is
 * added unless asked not to; a token with `root` carries `root` alone (it
 * allows everything, so nothing else means anything).
 */
import { StoreError } from '../../errors.js';

export const DEFAULT_POLICY = 'default';
export const ROOT_POLICY = 'root';

/** Lenient on purpose: the ACL module checks names where policies are written; here a name only has to be one word. */
const NAME = /^[^\s,\u0000-\u001f\u007f]{1,128}$/;

/**
 * The names in `value` (a list of strings or a comma-separated string), sorted.
 * @throws E_USAGE naming `field` when it is neither, or a name is malformed
 */
export function policyNames(value: unknown, field = 'policies'): string[] {
  let parts: unknown[];
  if (value === undefined || value === null) parts = [];
  else if (typeof value === 'string') parts = value.split(',');
  else if (Array.isArray(value)) parts = value.flatMap((p) => (typeof p === 'string' ? p.split(',') : [p]));
  else throw new StoreError('E_USAGE', `${field} takes a list of policy names, or one string of names separated by commas`);
  const names = new Set<string>();
  for (const p of parts) {
    if (typeof p !== 'string') throw new StoreError('E_USAGE', `${field} takes policy names (text)`);
    const name = p.trim().toLowerCase();
    if (name === '') continue;
    if (!NAME.test(name)) throw new StoreError('E_USAGE', `${field}: a policy name is 1 to 128 characters, without spaces or control characters`);
    names.add(name);
  }
  return [...names].sort();
}

/** What a token carries: `root` alone, or the names with `default` unless `noDefault`. */
export function tokenPolicies(names: readonly string[], noDefault = false): string[] {
  if (names.includes(ROOT_POLICY)) return [ROOT_POLICY];
  const out = new Set(names);
  if (!noDefault) out.add(DEFAULT_POLICY);
  return [...out].sort();
}
