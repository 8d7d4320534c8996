/**
 * Age bundle properties (fast-check):
 *  1. any store (random names, values of any bytes, versions, deletes,
 *     destroys, metadata), exported with all versions to one to three age
 *     recipients (binary or armored), imported with any one of their
 *     identities, arrives identical;
 *  2. mutations of a valid age bundle (flip, truncate, insert, delete,
 *     overwrite) are each refused with a typed StoreError of the bundle
 *     codes, and the target store is left exactly as it was;
 *  3. the records codec alone: any record encodes to lines that decode to
 *     the same record; random lines only ever raise StoreErrors.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createAgeIdentityFile, initStore, rawKey, StoreError, type Store,
} from '../../src/index.js';
import { RecordsDecoder, encodeHeaderLine, encodeSecretLine, encodeVersionLine } from '../../src/crypto/age-records.js';
import { dump, exportable } from '../helpers/dump.js';
import { mutate, mutation } from '../helpers/mutation.js';
import { applyOps, nameArb, outcome, type StoreOp } from '../helpers/store-ops.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const base = tempDir('strongbox-prop-age-');
afterAll(cleanupTempDirs);
let counter = 0;
const fresh = (name: string) => {
  const dir = join(base, `${name}-${++counter}`);
  mkdirSync(dir);
  return dir;
};

// Values that go as text and values that go as base64, and text JSON must escape.
const valueArb = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc.string({ maxLength: 24, unit: 'grapheme' }).map((s) => new TextEncoder().encode(s)),
  fc.constantFrom('', '"\\\n\t\r', '\u2028\u2029', '\x7f', '\x00').map((s) => new TextEncoder().encode(s)),
);

const opArb = (names: number): fc.Arbitrary<StoreOp> => {
  const name = fc.integer({ min: 0, max: names - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), name, value: valueArb }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), name }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), name, pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('meta' as const), name, maxVersions: fc.constantFrom(0, 0, 3),
        custom: fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
      }),
    },
  );
};

describe('1. age export --all-versions then import reproduces the store', () => {
  it('with any one of up to three recipients\' identities, binary or armored', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 4 }).chain((names) => fc.record({
          names: fc.constant(names), ops: fc.array(opArb(names.length), { maxLength: 20 }),
          recipients: fc.integer({ min: 1, max: 3 }), opener: fc.nat(), armor: fc.boolean(),
        })),
        async ({ names, ops, recipients, opener, armor }) => {
          const dir = fresh('rt');
          let t = Date.UTC(2024, 5, 1);
          const srcMaster = rawKey(new Uint8Array(randomBytes(32)));
          const dstMaster = rawKey(new Uint8Array(randomBytes(32)));
          const src = await initStore(join(dir, 'src.db'), srcMaster, { now: () => (t += 1000) });
          const dst = await initStore(join(dir, 'dst.db'), dstMaster, { now: () => 0 });
          try {
            await applyOps(src, names, ops);
            const ids = await Promise.all(Array.from({ length: recipients }, async (_, i) => {
              const file = join(dir, `id-${i}.txt`);
              return { file, recipient: await createAgeIdentityFile(file) };
            }));
            const file = join(dir, 'all.age');
            const want = exportable(await dump(src, srcMaster));
            const r = await src.exportBundle(file, { recipients: ids.map((i) => i.recipient), armor, allVersions: true });
            expect(r.secrets).toBe(want.length);
            const imp = await dst.importBundle(file, { identities: [{ identityFile: ids[opener % ids.length]!.file }] });
            expect(imp.created).toEqual(want.map((s) => s.name));
            expect(await dump(dst, dstMaster)).toEqual(want);
          } finally {
            await src.close();
            await dst.close();
          }
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe('2. fuzz: a mutated age bundle is refused with a typed code; the target is unchanged', () => {
  let dir: string;
  let target: Store;
  let valid: Buffer;
  let identityFile: string;
  let before: Awaited<ReturnType<typeof dump>>;
  const targetMaster = rawKey(new Uint8Array(randomBytes(32)));

  beforeAll(async () => {
    dir = fresh('fuzz');
    identityFile = join(dir, 'me.txt');
    const recipient = await createAgeIdentityFile(identityFile);
    const src = await initStore(join(dir, 'src.db'), rawKey(new Uint8Array(randomBytes(32))));
    await src.put('a/one', 'v1');
    await src.put('a/one', 'v2');
    await src.put('b', new Uint8Array([0, 255]));
    await src.delete('b');
    await src.put('c', 'x'.repeat(300));
    await src.setMetadata('c', { custom: { k: 'v' } });
    await src.exportBundle(join(dir, 'valid.age'), { recipients: [recipient], allVersions: true });
    await src.close();
    valid = readFileSync(join(dir, 'valid.age'));
    target = await initStore(join(dir, 'target.db'), targetMaster);
    await target.put('a/one', 'mine');
    await target.put('keep', 'me');
    before = await dump(target, targetMaster);
  });
  afterAll(() => target.close());


  it('flip, truncate, insert, delete, overwrite', async () => {
    const file = join(dir, 'mutated.age');
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.constantFrom('skip', 'overwrite', 'new-version'), async (ms, onConflict) => {
        let b = valid;
        for (const m of ms) b = mutate(b, m);
        fc.pre(!b.equals(valid));
        writeFileSync(file, b);
        const got = await outcome(target.importBundle(file, { identities: [{ identityFile }], onConflict: onConflict as 'skip' }));
        // A mutation can make the file unrecognisable as age (its first line): then it is taken for a v1 bundle, which needs a key.
        expect(['E_TAMPERED', 'E_WRONG_MASTER_KEY', 'E_UNSUPPORTED_FORMAT', 'E_MASTER_KEY']).toContain(got);
      }),
      { numRuns: 200 },
    );
    expect(await dump(target, targetMaster)).toEqual(before);
  });
});

describe('3. the records codec alone', () => {
  const time = fc.integer({ min: -8.64e15, max: 8.64e15 });
  const recordsArb = fc.uniqueArray(nameArb, { minLength: 0, maxLength: 4 }).chain((names) => fc.record({
    createdAt: time,
    secrets: fc.tuple(...names.sort().map((name) => fc.record({
      name: fc.constant(name), createdAt: time, updatedAt: time, maxVersions: fc.nat({ max: 0xffff_ffff }),
      custom: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8, unit: 'binary' }).filter((s) => !/\p{Cs}/u.test(s)), { maxKeys: 3 }),
      versions: fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 3 }).map((v) => v.sort((a, b) => a - b)),
      values: fc.array(valueArb, { minLength: 3, maxLength: 3 }),
      deleted: fc.array(fc.option(time, { nil: null }), { minLength: 3, maxLength: 3 }),
    }))),
  }));

  it('encode then decode gives back every record exactly', () => {
    fc.assert(
      fc.property(recordsArb, ({ createdAt, secrets }) => {
        const versions = secrets.reduce((n, s) => n + s.versions.length, 0);
        const lines = [encodeHeaderLine({ allVersions: true, createdAt, secrets: secrets.length, versions })];
        for (const s of secrets) {
          const currentVersion = s.versions[s.versions.length - 1]!;
          lines.push(encodeSecretLine({ ...s, currentVersion, versionCount: s.versions.length }));
          s.versions.forEach((version, i) => lines.push(encodeVersionLine(s.name, { version, createdAt: s.createdAt, deletedAt: s.deleted[i]!, value: s.values[i]! })));
        }
        const d = new RecordsDecoder();
        const out = lines.map((l) => {
          expect(l[l.length - 1]).toBe(0x0a);
          expect(l.subarray(0, -1).includes(0x0a)).toBe(false); // one record, one line
          return d.next(l.subarray(0, -1));
        });
        expect(d.finish()).toEqual({ allVersions: true, createdAt, secrets: secrets.length, versions });
        let i = 1;
        for (const s of secrets) {
          expect(out[i++]).toEqual({
            type: 'secret', name: s.name, currentVersion: s.versions[s.versions.length - 1], maxVersions: s.maxVersions,
            createdAt: s.createdAt, updatedAt: s.updatedAt, custom: s.custom, versionCount: s.versions.length,
          });
          s.versions.forEach((version, j) => {
            expect(out[i++]).toEqual({ type: 'version', version, createdAt: s.createdAt, deletedAt: s.deleted[j], value: s.values[j] });
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('random lines after a valid header only ever raise StoreErrors', () => {
    const header = encodeHeaderLine({ allVersions: true, createdAt: 0, secrets: 1, versions: 1 });
    const line = fc.oneof(
      fc.uint8Array({ maxLength: 80 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc.record({ type: fc.constantFrom('secret', 'version', 'header', 'x'), name: fc.constantFrom('a', 'b', 1), version: fc.integer(), value: fc.string() })
        .map((v) => new TextEncoder().encode(JSON.stringify(v))),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 4 }), (lines) => {
        const d = new RecordsDecoder();
        d.next(header.subarray(0, -1));
        try {
          for (const l of lines) d.next(l);
          d.finish();
          throw new Error('random lines were accepted');
        } catch (e) {
          expect(e).toBeInstanceOf(StoreError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
