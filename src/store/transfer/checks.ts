/** Checks of export and import options, and how names appear in messages (never values). */
import { StoreError } from '../../errors.js';
import { CONFLICT_POLICIES, type ConflictPolicy } from './types.js';

export function usage(message: string, hints: string[] = []): StoreError {
  return new StoreError('E_USAGE', message, hints);
}

/** A name as it may appear in a message: quoted when short and printable (it may be a misplaced value). */
export function shown(name: string, where?: string): string {
  if (name.length > 0 && name.length <= 64 && /^[\x21-\x7e]*$/.test(name) && !name.includes('=')) return `"${name}"`;
  return where ?? `a name of ${name.length} characters`;
}

export function checkPolicy(p: ConflictPolicy | undefined): ConflictPolicy {
  const policy = p ?? 'skip';
  if (!CONFLICT_POLICIES.includes(policy)) throw usage(`onConflict must be one of ${CONFLICT_POLICIES.join(', ')}, not "${String(p)}"`);
  return policy;
}

export function checkPrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string' || prefix.length > 256) throw usage('a prefix must be a string of at most 256 characters');
  return prefix;
}
