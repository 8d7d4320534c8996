import { describe, expect, it } from 'vitest';
import { concat, equalBytes, fromBase64, readU32be, toBase64, tryUtf8, u32be, utf8, wipe } from '../../src/crypto/bytes.js';

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('bytes helpers', () => {
  it('concat joins in order into a new array and does not alias its inputs', () => {
    const a = new Uint8Array([1, 2]);
    const b = new Uint8Array([]);
    const c = new Uint8Array([3]);
    const out = concat(a, b, c);
    expect([...out]).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1);
    expect(concat().length).toBe(0);
  });

  it('concat respects subarray views (offset and length)', () => {
    const big = new Uint8Array([0, 1, 2, 3, 4, 5]);
    expect([...concat(big.subarray(2, 4), big.subarray(5))]).toEqual([2, 3, 5]);
  });

  it('u32be / readU32be are big-endian and inverse over the whole range', () => {
    expect(toHex(u32be(0))).toBe('00000000');
    expect(toHex(u32be(1))).toBe('00000001');
    expect(toHex(u32be(0x01020304))).toBe('01020304');
    expect(toHex(u32be(0xffffffff))).toBe('ffffffff');
    for (const n of [0, 1, 255, 256, 65535, 0x7fffffff, 0x80000000, 0xdeadbeef, 0xffffffff]) {
      expect(readU32be(u32be(n), 0)).toBe(n);
    }
  });

  it('readU32be reads at an offset within a subarray view', () => {
    const buf = new Uint8Array([9, 9, 9, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
    const view = buf.subarray(2);
    expect(readU32be(view, 1)).toBe(0xaabbccdd);
    expect(() => readU32be(view, 4)).toThrow(RangeError);
  });

  it('equalBytes compares content and length', () => {
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(equalBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    const x = new Uint8Array(256).map((_, i) => i);
    for (let i = 0; i < 256; i += 17) {
      const y = x.slice();
      y[i]! ^= 0x80;
      expect(equalBytes(x, y)).toBe(false);
    }
  });

  it('wipe zeroes every array given and skips undefined/null', () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array([4]);
    wipe(a, undefined, null, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0]);
  });

  it('tryUtf8 decodes valid UTF-8 and returns undefined for invalid', () => {
    expect(tryUtf8(utf8.encode('héllo €'))).toBe('héllo €');
    expect(tryUtf8(new Uint8Array(0))).toBe('');
    expect(tryUtf8(new Uint8Array([0xff]))).toBeUndefined();
    expect(tryUtf8(new Uint8Array([0xc3]))).toBeUndefined();
    expect(tryUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBeUndefined(); // lone surrogate
  });

  it('toBase64 / fromBase64 round-trip every length 0..64 and views', () => {
    for (let n = 0; n <= 64; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
      expect(fromBase64(toBase64(b))).toEqual(b);
    }
    const big = new Uint8Array([0xff, 1, 2, 3, 0xff]);
    expect(toBase64(big.subarray(1, 4))).toBe('AQID');
  });

  it('fromBase64 accepts missing padding and surrounding whitespace', () => {
    expect([...fromBase64('AQID')!]).toEqual([1, 2, 3]);
    expect([...fromBase64('AQI=')!]).toEqual([1, 2]);
    expect([...fromBase64('AQI')!]).toEqual([1, 2]);
    expect([...fromBase64('  AQID\n')!]).toEqual([1, 2, 3]);
  });

  it('fromBase64 refuses other alphabets, inner whitespace, bad padding and impossible lengths', () => {
    for (const bad of ['A', 'AQIDB', 'AQ-D', 'AQ_D', 'AQ D', 'AQ\nID', 'A===', 'AQ=I', '=AQI', 'AQID!', 'é']) {
      expect(fromBase64(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});
