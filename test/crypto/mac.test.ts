/**
 * The in-place HMAC-SHA256 against RFC 4231's vectors and against
 * node:crypto's createHmac for messages of every length up to well past the
 * buffer's first size (so growing it keeps what was already written).
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Hmac, lthashElement, macMatches } from '../../src/crypto/mac.js';

function macOf(key: Uint8Array, message: Uint8Array): string {
  const h = new Hmac(key);
  h.room(message.length).set(message, 64);
  return Buffer.from(h.mac(message.length)).toString('hex');
}

describe('Hmac (HMAC-SHA256 in place)', () => {
  it('RFC 4231 test cases 1 and 2', () => {
    expect(macOf(new Uint8Array(20).fill(0x0b), Buffer.from('Hi There'))).toBe('b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7');
    expect(macOf(Buffer.from('Jefe'), Buffer.from('what do ya want for nothing?'))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('agrees with createHmac for every length 0..3000, growing its buffer as it goes', () => {
    const key = new Uint8Array(32).map((_, i) => i * 7);
    const h = new Hmac(key);
    for (let n = 0; n <= 3000; n += 13) {
      const message = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff);
      h.room(n).set(message, 64);
      expect(Buffer.from(h.mac(n)).toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'));
    }
  });

  it('a stored MAC matches only itself: null, short and altered ones never', () => {
    const mac = new Uint8Array(32).fill(9);
    expect(macMatches(mac, new Uint8Array(mac))).toBe(true);
    expect(macMatches(mac, null)).toBe(false);
    expect(macMatches(mac, mac.subarray(0, 31))).toBe(false);
    expect(macMatches(mac, new Uint8Array(32).fill(9).fill(8, 31))).toBe(false);
  });

  it('an LtHash element is 2,048 bytes, fixed by the MAC', () => {
    const a = lthashElement(new Uint8Array(32).fill(1));
    expect(a.length).toBe(2048);
    expect(Buffer.from(lthashElement(new Uint8Array(32).fill(1))).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(lthashElement(new Uint8Array(32).fill(2))).equals(Buffer.from(a))).toBe(false);
  });
});
