// The rewrap's worker thread (src/crypto/reseal-worker.ts): what it seals is byte for byte what resealValue
// seals in this thread, the digest element it hands back is lthashElement's, and a value that does not open is
// E_TAMPERED by name while the rest of its batch is sealed.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KEY_BYTES } from '../../src/crypto/aead.js';
import { prepareReseal, resealed, resealValue, sealValue } from '../../src/crypto/envelope.js';
import { Keyset, type DataKey } from '../../src/crypto/keyset.js';
import { lthashElement } from '../../src/crypto/mac.js';
import { randomBytes } from '../../src/crypto/random.js';
import { ResealWorker } from '../../src/crypto/reseal-worker.js';
import { xchachaSubkey } from '../../src/crypto/xchacha.js';
import { codeOf } from '../helpers/errors.js';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const storeId = randomBytes(16);
const oldKey: DataKey = { id: 0x1111, version: 1, status: 'active', createdAt: 0, material: randomBytes(32) };
const newKey: DataKey = { id: 0x2222, version: 2, status: 'primary', createdAt: 0, material: randomBytes(32) };
const keyset = new Keyset([oldKey, newKey]);
const worker = new ResealWorker();
afterAll(() => worker.close());

interface Value {
  name: string;
  version: number;
  plaintext: Uint8Array;
  blob: Uint8Array;
  mac: Uint8Array;
}

const value = (name: string, version: number, plaintext: Uint8Array): Value =>
  ({ name, version, plaintext, blob: sealValue(oldKey, storeId, name, version, plaintext).blob, mac: randomBytes(32) });

/** `values` through the worker, as rotation.ts sends a batch. */
async function throughWorker(values: readonly Value[]) {
  const keys = new Uint8Array(2 * KEY_BYTES * values.length);
  const prepared = values.map((v, i) => prepareReseal(keyset, newKey, storeId, v.name, v.version, v.blob, v.mac, keys.subarray(64 * i, 64 * (i + 1))));
  const answers = await worker.reseal(keys, prepared.map((p) => p.job));
  expect(keys.buffer.byteLength).toBe(0); // handed over: the subkeys are the worker's to zero, not copied
  return prepared.map((p, i) => () => resealed(p, answers[i]!));
}

describe('the reseal worker', () => {
  it('HChaCha20 gives the subkey of draft-irtf-cfrg-xchacha §2.2.1', () => {
    const out = new Uint8Array(32);
    xchachaSubkey(hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'), hex('000000090000004a0000000031415927'), out);
    expect(Buffer.from(out).toString('hex')).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });

  it('seals each value of a batch exactly as resealValue does, with its nonce kept, and hands back lthashElement of its MAC', async () => {
    const names = fc.stringMatching(/^[a-z][a-z0-9/_-]{0,40}$/).chain((n) => fc.constant(n)).filter((n) => n.length > 0);
    const batch = fc.sample(fc.tuple(names, fc.integer({ min: 1, max: 2 ** 31 }), fc.uint8Array({ maxLength: 300 })), { numRuns: 60, seed: 7 })
      .map(([n, v, p]) => value(n, v, p));
    batch.push(value('big/value', 1, randomBytes(1 << 20)), value('empty', 3, new Uint8Array(0)), value('ünïcode/name', 9, randomBytes(64)));
    const results = await throughWorker(batch);
    batch.forEach((v, i) => {
      const got = results[i]!();
      expect(got.keyId).toBe(newKey.id);
      expect(Buffer.from(got.blob).equals(Buffer.from(resealValue(keyset, newKey, storeId, v.name, v.version, v.blob).blob))).toBe(true);
      expect(Buffer.from(got.readElement).equals(Buffer.from(lthashElement(v.mac)))).toBe(true);
    });
  });

  it('a value that does not open under its AAD is E_TAMPERED by name; the others of its batch are sealed', async () => {
    const batch = [value('a', 1, randomBytes(10)), value('b', 2, randomBytes(10)), value('c', 3, randomBytes(10))];
    batch[1]!.blob[batch[1]!.blob.length - 1]! ^= 1; // the tag
    const moved = { ...value('d', 4, randomBytes(10)), version: 5 }; // sealed as d@4, read as d@5
    const results = await throughWorker([...batch, moved]);
    expect(results[0]!().keyId).toBe(newKey.id);
    expect(() => results[1]!()).toThrow(/cannot decrypt b version 2: data was altered or moved/);
    expect(codeOf(() => results[1]!())).toBe('E_TAMPERED');
    expect(results[2]!().keyId).toBe(newKey.id);
    expect(codeOf(() => results[3]!())).toBe('E_TAMPERED');
  });

  it('refuses keys that are not a whole buffer of two subkeys a job, zeroing them; a closed worker refuses work', async () => {
    const v = value('a', 1, randomBytes(8));
    const keys = new Uint8Array(64);
    const { job } = prepareReseal(keyset, newKey, storeId, v.name, v.version, v.blob, v.mac, keys);
    const short = keys.slice(0, 32);
    await expect(worker.reseal(short, [job])).rejects.toThrow(/two 32-byte subkeys a job/);
    expect(short.every((b) => b === 0)).toBe(true);
    const other = new ResealWorker();
    await other.close();
    const again = keys.slice();
    await expect(other.reseal(again, [job])).rejects.toThrow(/the reseal worker is closed/);
    expect(again.every((b) => b === 0)).toBe(true);
  });

  it('prepareReseal refuses a value already under the new key, as resealValue does', () => {
    const { blob } = sealValue(newKey, storeId, 'n', 1, randomBytes(4));
    expect(() => prepareReseal(keyset, newKey, storeId, 'n', 1, blob, randomBytes(32), new Uint8Array(64))).toThrow(/already under data key 2/);
  });
});
