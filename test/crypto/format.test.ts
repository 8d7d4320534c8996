import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seal, open, OVERHEAD, KEY_BYTES } from '../../src/crypto/aead.js';
import { aadFor } from '../../src/crypto/aad.js';
import { concat } from '../../src/crypto/bytes.js';
import { blobKeyId, openValue, resealValue, sealValue } from '../../src/crypto/envelope.js';
import { FORMAT_V1, HEADER_BYTES, encodeHeader, parseBlob } from '../../src/crypto/format.js';
import { Keyset, type DataKey } from '../../src/crypto/keyset.js';
import { randomBytes } from '../../src/crypto/random.js';
import { TamperedError } from '../../src/errors.js';
import { codeOf, errorOf } from '../helpers/errors.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface ValueVector {
  comment: string;
  dataKey: string;
  keyId: number;
  storeId: string;
  name: string;
  version: number;
  nonce: string;
  plaintext: string;
  header: string;
  aad: string;
  blob: string;
}
const v1 = JSON.parse(readFileSync(new URL('../vectors/value-v1.json', import.meta.url), 'utf8')) as {
  format: number;
  vectors: ValueVector[];
};

function keysetWith(id: number, material: Uint8Array, status: DataKey['status'] = 'primary'): Keyset {
  return new Keyset([{ id, version: 1, status, createdAt: 0, material }]);
}

describe('value format v1: frozen vectors (test/vectors/value-v1.json)', () => {
  it('is format 1 and has vectors', () => {
    expect(v1.format).toBe(FORMAT_V1);
    expect(v1.vectors.length).toBeGreaterThanOrEqual(3);
  });

  for (const v of v1.vectors) {
    it(`encodes ${v.comment} to exactly the frozen header, AAD and blob`, () => {
      const header = encodeHeader(v.keyId);
      expect(toHex(header)).toBe(v.header);
      const aad = aadFor(header, hex(v.storeId), v.name, v.version);
      expect(toHex(aad)).toBe(v.aad);
      const blob = concat(header, seal(hex(v.dataKey), hex(v.plaintext), aad, hex(v.nonce)));
      expect(toHex(blob)).toBe(v.blob);
      expect(blob.length).toBe(HEADER_BYTES + OVERHEAD + v.plaintext.length / 2);
    });

    it(`openValue decodes ${v.comment}`, () => {
      const ks = keysetWith(v.keyId, hex(v.dataKey));
      const pt = openValue(ks, hex(v.storeId), v.name, v.version, hex(v.blob));
      expect(toHex(pt)).toBe(v.plaintext);
      expect(blobKeyId(hex(v.blob), v.name, v.version)).toBe(v.keyId);
      const parsed = parseBlob(hex(v.blob), 'vector');
      expect(parsed.keyId).toBe(v.keyId);
      expect(toHex(parsed.header)).toBe(v.header);
      expect(toHex(parsed.sealed.subarray(0, 24))).toBe(v.nonce);
    });

    it(`sealValue output for ${v.comment} opens with openValue and has the v1 layout`, () => {
      const key: DataKey = { id: v.keyId, version: 1, status: 'primary', createdAt: 0, material: hex(v.dataKey) };
      const { blob, keyId } = sealValue(key, hex(v.storeId), v.name, v.version, hex(v.plaintext));
      expect(keyId).toBe(v.keyId);
      expect(toHex(blob.subarray(0, HEADER_BYTES))).toBe(v.header);
      expect(blob.length).toBe(hex(v.blob).length);
      // Only the random nonce (and so the ciphertext) differs from the vector.
      expect(toHex(blob)).not.toBe(v.blob);
      expect(toHex(openValue(keysetWith(v.keyId, hex(v.dataKey)), hex(v.storeId), v.name, v.version, blob))).toBe(v.plaintext);
    });
  }

  it('the frozen blob does not open as another name, version or store', () => {
    const v = v1.vectors[0]!;
    const ks = keysetWith(v.keyId, hex(v.dataKey));
    const otherStore = hex(v.storeId);
    otherStore[0]! ^= 1;
    expect(codeOf(() => openValue(ks, hex(v.storeId), `${v.name}x`, v.version, hex(v.blob)))).toBe('E_TAMPERED');
    expect(codeOf(() => openValue(ks, hex(v.storeId), v.name, v.version + 1, hex(v.blob)))).toBe('E_TAMPERED');
    expect(codeOf(() => openValue(ks, otherStore, v.name, v.version, hex(v.blob)))).toBe('E_TAMPERED');
  });
});

describe('format header', () => {
  it('is 0x01 then the key id big-endian', () => {
    expect(toHex(encodeHeader(0))).toBe('0100000000');
    expect(toHex(encodeHeader(0x01020304))).toBe('0101020304');
    expect(toHex(encodeHeader(0xffffffff))).toBe('01ffffffff');
    expect(HEADER_BYTES).toBe(5);
  });

  it('parseBlob returns views for the header and the sealed part', () => {
    const blob = concat(encodeHeader(0xdeadbeef), new Uint8Array(OVERHEAD + 3).fill(7));
    const p = parseBlob(blob, 'x');
    expect(p.keyId).toBe(0xdeadbeef);
    expect(p.header).toEqual(blob.subarray(0, 5));
    expect(p.sealed.length).toBe(OVERHEAD + 3);
  });

  it('works on a blob that is a view at an offset in a larger buffer', () => {
    const inner = concat(encodeHeader(0x11223344), new Uint8Array(OVERHEAD));
    const big = new Uint8Array(inner.length + 10);
    big.set(inner, 7);
    expect(parseBlob(big.subarray(7, 7 + inner.length), 'x').keyId).toBe(0x11223344);
  });

  it('an unknown format byte is E_UNSUPPORTED_FORMAT naming the byte', () => {
    for (const b of [0x00, 0x02, 0x7f, 0xff]) {
      const blob = concat(encodeHeader(1), new Uint8Array(OVERHEAD));
      blob[0] = b;
      const e = errorOf(() => parseBlob(blob, 'app/x version 1'));
      expect(e.code).toBe('E_UNSUPPORTED_FORMAT');
      expect(e.message).toContain(`0x${b.toString(16).padStart(2, '0')}`);
    }
  });

  it('a blob too short to hold header, nonce and tag is E_TAMPERED', () => {
    for (const len of [0, 1, HEADER_BYTES, HEADER_BYTES + OVERHEAD - 1]) {
      const blob = new Uint8Array(len);
      if (len > 0) blob[0] = FORMAT_V1;
      const e = errorOf(() => parseBlob(blob, 'x'));
      expect(e.code).toBe('E_TAMPERED');
      expect(e).toBeInstanceOf(TamperedError);
    }
    // Exactly header + overhead parses (an empty plaintext).
    expect(() => parseBlob(concat(encodeHeader(1), new Uint8Array(OVERHEAD)), 'x')).not.toThrow();
  });

  it('a short blob with an unknown format byte is E_TAMPERED (length is checked first)', () => {
    expect(codeOf(() => parseBlob(new Uint8Array([0x02, 0, 0, 0, 1]), 'x'))).toBe('E_TAMPERED');
  });
});

describe('envelope: sealValue / openValue', () => {
  const storeId = randomBytes(16);
  const material = randomBytes(KEY_BYTES);
  const ks = keysetWith(0x0badf00d, material);
  const primary = ks.primary()!;
  const pt = new TextEncoder().encode('CANARY-envelope-9f3a');

  it('round-trips and binds to name, version and store', () => {
    const { blob } = sealValue(primary, storeId, 'db/pass', 2, pt);
    expect(openValue(ks, storeId, 'db/pass', 2, blob)).toEqual(pt);
    expect(codeOf(() => openValue(ks, storeId, 'db/pas', 2, blob))).toBe('E_TAMPERED');
    expect(codeOf(() => openValue(ks, storeId, 'db/pass', 1, blob))).toBe('E_TAMPERED');
    expect(codeOf(() => openValue(ks, randomBytes(16), 'db/pass', 2, blob))).toBe('E_TAMPERED');
  });

  it('any flipped byte is E_TAMPERED or, for the format byte, E_UNSUPPORTED_FORMAT', () => {
    const { blob } = sealValue(primary, storeId, 'n', 1, pt);
    for (let i = 0; i < blob.length; i++) {
      const bad = blob.slice();
      bad[i]! ^= 0x01;
      expect(codeOf(() => openValue(ks, storeId, 'n', 1, bad)), `byte ${i}`).toBe(i === 0 ? 'E_UNSUPPORTED_FORMAT' : 'E_TAMPERED');
    }
  });

  it('a header naming another key that the keyset holds still fails (the header is in the AAD)', () => {
    const other = randomBytes(KEY_BYTES);
    const two = new Keyset([
      { id: 1, version: 1, status: 'primary', createdAt: 0, material },
      { id: 2, version: 2, status: 'active', createdAt: 0, material: other },
    ]);
    const { blob } = sealValue(two.byId(1)!, storeId, 'n', 1, pt);
    const moved = blob.slice();
    moved.set(encodeHeader(2), 0);
    expect(codeOf(() => openValue(two, storeId, 'n', 1, moved))).toBe('E_TAMPERED');
    // Same material under both ids: the AAD still differs, so it still fails.
    const same = new Keyset([
      { id: 1, version: 1, status: 'primary', createdAt: 0, material },
      { id: 2, version: 2, status: 'active', createdAt: 0, material },
    ]);
    expect(codeOf(() => openValue(same, storeId, 'n', 1, moved))).toBe('E_TAMPERED');
  });

  it('a key id the keyset does not hold, or a destroyed key, is E_TAMPERED', () => {
    const { blob } = sealValue(primary, storeId, 'n', 1, pt);
    expect(codeOf(() => openValue(new Keyset(), storeId, 'n', 1, blob))).toBe('E_TAMPERED');
    const destroyed = new Keyset([{ id: primary.id, version: 1, status: 'destroyed', createdAt: 0 }]);
    expect(codeOf(() => openValue(destroyed, storeId, 'n', 1, blob))).toBe('E_TAMPERED');
  });

  it('resealValue: the same value and place under the new key with the same nonce; never under the key it is under', () => {
    const two = new Keyset([
      { id: 1, version: 1, status: 'active', createdAt: 0, material },
      { id: 2, version: 2, status: 'primary', createdAt: 0, material: randomBytes(KEY_BYTES) },
    ]);
    const { blob } = sealValue(two.byId(1)!, storeId, 'db/pass', 2, pt);
    const moved = resealValue(two, two.byId(2)!, storeId, 'db/pass', 2, blob);
    expect(moved.keyId).toBe(2);
    expect(blobKeyId(moved.blob, 'db/pass', 2)).toBe(2);
    expect(toHex(moved.blob.subarray(HEADER_BYTES, HEADER_BYTES + 24))).toBe(toHex(blob.subarray(HEADER_BYTES, HEADER_BYTES + 24)));
    expect(toHex(moved.blob.subarray(HEADER_BYTES + 24))).not.toBe(toHex(blob.subarray(HEADER_BYTES + 24)));
    expect(openValue(two, storeId, 'db/pass', 2, moved.blob)).toEqual(pt);
    expect(codeOf(() => openValue(two, storeId, 'db/pass', 1, moved.blob))).toBe('E_TAMPERED');
    expect(() => resealValue(two, two.byId(2)!, storeId, 'db/pass', 2, moved.blob)).toThrow(/already under data key 2/);
    // Only what opens is sealed again: a value that does not open in its place is E_TAMPERED, and nothing is made.
    expect(codeOf(() => resealValue(two, two.byId(2)!, storeId, 'db/pass', 3, blob))).toBe('E_TAMPERED');
  });

  it('sealValue refuses a key without material (E_TAMPERED)', () => {
    expect(codeOf(() => sealValue({ id: 9, version: 1, status: 'destroyed', createdAt: 0 }, storeId, 'n', 1, pt))).toBe('E_TAMPERED');
  });

  it('errors name the place but never the plaintext, and keep no cause', () => {
    const { blob } = sealValue(primary, storeId, 'app/secret', 7, pt);
    const bad = blob.slice();
    bad[bad.length - 1]! ^= 1;
    const e = errorOf(() => openValue(ks, storeId, 'app/secret', 7, bad));
    expect(e.code).toBe('E_TAMPERED');
    expect(e.message).toContain('app/secret');
    expect(e.message).toContain('7');
    expect(e.message).not.toContain('CANARY');
    expect(e.cause).toBeUndefined();
  });

  it('a bare AEAD output (no header) whose nonce happens to look like our header is E_TAMPERED', () => {
    const aad = aadFor(encodeHeader(primary.id), storeId, 'n', 1);
    const nonce = concat(encodeHeader(primary.id), randomBytes(19));
    const raw = seal(material, pt, aad, nonce);
    expect(codeOf(() => openValue(ks, storeId, 'n', 1, raw))).toBe('E_TAMPERED');
    // The same bytes with the header in front open: the header is the only difference.
    expect(openValue(ks, storeId, 'n', 1, concat(encodeHeader(primary.id), raw))).toEqual(pt);
    expect(open(material, raw, aad)).toEqual(pt);
  });

  it('does not mutate the plaintext, store id or blob', () => {
    const p = pt.slice();
    const s = storeId.slice();
    const { blob } = sealValue(primary, storeId, 'n', 3, p);
    const b = blob.slice();
    openValue(ks, storeId, 'n', 3, blob);
    expect(p).toEqual(pt);
    expect(storeId).toEqual(s);
    expect(blob).toEqual(b);
    expect(primary.material).toEqual(material);
  });
});
