import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AeadOpenError, KEY_BYTES, NONCE_BYTES, OVERHEAD, TAG_BYTES, open, seal } from '../../src/crypto/aead.js';
import { randomBytes } from '../../src/crypto/random.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface KatVector {
  comment: string;
  key: string;
  nonce: string;
  aad: string;
  plaintext: string;
  ciphertext: string;
  tag: string;
}
const kat = JSON.parse(readFileSync(new URL('../vectors/xchacha20poly1305.json', import.meta.url), 'utf8')) as { vectors: KatVector[] };

describe('XChaCha20-Poly1305 known answers (draft-irtf-cfrg-xchacha)', () => {
  it('has at least one vector', () => {
    expect(kat.vectors.length).toBeGreaterThan(0);
  });

  for (const v of kat.vectors) {
    it(`seals ${v.comment} to the expected nonce ‖ ciphertext ‖ tag`, () => {
      const pt = hex(v.plaintext);
      expect(new TextDecoder().decode(pt)).toBe(
        "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
      );
      const sealed = seal(hex(v.key), pt, hex(v.aad), hex(v.nonce));
      expect(toHex(sealed)).toBe(v.nonce + v.ciphertext + v.tag);
    });

    it(`opens ${v.comment}`, () => {
      const opened = open(hex(v.key), hex(v.nonce + v.ciphertext + v.tag), hex(v.aad));
      expect(toHex(opened)).toBe(v.plaintext);
    });

    it(`rejects ${v.comment} with a changed tag, AAD or nonce`, () => {
      const good = hex(v.nonce + v.ciphertext + v.tag);
      const badTag = good.slice();
      badTag[badTag.length - 1]! ^= 0x01;
      expect(() => open(hex(v.key), badTag, hex(v.aad))).toThrow(AeadOpenError);
      const badAad = hex(v.aad);
      badAad[0]! ^= 0x80;
      expect(() => open(hex(v.key), good, badAad)).toThrow(AeadOpenError);
      const badNonce = good.slice();
      badNonce[0]! ^= 0x01;
      expect(() => open(hex(v.key), badNonce, hex(v.aad))).toThrow(AeadOpenError);
    });
  }
});

describe('seal / open', () => {
  const key = randomBytes(KEY_BYTES);
  const aad = new TextEncoder().encode('context');

  it('round-trips every length 0..300 with the documented layout', () => {
    for (let len = 0; len <= 300; len++) {
      const pt = randomBytes(len);
      const sealed = seal(key, pt, aad);
      expect(sealed.length).toBe(NONCE_BYTES + len + TAG_BYTES);
      expect(sealed.length).toBe(len + OVERHEAD);
      expect(open(key, sealed, aad)).toEqual(pt);
    }
  });

  it('round-trips 1 MiB', () => {
    const pt = randomBytes(1024 * 1024);
    const sealed = seal(key, pt, aad);
    expect(sealed.length).toBe(pt.length + OVERHEAD);
    // Buffer.equals: a deep toEqual over 1 MiB takes seconds.
    expect(Buffer.from(open(key, sealed, aad)).equals(pt)).toBe(true);
  });

  it('round-trips with an empty AAD', () => {
    const pt = randomBytes(17);
    expect(open(key, seal(key, pt, new Uint8Array(0)), new Uint8Array(0))).toEqual(pt);
  });

  it('uses a fresh random nonce per seal', () => {
    const pt = new Uint8Array(32);
    const nonces = new Set<string>();
    for (let i = 0; i < 1000; i++) nonces.add(toHex(seal(key, pt, aad).subarray(0, NONCE_BYTES)));
    expect(nonces.size).toBe(1000);
  });

  it('the given nonce is the first 24 bytes of the output', () => {
    const nonce = randomBytes(NONCE_BYTES);
    expect(seal(key, new Uint8Array(5), aad, nonce).subarray(0, NONCE_BYTES)).toEqual(nonce);
  });

  it('fails with AeadOpenError under a wrong key', () => {
    const sealed = seal(key, randomBytes(40), aad);
    const other = key.slice();
    other[31]! ^= 0x01;
    expect(() => open(other, sealed, aad)).toThrow(AeadOpenError);
  });

  it('fails with AeadOpenError under a wrong AAD (changed, shorter, longer, empty)', () => {
    const sealed = seal(key, randomBytes(40), aad);
    const changed = aad.slice();
    changed[3]! ^= 0x20;
    for (const bad of [changed, aad.subarray(0, aad.length - 1), new Uint8Array([...aad, 0]), new Uint8Array(0)]) {
      expect(() => open(key, sealed, bad)).toThrow(AeadOpenError);
    }
  });

  it('fails with AeadOpenError when any single bit of nonce, ciphertext or tag is flipped', () => {
    const sealed = seal(key, randomBytes(33), aad);
    for (let i = 0; i < sealed.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = sealed.slice();
        bad[i]! ^= bit;
        expect(() => open(key, bad, aad), `byte ${i} bit ${bit}`).toThrow(AeadOpenError);
      }
    }
  });

  it('fails with AeadOpenError when truncated or extended', () => {
    const sealed = seal(key, randomBytes(20), aad);
    for (const len of [0, 1, NONCE_BYTES, OVERHEAD - 1, OVERHEAD, sealed.length - 1]) {
      expect(() => open(key, sealed.subarray(0, len), aad), `length ${len}`).toThrow(AeadOpenError);
    }
    expect(() => open(key, new Uint8Array([...sealed, 0]), aad)).toThrow(AeadOpenError);
  });

  it('the AeadOpenError carries no detail', () => {
    const sealed = seal(key, new TextEncoder().encode('CANARY-aead-secret'), aad);
    sealed[30]! ^= 1;
    try {
      open(key, sealed, aad);
      expect.unreachable('open should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(AeadOpenError);
      expect((e as Error).message).toBe('aead: decryption failed');
      expect((e as Error).cause).toBeUndefined();
    }
  });

  it('does not mutate its inputs', () => {
    const k = randomBytes(KEY_BYTES);
    const pt = randomBytes(100);
    const a = randomBytes(13);
    const nonce = randomBytes(NONCE_BYTES);
    const [k0, pt0, a0, n0] = [k.slice(), pt.slice(), a.slice(), nonce.slice()];
    const sealed = seal(k, pt, a, nonce);
    const sealed0 = sealed.slice();
    const opened = open(k, sealed, a);
    expect(opened).toEqual(pt);
    expect(k).toEqual(k0);
    expect(pt).toEqual(pt0);
    expect(a).toEqual(a0);
    expect(nonce).toEqual(n0);
    expect(sealed).toEqual(sealed0);
  });

  it('a failed open does not mutate the sealed input', () => {
    const sealed = seal(key, randomBytes(50), aad);
    sealed[40]! ^= 1;
    const before = sealed.slice();
    expect(() => open(key, sealed, aad)).toThrow(AeadOpenError);
    expect(sealed).toEqual(before);
  });

  it('refuses keys of the wrong length with a RangeError that shows only the length', () => {
    for (const len of [0, 16, 31, 33, 64]) {
      const bad = new Uint8Array(len).fill(0xab);
      expect(() => seal(bad, new Uint8Array(1), aad)).toThrow(RangeError);
      expect(() => open(bad, new Uint8Array(OVERHEAD + 1), aad)).toThrow(RangeError);
      try {
        seal(bad, new Uint8Array(1), aad);
      } catch (e) {
        expect((e as Error).message).toContain(`length=${len}`);
        expect((e as Error).message).not.toMatch(/ab|171/);
      }
    }
  });

  it('refuses a nonce of the wrong length', () => {
    expect(() => seal(key, new Uint8Array(1), aad, new Uint8Array(12))).toThrow();
  });
});
