/**
 * Where a rotation policy lives: reserved keys of a secret's custom
 * metadata (plain metadata, not secret; policy.ts says what they mean), and
 * the check every metadata change makes of them, whoever makes it (the
 * library, `store meta`, a Vault client's custom_metadata through `store
 * serve`): a reserved key changed to a value that does not parse, or a last
 * rotation in the future, is refused, since it would stop `store due` for
 * every secret or hide an expired value.
 */
import { StoreError } from '../errors.js';

export const ROTATE_EVERY_KEY = 'strongbox.rotate-every';
export const EXPIRES_AFTER_KEY = 'strongbox.expires-after';
export const ROTATED_AT_KEY = 'strongbox.rotated-at';

export interface RotationPolicy {
  /** Milliseconds between rotations. */
  rotateEveryMs: number;
  /** Milliseconds after the last rotation at which the value expires (none: never). */
  expiresAfterMs?: number;
}

/** The policy in a custom metadata map; undefined when there is none. @throws E_USAGE on a malformed reserved key */
export function policyOf(custom: Record<string, string>, name = 'the secret'): RotationPolicy | undefined {
  const every = custom[ROTATE_EVERY_KEY];
  const expires = custom[EXPIRES_AFTER_KEY];
  if (every === undefined && expires === undefined) return undefined;
  const parse = (key: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new StoreError('E_USAGE', `${name} has a malformed ${key} metadata entry`, ['set the policy again: store policy set NAME --rotate-every 90d']);
    }
    return n;
  };
  const rotateEveryMs = parse(ROTATE_EVERY_KEY, every);
  const expiresAfterMs = parse(EXPIRES_AFTER_KEY, expires);
  if (rotateEveryMs === undefined) {
    throw new StoreError('E_USAGE', `${name} has ${EXPIRES_AFTER_KEY} but no ${ROTATE_EVERY_KEY}`, ['set the policy again: store policy set NAME --rotate-every 90d']);
  }
  return expiresAfterMs === undefined ? { rotateEveryMs } : { rotateEveryMs, expiresAfterMs };
}

/** A last rotation this far ahead of the clock is a clock's skew; further is refused. */
const ROTATED_AT_SKEW_MS = 5 * 60 * 1000;

/**
 * Refuse a change of `name`'s reserved keys from `before` to `after` that
 * leaves them unreadable. Only keys whose value changes are looked at, so a
 * secret already holding a bad entry can still be given a good policy.
 * @throws E_USAGE
 */
export function checkReservedChange(name: string, before: Record<string, string>, after: Record<string, string>, now: number): void {
  const changed = (key: string) => after[key] !== before[key];
  // Set, changed or removed: what is left must read as a policy (or as none).
  if (changed(ROTATE_EVERY_KEY) || changed(EXPIRES_AFTER_KEY)) policyOf(after, name);
  if (changed(ROTATED_AT_KEY) && after[ROTATED_AT_KEY] !== undefined) {
    const t = Date.parse(after[ROTATED_AT_KEY]!);
    if (!Number.isFinite(t) || t > now + ROTATED_AT_SKEW_MS) {
      throw new StoreError('E_USAGE', `${name}: ${ROTATED_AT_KEY} must be an ISO time not in the future`, ['store rotate NAME records it']);
    }
  }
}
