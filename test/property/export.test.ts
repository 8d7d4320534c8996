/**
 * Export/import properties (fast-check):
 *  1. any store (random names, values, versions, deletes, destroys,
 *     metadata), exported with all versions from a passphrase store and
 *     imported into a key-file store with another master key, arrives
 *     identical: every name, non-destroyed version, value, state, time and
 *     metadata;
 *  2. the bundle reader and the JSON / .env import never fail but with a
 *     typed StoreError on random or mutated input, and a refused import
 *     leaves the target store exactly as it was;
 *  3. one flipped byte, a truncation, a wrong passphrase or key: each refused
 *     with its own code, the target unchanged.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createKeyFile, initStore, keyFile, nameProblem, passphrase, rawKey, StoreError,
  type BundleKey, type Store,
} from '../../src/index.js';
import { bundleHeaderLength } from '../../src/crypto/bundle/header.js';
import { BundleReader, recordLength } from '../../src/crypto/bundle/reader.js';
import { dump, exportable } from '../helpers/dump.js';
import { mutate, mutation } from '../helpers/mutation.js';
import { applyOps, nameArb, outcome, type StoreOp } from '../helpers/store-ops.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const FAST = { logN: 15 };
const base = tempDir('strongbox-prop-export-');
afterAll(cleanupTempDirs);
let counter = 0;
const fresh = (name: string) => join(base, `${name}-${++counter}`);

function clock(start: number) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}


const dt = fc.integer({ min: 1, max: 10_000_000 });
const opArb = (names: number): fc.Arbitrary<StoreOp> => {
  const name = fc.integer({ min: 0, max: names - 1 });
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), name, value: fc.uint8Array({ maxLength: 48 }), dt }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), name, dt }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('undelete' as const), name, dt }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), name, pick: fc.nat(), dt }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('meta' as const), name, dt,
        maxVersions: fc.constantFrom(0, 0, 2, 5),
        custom: fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.string({ maxLength: 10 }), { maxKeys: 3 }),
      }),
    },
  );
};

describe('1. export --all-versions then import reproduces the store', () => {
  it('every name, non-destroyed version, value, state, time and metadata', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(nameArb, { minLength: 1, maxLength: 5 }).chain((names) =>
          fc.record({ names: fc.constant(names), ops: fc.array(opArb(names.length), { maxLength: 25 }), sealToKeyFile: fc.boolean() }),
        ),
        async ({ names, ops, sealToKeyFile }) => {
          const dir = fresh('rt');
                mkdirSync(dir);
          const c = clock(Date.UTC(2024, 5, 1));
          const src = await initStore(join(dir, 'src.db'), passphrase('source pw', { scrypt: FAST }), { now: c.now });
          const masterFile = join(dir, 'master.key');
          createKeyFile(masterFile);
          const dst = await initStore(join(dir, 'dst.db'), keyFile(masterFile), { now: () => 0 });
          try {
            await applyOps(src, names, ops, c.advance);
            let key: BundleKey = { passphrase: 'bundle pw', scrypt: FAST };
            if (sealToKeyFile) {
              createKeyFile(join(dir, 'recipient.key'));
              key = { keyFile: join(dir, 'recipient.key') };
            }
            const file = join(dir, 'all.sbx');
            const want = exportable(await dump(src, passphrase('source pw'))); // a passphrase source serves once
            const r = await src.exportBundle(file, { key, allVersions: true });
            expect(r.secrets).toBe(want.length);
            expect(r.versions).toBe(want.reduce((n, s) => n + s.versions.filter((v) => v.state !== 'destroyed').length, 0));
            const imp = await dst.importBundle(file, { key });
            expect(imp.created).toEqual(want.map((s) => s.name));
            expect(await dump(dst, keyFile(masterFile))).toEqual(want);
          } finally {
            await src.close();
            await dst.close();
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('2. fuzz: never a crash but a typed StoreError; a refused import changes nothing', () => {
  let dir: string;
  let target: Store;
  let valid: Buffer;
  let recipient: string;
  let before: Awaited<ReturnType<typeof dump>>;
  const targetMaster = rawKey(new Uint8Array(randomBytes(32)));
  const key = (): BundleKey => ({ keyFile: recipient });

  beforeAll(async () => {
    dir = fresh('fuzz');
    mkdirSync(dir);
    recipient = join(dir, 'r.key');
    createKeyFile(recipient);
    const src = await initStore(join(dir, 'src.db'), rawKey(new Uint8Array(randomBytes(32))));
    await src.put('a/one', 'v1');
    await src.put('a/one', 'v2');
    await src.put('b', new Uint8Array([0, 255]));
    await src.delete('b');
    await src.put('c', 'x'.repeat(300));
    await src.setMetadata('c', { custom: { k: 'v' } });
    await src.exportBundle(join(dir, 'valid.sbx'), { key: key(), allVersions: true });
    await src.close();
    valid = readFileSync(join(dir, 'valid.sbx'));
    target = await initStore(join(dir, 'target.db'), targetMaster);
    await target.put('a/one', 'mine');
    await target.put('keep', 'me');
    before = await dump(target, targetMaster);
  });
  afterAll(() => target.close());


  it('mutations of a valid bundle (flip, truncate, insert, delete, overwrite) are all refused', async () => {
    const file = join(dir, 'mutated.sbx');
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.constantFrom('skip', 'overwrite', 'new-version', 'update'), async (ms, onConflict) => {
        let b = valid;
        for (const m of ms) b = mutate(b, m);
        fc.pre(!b.equals(valid));
        writeFileSync(file, b);
        const got = await outcome(target.importBundle(file, { key: key(), onConflict: onConflict as 'skip' }));
        expect(['E_TAMPERED', 'E_WRONG_MASTER_KEY', 'E_UNSUPPORTED_FORMAT']).toContain(got);
      }),
      { numRuns: 400 },
    );
    expect(await dump(target, targetMaster)).toEqual(before);
  });

  it('random bytes, with or without the magic line, are refused', async () => {
    const file = join(dir, 'random.sbx');
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.uint8Array({ maxLength: 400 }), async (magic, tail) => {
        const b = Buffer.concat([Buffer.from(magic ? 'strongbox-export/v1\n' : ''), tail]);
        writeFileSync(file, b);
        const got = await outcome(target.importBundle(file, { key: key() }));
        expect(['E_TAMPERED', 'E_WRONG_MASTER_KEY', 'E_UNSUPPORTED_FORMAT']).toContain(got);
      }),
      { numRuns: 300 },
    );
    expect(await dump(target, targetMaster)).toEqual(before);
  });

  it('the codec alone: any bytes after a valid header only ever raise StoreErrors', () => {
    const headerLength = bundleHeaderLength(valid);
    const head = valid.subarray(0, headerLength);
    // A reader keyed with the right key, fed random frames.
    const bundleKey = new Uint8Array(32);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const reader = new BundleReader(bundleKey, head);
        try {
          let pos = 0;
          while (pos < tail.length) {
            const prefix = tail.subarray(pos, pos + 4);
            const n = recordLength(prefix, tail.length - pos - 4, reader.index);
            reader.next(prefix, tail.subarray(pos + 4, pos + 4 + n));
            pos += 4 + n;
          }
          reader.finish();
          throw new Error('random bytes were accepted');
        } catch (e) {
          expect(e).toBeInstanceOf(StoreError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('.env import: any text either imports exactly what dotenv parses, or is refused whole', async () => {
    const file = join(dir, 'fuzz.env');
    const envMaster = rawKey(new Uint8Array(randomBytes(32)));
    const envStore = await initStore(join(dir, 'env.db'), envMaster);
    const line = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.tuple(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_./-]{0,8}$/), fc.constantFrom('=', ' = ', ': '), fc.string({ maxLength: 20 }), fc.constantFrom('', '"', "'", '`'))
        .map(([k, sep, v, q]) => `${k}${sep}${q}${v}${q}`),
      fc.constantFrom('# comment', 'export A=1', '', 'B="multi\nline"', "C='x'", 'bad name=1', 'a//b=1', 'EMPTY='),
    );
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.boolean(), async (lines, allowEmpty) => {
          const text = lines.join('\n');
          writeFileSync(file, text);
          await envStore.put('existing', 'x');
          const snapshot = await dump(envStore, envMaster);
          const r = await outcome(envStore.importPlain(file, { dryRun: true, allowEmpty, onConflict: 'overwrite' }));
          expect(['ok', 'E_INVALID_IMPORT']).toContain(r);
          expect(await dump(envStore, envMaster)).toEqual(snapshot);
          expect(await outcome(envStore.importPlain(file, { allowEmpty, onConflict: 'overwrite' }))).toBe(r);
          if (r === 'ok') {
            const expected = parseDotenv(text);
            for (const [k, v] of Object.entries(expected)) expect((await envStore.get(k)).value.text()).toBe(v);
          } else {
            expect(await dump(envStore, envMaster)).toEqual(snapshot);
          }
          for (const s of await envStore.list()) await envStore.purge(s.name);
        }),
        { numRuns: 150 },
      );
    } finally {
      await envStore.close();
    }
  });

  it('JSON import: any JSON value either imports exactly its string entries, or is refused whole', async () => {
    const file = join(dir, 'fuzz.json');
    const entry = fc.tuple(fc.oneof(nameArb, fc.string({ maxLength: 10 })), fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })));
    const doc = fc.oneof(
      { weight: 4, arbitrary: fc.array(entry, { maxLength: 6 }).map((es) => JSON.stringify(Object.fromEntries(es))) },
      { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    );
    await fc.assert(
      fc.asyncProperty(doc, async (text) => {
        writeFileSync(file, text);
        const r = await outcome(target.importPlain(file, { format: 'json', dryRun: true, onConflict: 'new-version' }));
        expect(['ok', 'E_INVALID_IMPORT']).toContain(r);
        if (r === 'ok') {
          const parsed = JSON.parse(text) as Record<string, string>;
          expect(Object.values(parsed).every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
          expect(Object.keys(parsed).every((k) => nameProblem(k) === undefined)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    expect(await dump(target, targetMaster)).toEqual(before);
  });
});

describe('3. flipped byte, truncation, wrong key: refused, target unchanged', () => {
  it('a passphrase bundle, any position outside the scrypt cost bytes', async () => {
    const dir = fresh('three');
    mkdirSync(dir);
    const src = await initStore(join(dir, 'src.db'), passphrase('pw', { scrypt: FAST }));
    for (let i = 0; i < 6; i++) await src.put(`s/${i}`, `value-${i}`);
    await src.delete('s/3');
    const key: BundleKey = { passphrase: 'bundle pw', scrypt: FAST };
    const file = join(dir, 'b.sbx');
    await src.exportBundle(file, { key, allVersions: true });
    await src.close();
    const bytes = readFileSync(file);
    const dstMaster = rawKey(new Uint8Array(randomBytes(32)));
    const dst = await initStore(join(dir, 'dst.db'), dstMaster);
    await dst.put('s/1', 'mine');
    const before = await dump(dst, dstMaster);
    const bad = join(dir, 'bad.sbx');

    expect(await outcome(dst.importBundle(file, { key: { passphrase: 'not it' } }))).toBe('E_WRONG_MASTER_KEY');
    expect(await outcome(dst.importBundle(file, { key: { keyFile: join(dir, 'nope.key') } }))).toBe('E_MASTER_KEY');

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }).filter((i) => i < 21 || i > 24), fc.integer({ min: 0, max: 7 }), async (at, bit) => {
        const b = Buffer.from(bytes);
        b[at]! ^= 1 << bit;
        writeFileSync(bad, b);
        const got = await outcome(dst.importBundle(bad, { key }));
        // The magic line and format byte name a format; the salt and the key check make the key; the rest is damage.
        const want = at <= 20 ? 'E_UNSUPPORTED_FORMAT' : (at >= 25 && at <= 40) || (at >= 58 && at <= 126) ? 'E_WRONG_MASTER_KEY' : 'E_TAMPERED';
        expect(got, `byte ${at} bit ${bit}`).toBe(want);
      }),
      { numRuns: 40 },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), async (n) => {
        writeFileSync(bad, bytes.subarray(0, n));
        const got = await outcome(dst.importBundle(bad, { key }));
        expect(got).toBe(n < 'strongbox-export/'.length ? 'E_UNSUPPORTED_FORMAT' : 'E_TAMPERED');
      }),
      { numRuns: 30 },
    );
    expect(await dump(dst, dstMaster)).toEqual(before);
    await dst.close();
  });
});
