import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { KEY_BYTES } from '../../src/crypto/aead.js';
import { Keyset, type DataKey } from '../../src/crypto/keyset.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function grow(n: number): Keyset {
  const ks = new Keyset();
  for (let i = 0; i < n; i++) {
    const prev = ks.primary();
    if (prev) prev.status = 'active';
    ks.add(ks.generate(1000 + i));
  }
  return ks;
}

describe('Keyset', () => {
  it('starts empty with no primary', () => {
    const ks = new Keyset();
    expect(ks.size).toBe(0);
    expect(ks.primary()).toBeUndefined();
    expect(ks.info()).toEqual([]);
  });

  it('generate gives a fresh nonzero 32-bit id, the next version, 32 bytes of material, and does not add', () => {
    const ks = new Keyset();
    const k = ks.generate(123);
    expect(ks.size).toBe(0);
    expect(k.version).toBe(1);
    expect(k.status).toBe('primary');
    expect(k.createdAt).toBe(123);
    expect(Number.isInteger(k.id) && k.id > 0 && k.id <= 0xffffffff).toBe(true);
    expect(k.material).toBeInstanceOf(Uint8Array);
    expect(k.material!.length).toBe(KEY_BYTES);
    expect(ks.generate(0, 'active').status).toBe('active');
  });

  it('versions count up in creation order; ids are unique; exactly one primary', () => {
    const ks = grow(20);
    expect(ks.size).toBe(20);
    const info = ks.info();
    expect(info.map((k) => k.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(new Set(info.map((k) => k.id)).size).toBe(20);
    expect(info.filter((k) => k.status === 'primary')).toHaveLength(1);
    expect(ks.primary()!.version).toBe(20);
    const materials = new Set(info.map((k) => toHex(ks.byId(k.id)!.material!)));
    expect(materials.size).toBe(20);
  });

  it('versions continue after the highest one present, whatever the insertion order', () => {
    const ks = new Keyset([
      { id: 5, version: 7, status: 'active', createdAt: 0 },
      { id: 6, version: 2, status: 'primary', createdAt: 0, material: new Uint8Array(32) },
    ]);
    expect(ks.generate(0).version).toBe(8);
    expect(ks.info().map((k) => k.version)).toEqual([2, 7]);
  });

  it('byId finds keys by id; unknown ids give undefined', () => {
    const ks = grow(3);
    for (const k of ks.info()) expect(ks.byId(k.id)!.version).toBe(k.version);
    const unused = Math.max(...ks.info().map((k) => k.id)) + 1;
    expect(ks.byId(unused >>> 0)).toBeUndefined();
  });

  it('info() and toString() show ids, versions and status, never key material', () => {
    const key: DataKey = { id: 0xabcdef01, version: 1, status: 'primary', createdAt: 5, material: new Uint8Array(32).fill(0x42) };
    const ks = new Keyset([key]);
    const info = ks.info();
    expect(info).toEqual([{ id: 0xabcdef01, version: 1, status: 'primary', createdAt: 5 }]);
    expect(Object.keys(info[0]!)).not.toContain('material');
    expect(ks.toString()).toBe('Keyset(1:abcdef01:primary)');
    const shown = [ks.toString(), JSON.stringify(info), inspect(ks), inspect(info)].join('\n');
    expect(shown).not.toContain('42,42');
    expect(shown).not.toContain('4242');
    expect(shown).not.toContain('QkJC'); // base64 of 0x42 0x42 0x42
  });

  it('wipe() zeroes every key\'s material and empties the set', () => {
    const ks = grow(3);
    const held = ks.info().map((k) => ks.byId(k.id)!.material!);
    ks.wipe();
    expect(ks.size).toBe(0);
    expect(ks.primary()).toBeUndefined();
    for (const m of held) expect(m.every((b) => b === 0)).toBe(true);
  });

  it('wipe() tolerates keys without material', () => {
    const ks = new Keyset([{ id: 1, version: 1, status: 'destroyed', createdAt: 0 }]);
    expect(() => ks.wipe()).not.toThrow();
    expect(ks.size).toBe(0);
  });
});
