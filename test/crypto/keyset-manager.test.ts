import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { canDestroy, canRetire, demote } from '../../src/crypto/keyset-manager.js';
import type { KeyStatus } from '../../src/crypto/keyset.js';

const STATUSES: KeyStatus[] = ['primary', 'active', 'retired', 'destroyed'];

describe('keyset transitions', () => {
  it('demote: a replaced primary becomes active (decrypt only); other keys keep their status', () => {
    expect(demote({ status: 'primary' })).toBe('active');
    for (const status of ['active', 'retired', 'destroyed'] as const) expect(demote({ status })).toBe(status);
  });

  it('canRetire: only an active key that encrypts nothing', () => {
    expect(canRetire({ status: 'active' }, 0)).toBe('retired');
    expect(canRetire({ status: 'active' }, 1)).toBeUndefined();
    for (const status of ['primary', 'retired', 'destroyed'] as const) expect(canRetire({ status }, 0)).toBeUndefined();
  });

  it('canDestroy: a retired key that encrypts nothing, or one destroyed already', () => {
    expect(canDestroy({ status: 'retired', version: 2 }, 0)).toBe('destroyed');
    expect(canDestroy({ status: 'destroyed', version: 2 }, 0)).toBe('destroyed');
  });

  it('canDestroy refuses every other key with E_KEY_IN_USE, saying its status and uses', () => {
    for (const status of STATUSES) {
      for (const uses of [0, 3]) {
        if (status === 'destroyed' || (status === 'retired' && uses === 0)) continue;
        const refused = canDestroy({ status, version: 4 }, uses);
        expect(refused).toBeInstanceOf(StoreError);
        const e = refused as StoreError;
        expect(e.code).toBe('E_KEY_IN_USE');
        expect(e.message).toBe(`data key 4 is ${status} and encrypts ${uses} version(s); only a retired key can be destroyed`);
        expect(e.hints).toEqual(['run store rotate-keys first: it rewraps old versions and retires unused keys']);
      }
    }
  });
});
