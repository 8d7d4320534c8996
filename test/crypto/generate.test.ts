/** Generated secret values: shape, and no modulo bias (rejection sampling). */
import { describe, expect, it } from 'vitest';
import { CHARSETS, generateValue, SYMBOL_PUNCTUATION, uniformIndices, type ByteSource, type Charset } from '../../src/crypto/generate.js';
import { randomBytes } from '../../src/crypto/random.js';
import { codeOf } from '../helpers/errors.js';

const SHAPES: Record<Charset, RegExp> = {
  alnum: /^[A-Za-z0-9]+$/,
  hex: /^[0-9a-f]+$/,
  base64: /^[A-Za-z0-9+/]+$/,
  base64url: /^[A-Za-z0-9_-]+$/,
  digits: /^[0-9]+$/,
  symbols: /^[A-Za-z0-9!#$%&()*+,\-./:;<=>?@[\]^_{|}~]+$/,
};

/** A byte source cycling through 0, 1, …, 255, 0, 1, … (every byte equally often). */
function cyclingBytes(): ByteSource {
  let next = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = next++ & 0xff;
    return out;
  };
}

function chiSquare(counts: number[], total: number): number {
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

// χ² with 61 degrees of freedom: the 1 − 10⁻⁶ quantile is ≈ 129 (Wilson–Hilferty);
// a fair generator exceeds 130 about once in a million runs.
const CRITICAL_61_DF = 130;

describe('generateValue', () => {
  it('has the length and charset asked for', () => {
    for (const charset of Object.keys(CHARSETS) as Charset[]) {
      for (const length of [1, 2, 32, 40, 255, 4096]) {
        const v = generateValue(length, charset);
        expect(v).toHaveLength(length);
        expect(v).toMatch(SHAPES[charset]);
      }
    }
  });

  it('charsets are the documented alphabets, without duplicates', () => {
    expect(CHARSETS.alnum).toHaveLength(62);
    expect(CHARSETS.hex).toBe('0123456789abcdef');
    expect(CHARSETS.base64).toHaveLength(64);
    expect(CHARSETS.base64url).toBe(CHARSETS.alnum + '-_');
    expect(CHARSETS.digits).toBe('0123456789');
    expect(CHARSETS.symbols).toBe(CHARSETS.alnum + SYMBOL_PUNCTUATION);
    for (const a of Object.values(CHARSETS)) expect(new Set(a).size).toBe(a.length);
    expect(SYMBOL_PUNCTUATION).not.toMatch(/[\s'"`\\]/);
  });

  it('defaults to alnum', () => {
    expect(generateValue(64)).toMatch(SHAPES.alnum);
  });

  it('refuses lengths outside 1..4096 and unknown charsets (E_USAGE)', () => {
    for (const bad of [0, -1, 4097, 1.5, Number.NaN]) expect(codeOf(() => generateValue(bad, 'alnum'))).toBe('E_USAGE');
    expect(codeOf(() => generateValue(8, 'emoji' as Charset))).toBe('E_USAGE');
  });

  it('two values differ', () => {
    expect(generateValue(32)).not.toBe(generateValue(32));
  });

  it('shows no gross bias over 200,000 alnum characters (chi-square, 62 buckets)', () => {
    const total = 200_000;
    const counts = new Array<number>(62).fill(0);
    const index = new Map([...CHARSETS.alnum].map((ch, i) => [ch, i]));
    for (let done = 0; done < total; done += 4000) {
      for (const ch of generateValue(4000, 'alnum')) counts[index.get(ch)!]!++;
    }
    expect(chiSquare(counts, total)).toBeLessThan(CRITICAL_61_DF);
  });

  it('the chi-square check would catch plain modulo (b % 62) bias', () => {
    const total = 200_000;
    const counts = new Array<number>(62).fill(0);
    const bytes = randomBytes(total);
    for (const b of bytes) counts[b % 62]!++;
    expect(chiSquare(counts, total)).toBeGreaterThan(CRITICAL_61_DF * 5);
  });
});

describe('uniformIndices (rejection sampling)', () => {
  it('with every byte value equally often, every index comes out equally often', () => {
    // 256 = 4·62 + 8: plain b % 62 would give indices 0..7 five times per cycle, the others four.
    for (const size of [62, 64, 16, 90, 3, 255, 256, 1]) {
      const limit = 256 - (256 % size);
      const perCycle = limit / size;
      const cycles = 7;
      const counts = new Array<number>(size).fill(0);
      for (const i of uniformIndices(limit * cycles, size, cyclingBytes())) counts[i]!++;
      expect(new Set(counts), `size ${size}`).toEqual(new Set([perCycle * cycles]));
    }
  });

  it('rejects bytes at or above the largest multiple of the size', () => {
    // 62: bytes 248..255 are rejected; 90 (symbols): 180..255.
    const fixed = (seq: number[]): ByteSource => {
      let i = 0;
      return (n) => Uint8Array.from({ length: n }, () => seq[i++ % seq.length]!);
    };
    expect(uniformIndices(3, 62, fixed([248, 255, 250, 247, 61, 62]))).toEqual([247 % 62, 61, 0]);
    expect(uniformIndices(2, 90, fixed([180, 200, 179, 255, 0]))).toEqual([179 % 90, 0]);
  });

  it('asks the source again when a batch runs short after rejections', () => {
    let calls = 0;
    const source: ByteSource = (n) => {
      calls++;
      return new Uint8Array(n).fill(calls === 1 ? 255 : 5); // the whole first batch is rejected
    };
    expect(uniformIndices(10, 62, source)).toEqual(new Array(10).fill(5));
    expect(calls).toBe(2);
  });

  it('maps indices onto the alphabet', () => {
    expect(generateValue(16, 'hex', cyclingBytes())).toBe('0123456789abcdef');
  });
});
