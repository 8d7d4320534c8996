/**
 * Codec and AEAD properties: seal/open and the value envelope round-trip,
 * and any single flipped bit (header, key id, nonce, body, tag) or any change
 * of the bound place (store id, name, version, AAD) makes opening fail, as
 * E_TAMPERED (on the primitives, E_UNSUPPORTED_FORMAT for the format byte;
 * in a store, whose version MAC covers the ciphertext's head, E_TAMPERED
 * there too) and never as a wrong value. Checked on the primitives and on a real store, on each driver
 * (a SQLite file, a PostgreSQL database: test/helpers/drivers.ts).
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initStore, isStoreError, rawKey, type Store } from '../../src/index.js';
import { AeadOpenError, NONCE_BYTES, OVERHEAD, TAG_BYTES, open, seal } from '../../src/crypto/aead.js';
import { openValue, sealValue } from '../../src/crypto/envelope.js';
import { FORMAT_V1, HEADER_BYTES, encodeHeader, parseBlob } from '../../src/crypto/format.js';
import { Keyset } from '../../src/crypto/keyset.js';
import { DRIVERS, type Place, type RawDb } from '../helpers/drivers.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(b);
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isStoreError(e)) return e.code;
    if (e instanceof AeadOpenError) return 'AeadOpenError';
    return `unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  return 'no error';
}

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const bytes = (max: number) => fc.uint8Array({ minLength: 0, maxLength: max });

describe('AEAD seal/open (XChaCha20-Poly1305)', () => {
  it('round-trips and leaves its inputs unchanged', () => {
    fc.assert(
      fc.property(key32, bytes(2048), bytes(256), (key, pt, aad) => {
        const [k0, p0, a0] = [hex(key), hex(pt), hex(aad)];
        const sealed = seal(key, pt, aad);
        expect(sealed.length).toBe(pt.length + OVERHEAD);
        expect(hex(open(key, sealed, aad))).toBe(p0);
        expect([hex(key), hex(pt), hex(aad)]).toEqual([k0, p0, a0]);
      }),
      { numRuns: 500 },
    );
  });

  it('any flipped bit of nonce ‖ ciphertext ‖ tag fails to open', () => {
    fc.assert(
      fc.property(key32, bytes(300), bytes(64), fc.nat(), (key, pt, aad, at) => {
        const sealed = seal(key, pt, aad);
        const bit = at % (sealed.length * 8);
        expect(codeOf(() => open(key, flipBit(sealed, bit), aad))).toBe('AeadOpenError');
      }),
      { numRuns: 2000 },
    );
  });

  it('any other AAD, any other key, or a truncated input fails to open', () => {
    fc.assert(
      fc.property(key32, key32, bytes(300), bytes(64), bytes(64), fc.nat(), (key, other, pt, aad, aad2, cut) => {
        fc.pre(hex(aad) !== hex(aad2) && hex(key) !== hex(other));
        const sealed = seal(key, pt, aad);
        expect(codeOf(() => open(key, sealed, aad2))).toBe('AeadOpenError');
        expect(codeOf(() => open(other, sealed, aad))).toBe('AeadOpenError');
        expect(codeOf(() => open(key, sealed.subarray(0, cut % sealed.length), aad))).toBe('AeadOpenError');
      }),
      { numRuns: 500 },
    );
  });
});

describe('value format and envelope', () => {
  it('header encodes the format byte and the key id big-endian; parseBlob reads them back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), bytes(100), (keyId, rest) => {
        const header = encodeHeader(keyId);
        expect(header.length).toBe(HEADER_BYTES);
        expect(header[0]).toBe(FORMAT_V1);
        expect(Buffer.from(header).readUInt32BE(1)).toBe(keyId);
        const blob = new Uint8Array([...header, ...new Uint8Array(NONCE_BYTES + TAG_BYTES), ...rest]);
        const p = parseBlob(blob, 'x version 1');
        expect(p.keyId).toBe(keyId);
        expect(hex(p.header)).toBe(hex(header));
        expect(hex(p.sealed)).toBe(hex(blob.subarray(HEADER_BYTES)));
      }),
      { numRuns: 500 },
    );
  });

  it('a blob with any format byte but 0x01 is E_UNSUPPORTED_FORMAT; a too-short one E_TAMPERED', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), bytes(80), (format, rest) => {
        const blob = new Uint8Array([format, ...rest]);
        const code = codeOf(() => parseBlob(blob, 'x version 1'));
        if (blob.length < HEADER_BYTES + OVERHEAD) expect(code).toBe('E_TAMPERED');
        else if (format !== FORMAT_V1) expect(code).toBe('E_UNSUPPORTED_FORMAT');
        else expect(code).toBe('no error');
      }),
      { numRuns: 1000 },
    );
  });

  const keyset = new Keyset();
  const primary = keyset.generate(0, 'primary');
  keyset.add(primary);
  const storeId = new Uint8Array(randomBytes(16));
  const nameArb = fc.constantFrom('a', 'b', 'app/db', 'app/db2', 'x.y');
  const verArb = fc.integer({ min: 1, max: 2 ** 31 });

  it('sealValue/openValue round-trip at the same place', () => {
    fc.assert(
      fc.property(nameArb, verArb, bytes(1024), (name, version, pt) => {
        const { blob, keyId } = sealValue(primary, storeId, name, version, pt);
        expect(keyId).toBe(primary.id);
        expect(hex(openValue(keyset, storeId, name, version, blob))).toBe(hex(pt));
      }),
      { numRuns: 500 },
    );
  });

  it('any flipped bit in a value blob is E_TAMPERED (E_UNSUPPORTED_FORMAT for the format byte)', () => {
    fc.assert(
      fc.property(nameArb, verArb, bytes(200), fc.nat(), (name, version, pt, at) => {
        const { blob } = sealValue(primary, storeId, name, version, pt);
        const bit = at % (blob.length * 8);
        const code = codeOf(() => openValue(keyset, storeId, name, version, flipBit(blob, bit)));
        expect(code).toBe(bit < 8 ? 'E_UNSUPPORTED_FORMAT' : 'E_TAMPERED');
      }),
      { numRuns: 2000 },
    );
  });

  it('a blob opened at another place (store id, name or version) is E_TAMPERED', () => {
    fc.assert(
      fc.property(nameArb, nameArb, verArb, verArb, fc.uint8Array({ minLength: 16, maxLength: 16 }), bytes(200), (n1, n2, v1, v2, sid2, pt) => {
        const { blob } = sealValue(primary, storeId, n1, v1, pt);
        if (n1 !== n2) expect(codeOf(() => openValue(keyset, storeId, n2, v1, blob))).toBe('E_TAMPERED');
        if (v1 !== v2) expect(codeOf(() => openValue(keyset, storeId, n1, v2, blob))).toBe('E_TAMPERED');
        if (hex(sid2) !== hex(storeId)) expect(codeOf(() => openValue(keyset, sid2, n1, v1, blob))).toBe('E_TAMPERED');
      }),
      { numRuns: 1000 },
    );
  });
});

describe.each(DRIVERS)('flipped bits in a real store on $name', (driver) => {
  let place: Place;
  let store: Store;
  let db: RawDb;
  const originals = new Map<string, { value: Uint8Array; blob: Buffer }>();
  // A SQLite page holds 4096 bytes (more overflows); PostgreSQL moves a value of more than ~2 kB out of line (TOAST).
  const SIZES: Record<string, number> = { tiny: 1, small: 40, page: 3000, overflow: 9000 };

  beforeAll(async () => {
    place = await driver.place();
    store = await initStore(place.locator, rawKey(new Uint8Array(randomBytes(32))));
    for (const [name, size] of Object.entries(SIZES)) {
      const value = new Uint8Array(randomBytes(size));
      await store.put(name, value);
      originals.set(name, { value, blob: Buffer.alloc(0) });
    }
    db = await driver.raw(place.locator);
    for (const [name, o] of originals) o.blob = await readBlob(name);
  });
  afterAll(async () => {
    await db?.close();
    await store?.close();
    await place?.remove();
  });

  function readBlob(name: string): Promise<Buffer> {
    return db.value<Buffer>('SELECT v.ciphertext FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? AND v.version = 1', name);
  }
  async function writeBlob(name: string, blob: Uint8Array): Promise<void> {
    const changes = await db.run('UPDATE versions SET ciphertext = ? WHERE version = 1 AND secret_id = (SELECT id FROM secrets WHERE name = ?)', Buffer.from(blob), name);
    expect(changes).toBe(1);
  }
  async function getCode(name: string, opts: { version?: number } = {}): Promise<string> {
    try {
      const got = await store.get(name, opts);
      return `value ${hex(got.value.expose()) === hex(originals.get(name)!.value) ? 'right' : 'WRONG'}`;
    } catch (e) {
      return isStoreError(e) ? e.code : `unexpected ${(e as Error).message}`;
    }
  }

  it('get of a version with any one bit flipped fails (never a value), and works again once restored', async () => {
    const names = Object.keys(SIZES);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), fc.nat(), async (name, at) => {
        const blob = originals.get(name)!.blob;
        const bit = at % (blob.length * 8);
        await writeBlob(name, flipBit(blob, bit));
        try {
          const code = await getCode(name);
          // The format byte too: the row's MAC covers the ciphertext's head (schema 8).
          expect(code).toBe('E_TAMPERED');
          expect(await getCode(name, { version: 1 })).toBe(code);
        } finally {
          await writeBlob(name, blob);
        }
        expect(await getCode(name)).toBe('value right');
      }),
      { numRuns: 400 },
    );
  });

  it('rollback to a version with a flipped bit fails and writes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), async (at) => {
        const blob = originals.get('small')!.blob;
        const bit = 8 + (at % ((blob.length - 1) * 8)); // past the format byte
        await writeBlob('small', flipBit(blob, bit));
        let code = 'no error';
        try {
          await store.rollback('small', 1);
        } catch (e) {
          code = isStoreError(e) ? e.code : 'unexpected';
        } finally {
          await writeBlob('small', blob);
        }
        expect(code).toBe('E_TAMPERED');
        expect((await store.history('small')).length).toBe(1);
      }),
      { numRuns: 50 },
    );
  });
});
