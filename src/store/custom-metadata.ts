/**
 * The limits on a secret's custom metadata and the one check of them, for
 * every way metadata comes in: setMetadata refuses with E_USAGE, an import
 * lists the problem among those that refuse the whole file. The two say it
 * in their own words (an import names the count it found), from the same rule.
 */
import { StoreError } from '../errors.js';

export const MAX_CUSTOM_KEYS = 64;
export const MAX_CUSTOM_KEY_LENGTH = 128;
export const MAX_CUSTOM_VALUE_LENGTH = 512;

/** The first way `custom` breaks the limits (which key, for the key and value rules). */
export type CustomProblem =
  | { kind: 'not-an-object' }
  | { kind: 'too-many-keys'; count: number }
  | { kind: 'key-length'; key: string }
  | { kind: 'value'; key: string };

export function customProblem(custom: unknown): CustomProblem | undefined {
  if (typeof custom !== 'object' || custom === null || Array.isArray(custom)) return { kind: 'not-an-object' };
  const entries = Object.entries(custom);
  if (entries.length > MAX_CUSTOM_KEYS) return { kind: 'too-many-keys', count: entries.length };
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > MAX_CUSTOM_KEY_LENGTH) return { kind: 'key-length', key };
    if (typeof value !== 'string' || value.length > MAX_CUSTOM_VALUE_LENGTH) return { kind: 'value', key };
  }
  return undefined;
}

/** For setMetadata. @throws E_USAGE */
export function checkCustom(custom: unknown): void {
  const p = customProblem(custom);
  if (p) throw new StoreError('E_USAGE', usageMessage(p));
}

function usageMessage(p: CustomProblem): string {
  switch (p.kind) {
    case 'not-an-object': return 'custom metadata must be an object of strings';
    case 'too-many-keys': return `custom metadata holds at most ${MAX_CUSTOM_KEYS} keys`;
    case 'key-length': return `custom metadata keys are 1..${MAX_CUSTOM_KEY_LENGTH} characters`;
    case 'value': return `custom metadata value of "${p.key}" must be a string of at most ${MAX_CUSTOM_VALUE_LENGTH} characters`;
  }
}

/**
 * For an import's first pass: the problem as the refusal lists it, or
 * undefined. (A bundle's custom metadata is always an object of strings;
 * its reader makes sure.)
 */
export function customImportProblem(custom: Record<string, string>): string | undefined {
  const p = customProblem(custom);
  switch (p?.kind) {
    case undefined: return undefined;
    case 'not-an-object': return 'custom metadata is not an object of strings';
    case 'too-many-keys': return `custom metadata holds ${p.count} keys (at most ${MAX_CUSTOM_KEYS})`;
    case 'key-length': return `a custom metadata key is not 1..${MAX_CUSTOM_KEY_LENGTH} characters`;
    case 'value': return `a custom metadata value is over ${MAX_CUSTOM_VALUE_LENGTH} characters`;
  }
}
