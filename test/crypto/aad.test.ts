import { describe, expect, it } from 'vitest';
import { aadFor, keyWrapAad, masterCheckAad } from '../../src/crypto/aad.js';
import { encodeHeader } from '../../src/crypto/format.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u32 = (n: number) => n.toString(16).padStart(8, '0');
const ascii = (s: string) => Buffer.from(s, 'utf8').toString('hex');

describe('aadFor', () => {
  const header = encodeHeader(0x0a0b0c0d);
  const storeId = new Uint8Array(16).fill(0x5a);

  it('is header ‖ label ‖ store id ‖ name, each length-prefixed, then the version (u32 BE)', () => {
    const expected =
      u32(5) + toHex(header) +
      u32(18) + ascii('strongbox/value/v1') +
      u32(16) + toHex(storeId) +
      u32(6) + ascii('db/pwd') +
      u32(42);
    expect(toHex(aadFor(header, storeId, 'db/pwd', 42))).toBe(expected);
  });

  it('encodes the name as UTF-8 bytes (length in bytes, not characters)', () => {
    const a = aadFor(header, storeId, 'é', 1);
    expect(toHex(a)).toContain(u32(2) + 'c3a9' + u32(1));
  });

  it('differs for every change of place', () => {
    const base = toHex(aadFor(header, storeId, 'a/b', 1));
    const otherStore = storeId.slice();
    otherStore[15] = 0;
    const variants = [
      aadFor(encodeHeader(0x0a0b0c0e), storeId, 'a/b', 1),
      aadFor(header, otherStore, 'a/b', 1),
      aadFor(header, storeId, 'a/c', 1),
      aadFor(header, storeId, 'a/b', 2),
      aadFor(header, storeId, 'a/b', 1 + 2 ** 32 - 1),
    ].map(toHex);
    for (const v of variants) expect(v).not.toBe(base);
    expect(new Set(variants).size).toBe(variants.length);
  });

  it('length prefixes keep shifted fields apart (no two places encode alike)', () => {
    // Moving a byte from the store id into the name must change the encoding.
    const s1 = new Uint8Array([1, 2, 3, 0x61]);
    const s2 = new Uint8Array([1, 2, 3]);
    expect(toHex(aadFor(header, s1, 'b', 1))).not.toBe(toHex(aadFor(header, s2, 'ab', 1)));
  });

  it('does not mutate its inputs', () => {
    const h = header.slice();
    const s = storeId.slice();
    aadFor(h, s, 'x', 1);
    expect(h).toEqual(header);
    expect(s).toEqual(storeId);
  });
});

describe('keyWrapAad and masterCheckAad', () => {
  const storeId = new Uint8Array(16).fill(0x11);

  it('keyWrapAad is label ‖ store id (length-prefixed) ‖ key id ‖ key version', () => {
    expect(toHex(keyWrapAad(storeId, 0xcafebabe, 3))).toBe(
      u32(20) + ascii('strongbox/keywrap/v1') + u32(16) + toHex(storeId) + 'cafebabe' + u32(3),
    );
  });

  it('masterCheckAad is label ‖ store id (length-prefixed)', () => {
    expect(toHex(masterCheckAad(storeId))).toBe(u32(25) + ascii('strongbox/master-check/v1') + u32(16) + toHex(storeId));
  });

  it('the three kinds of AAD never coincide, and each binds the store id and key slot', () => {
    const all = [
      toHex(aadFor(encodeHeader(1), storeId, 'n', 1)),
      toHex(keyWrapAad(storeId, 1, 1)),
      toHex(masterCheckAad(storeId)),
    ];
    expect(new Set(all).size).toBe(3);
    expect(toHex(keyWrapAad(storeId, 1, 1))).not.toBe(toHex(keyWrapAad(storeId, 2, 1)));
    expect(toHex(keyWrapAad(storeId, 1, 1))).not.toBe(toHex(keyWrapAad(storeId, 1, 2)));
    expect(toHex(masterCheckAad(storeId))).not.toBe(toHex(masterCheckAad(new Uint8Array(16))));
  });
});
