import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import {
  checkCustom, customImportProblem, customProblem, MAX_CUSTOM_KEY_LENGTH, MAX_CUSTOM_KEYS, MAX_CUSTOM_VALUE_LENGTH,
} from '../../src/store/custom-metadata.js';

function keys(n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`k${i}`] = 'v';
  return out;
}

function usageMessage(custom: unknown): string | undefined {
  try {
    checkCustom(custom);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('E_USAGE');
    return (e as StoreError).message;
  }
}

describe('custom metadata limits', () => {
  it('are 64 keys, keys of 1..128 characters, values of at most 512', () => {
    expect([MAX_CUSTOM_KEYS, MAX_CUSTOM_KEY_LENGTH, MAX_CUSTOM_VALUE_LENGTH]).toEqual([64, 128, 512]);
    const atLimits = keys(63);
    atLimits['k'.repeat(128)] = 'v'.repeat(512);
    expect(customProblem(atLimits)).toBeUndefined();
    expect(customProblem({ e: '' })).toBeUndefined();
    expect(customProblem({})).toBeUndefined();
  });

  it('name the first problem: the shape, the count, the key, the value', () => {
    expect(customProblem(null)).toEqual({ kind: 'not-an-object' });
    expect(customProblem(['a'])).toEqual({ kind: 'not-an-object' });
    expect(customProblem(keys(65))).toEqual({ kind: 'too-many-keys', count: 65 });
    expect(customProblem({ '': 'v' })).toEqual({ kind: 'key-length', key: '' });
    expect(customProblem({ ['k'.repeat(129)]: 'v' })).toEqual({ kind: 'key-length', key: 'k'.repeat(129) });
    expect(customProblem({ a: 'ok', b: 'v'.repeat(513) })).toEqual({ kind: 'value', key: 'b' });
    expect(customProblem({ b: 5 })).toEqual({ kind: 'value', key: 'b' });
  });

  it('setMetadata refuses with E_USAGE in its own words', () => {
    expect(usageMessage({ a: 'b' })).toBeUndefined();
    expect(usageMessage('string')).toBe('custom metadata must be an object of strings');
    expect(usageMessage(keys(65))).toBe('custom metadata holds at most 64 keys');
    expect(usageMessage({ '': 'v' })).toBe('custom metadata keys are 1..128 characters');
    expect(usageMessage({ k: 'v'.repeat(513) })).toBe('custom metadata value of "k" must be a string of at most 512 characters');
  });

  it('an import lists the problem in its own words, with the count it found', () => {
    expect(customImportProblem({ a: 'b' })).toBeUndefined();
    expect(customImportProblem(keys(70))).toBe('custom metadata holds 70 keys (at most 64)');
    expect(customImportProblem({ ['k'.repeat(129)]: 'v' })).toBe('a custom metadata key is not 1..128 characters');
    expect(customImportProblem({ k: 'v'.repeat(513) })).toBe('a custom metadata value is over 512 characters');
  });
});
