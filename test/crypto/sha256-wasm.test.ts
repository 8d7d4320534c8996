/**
 * The WebAssembly SHA-256 (src/crypto/wasm/) is SHA-256: FIPS 180-4's
 * examples, every length around the padding's edges, and any message up to
 * its limit give node:crypto's digest; the committed module is what its
 * source compiles to; and the MACs give RFC 2104's HMAC whichever SHA-256
 * they run on (WebAssembly before node:crypto is loaded, OpenSSL's after).
 *
 * This file must not load node:crypto through src/platform/node-crypto.ts
 * before the MAC test that runs on WebAssembly: it reaches node:crypto
 * only directly (createHash, createHmac), which the library does not see.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WASM_SHA256_MAX, wasmSha256 as wasmOrNone } from '../../src/crypto/wasm/sha256.js';
import { SHA256_WASM_BASE64 } from '../../src/crypto/wasm/sha256-bytes.js';
import { Hmac, hkdfSha256 } from '../../src/crypto/mac.js';
import { nodeCryptoIfLoaded } from '../../src/platform/node-crypto.js';
import { randomBytes } from '../../src/crypto/random.js';
// @ts-expect-error: a build script in plain JavaScript, without declarations
import { wasmBytes } from '../../scripts/sha256-wasm-compile.mjs';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** The WebAssembly digest (this Node has WebAssembly: without it, as under node --jitless, the MACs use node:crypto; test/cli/e2e.test.ts). */
function wasmSha256(data: Uint8Array): Buffer {
  const digest = wasmOrNone(data);
  if (digest === undefined) throw new Error('this Node has no WebAssembly');
  return digest;
}
const openssl = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('SHA-256 in WebAssembly', () => {
  it("gives FIPS 180-4's example digests", () => {
    expect(hex(wasmSha256(Buffer.from('')))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hex(wasmSha256(Buffer.from('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hex(wasmSha256(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))))
      .toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1');
    expect(hex(wasmSha256(Buffer.from('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu'))))
      .toBe('cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1');
  });

  it("gives node:crypto's digest for every length from 0 to 300 bytes and around each block edge up to its limit", () => {
    const lengths = new Set<number>();
    for (let n = 0; n <= 300; n++) lengths.add(n);
    for (let edge = 64; edge <= WASM_SHA256_MAX + 64; edge += 64 * 97) for (const d of [-10, -9, -8, -1, 0, 1]) lengths.add(edge + d);
    for (const n of [WASM_SHA256_MAX - 1, WASM_SHA256_MAX]) lengths.add(n);
    for (const n of lengths) {
      if (n < 0 || n > WASM_SHA256_MAX) continue;
      const data = Buffer.alloc(n, n & 0xff);
      for (let i = 0; i < n; i += 7) data[i] = (i * 31 + n) & 0xff;
      expect(hex(wasmSha256(data)), `${n} bytes`).toBe(openssl(data));
    }
  });

  it("gives node:crypto's digest for any message up to its limit, one after another (nothing of one hash leaks into the next)", () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 8 }), (messages) => {
      for (const m of messages) expect(hex(wasmSha256(m))).toBe(openssl(m));
    }), { numRuns: 200 });
    const longest = new Uint8Array(WASM_SHA256_MAX).map((_, i) => i * 13);
    expect(hex(wasmSha256(longest))).toBe(openssl(longest));
    expect(hex(wasmSha256(new Uint8Array(0)))).toBe(openssl(new Uint8Array(0)));
  });

  it('refuses a message longer than its memory holds (the MACs take those to node:crypto)', () => {
    expect(() => wasmSha256(new Uint8Array(WASM_SHA256_MAX + 1))).toThrow(RangeError);
  });

  it('is the module its source compiles to', async () => {
    const compiled = await wasmBytes(readFileSync(new URL('../../src/crypto/wasm/sha256.wat', import.meta.url), 'utf8'));
    expect(Buffer.from(compiled).toString('base64')).toBe(SHA256_WASM_BASE64);
  });

  it('makes the MACs: HMAC-SHA256 on WebAssembly until node:crypto is loaded, on OpenSSL after, equal either way', () => {
    const cases = Array.from({ length: 60 }, (_, i) => ({
      key: Buffer.alloc(32, i + 1).map((b, j) => b ^ (j * 7)),
      message: Buffer.alloc(i * 37, i).map((b, j) => b ^ j),
    }));
    cases.push({ key: Buffer.alloc(32, 9), message: Buffer.alloc(WASM_SHA256_MAX + 500, 3) }); // long: node:crypto for it
    const expected = cases.map(({ key, message }) => createHmac('sha256', key).update(message).digest('hex'));
    const macs = (count = cases.length) => cases.slice(0, count).map(({ key, message }) => hex(new Hmac(key).of(message)));
    expect(nodeCryptoIfLoaded()).toBeUndefined();
    expect(macs(cases.length - 1)).toEqual(expected.slice(0, -1)); // WebAssembly (120 hashes, well under the thousand that switch)
    expect(nodeCryptoIfLoaded()).toBeUndefined();
    expect(macs()).toEqual(expected); // the long message loads node:crypto, and every MAC after it is OpenSSL's
    expect(nodeCryptoIfLoaded()).toBeDefined();
    randomBytes(1);
    expect(macs()).toEqual(expected);
  });
});

describe('HKDF-SHA256 on the MACs', () => {
  it("gives node:crypto's hkdfSync output for any key, salt, info and length up to 32 bytes, and RFC 5869's test case 1", () => {
    const tc1 = hkdfSha256(Buffer.alloc(22, 0x0b), Buffer.from('000102030405060708090a0b0c', 'hex'), Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'), 32);
    expect(hex(tc1)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf');
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 1, max: 32 }),
      (ikm, salt, info, length) => {
        expect(hex(hkdfSha256(ikm, salt, info, length))).toBe(Buffer.from(hkdfSync('sha256', ikm, salt, info, length)).toString('hex'));
      },
    ), { numRuns: 300 });
    expect(() => hkdfSha256(new Uint8Array(32), new Uint8Array(16), new Uint8Array(0), 33)).toThrow(RangeError);
  });
});
