/**
 * Read cache properties (fast-check), over real stores in temp dirs with a
 * controlled clock:
 *  1. only this process writes: every get through the cached store answers
 *     exactly as an uncached Store object on the same file does at that
 *     moment (value, version or error code), whatever writes, clock advances,
 *     cache clears and evictions came before: never a value from before the
 *     process's own write;
 *  2. another process writes (a second Store object on the same file, its
 *     own connection): a cached get answers exactly what the file holds at
 *     that moment, however young its entry (the file's change detector drops
 *     every entry once another connection committed a change).
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, StoreError, type GetOptions, type Store } from '../../src/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';

const base = tempDir('strongbox-prop-cache-');
afterAll(cleanupTempDirs);
let counter = 0;

const TTL = 1000;
const START = 1_700_000_000_000;
const NAMES = ['a', 'app/db'] as const;
const MAX_VERSION = 4;

function clock() {
  let t = START;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** A get's answer as one comparable string: version and value bytes, or the error code. */
async function answer(store: Store, name: string, options: GetOptions): Promise<string> {
  try {
    const got = await store.get(name, options);
    const text = `v${got.version}:${Buffer.from(got.value.expose()).toString('hex')}`;
    got.value.wipe(); // the caller's copy: wiping it must not touch what the cache holds
    return text;
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    throw e;
  }
}

/** Run a write; its failure (not found, deleted, …) is part of the sequence, not of the test. */
async function attempt(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
  }
}

async function pair(auditReads: boolean, cache: { ttlMs: number; maxEntries: number }) {
  const dir = join(base, `run${counter++}`);
  const path = join(dir, 'store.db');
  const key = new Uint8Array(randomBytes(32));
  const time = clock();
  mkdirSync(dir);
  const cached = await initStore(path, rawKey(key), { now: time.now, cache });
  await cached.setConfig('audit.reads', String(auditReads));
  const plain = await openStore(path, rawKey(key), { now: time.now });
  return { dir, cached, plain, time };
}

const nameArb = fc.integer({ min: 0, max: NAMES.length - 1 });
const versionArb = fc.integer({ min: 1, max: MAX_VERSION });
const selectorArb = fc.option(versionArb, { nil: undefined });
const valueArb = fc.uint8Array({ minLength: 1, maxLength: 12 });
const advanceArb = fc.oneof(fc.integer({ min: 0, max: TTL / 10 }), fc.integer({ min: TTL / 2, max: TTL * 2 }), fc.constant(TTL - 1), fc.constant(TTL));

type WriteOp =
  | { op: 'put'; name: number; value: Uint8Array }
  | { op: 'delete' | 'undelete'; name: number; versions: number[] | undefined }
  | { op: 'destroy'; name: number; versions: number[] }
  | { op: 'rollback'; name: number; version: number }
  | { op: 'maxVersions'; name: number; keep: number }
  | { op: 'purge'; name: number }
  | { op: 'rotateValue'; name: number; value: Uint8Array }
  | { op: 'import'; name: number; value: Uint8Array; onConflict: 'overwrite' | 'new-version' };

type Op =
  | WriteOp
  | { op: 'get'; name: number; version: number | undefined }
  | { op: 'advance'; ms: number }
  | { op: 'clearCache' };

const versionsArb = fc.array(versionArb, { minLength: 1, maxLength: 2 });
const writeArb: fc.Arbitrary<WriteOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), name: nameArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('delete' as const, 'undelete' as const), name: nameArb, versions: fc.option(versionsArb, { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), name: nameArb, versions: versionsArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('rollback' as const), name: nameArb, version: versionArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('maxVersions' as const), name: nameArb, keep: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purge' as const), name: nameArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rotateValue' as const), name: nameArb, value: valueArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('import' as const), name: nameArb, value: valueArb, onConflict: fc.constantFrom('overwrite' as const, 'new-version' as const) }),
  },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: writeArb },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('get' as const), name: nameArb, version: selectorArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: advanceArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clearCache' as const) }) },
);

/** Apply one write through `store`. */
async function write(store: Store, w: WriteOp, dir: string): Promise<void> {
  const name = NAMES[w.name]!;
  switch (w.op) {
    case 'put':
      return attempt(() => store.put(name, w.value));
    case 'delete':
      return attempt(() => store.delete(name, w.versions ? { versions: w.versions } : {}));
    case 'undelete':
      return attempt(() => store.undelete(name, w.versions ? { versions: w.versions } : {}));
    case 'destroy':
      return attempt(() => store.destroy(name, w.versions));
    case 'rollback':
      return attempt(() => store.rollback(name, w.version));
    case 'maxVersions':
      return attempt(() => store.setMetadata(name, { maxVersions: w.keep }));
    case 'purge':
      return attempt(() => store.purge(name));
    case 'rotateValue':
      return attempt(() => store.rotateValue(name, w.value));
    case 'import': {
      const file = join(dir, `import-${counter++}.json`);
      writeFileSync(file, JSON.stringify({ [name]: Buffer.from(w.value).toString('latin1') }));
      return attempt(() => store.importPlain(file, { onConflict: w.onConflict }));
    }
  }
}

function selectorOptions(version: number | undefined): GetOptions {
  return version === undefined ? {} : { version };
}

const totals = { hits: 0, evictions: 0, invalidations: 0, expirations: 0, changes: 0, hitsAfterOtherWrite: 0 };

describe('read cache (fast-check)', () => {
  it('with only this process writing, every cached get answers as an uncached read of the file does', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }),
        fc.boolean(),
        fc.constantFrom(1, 2, 3, 1000),
        async (ops, auditReads, maxEntries) => {
          const { dir, cached, plain, time } = await pair(auditReads, { ttlMs: TTL, maxEntries });
          try {
            for (const o of ops) {
              if (o.op === 'advance') time.advance(o.ms);
              else if (o.op === 'clearCache') cached.clearCache();
              else if (o.op === 'get') {
                const name = NAMES[o.name]!;
                const options = selectorOptions(o.version);
                expect(await answer(cached, name, options), `get(${name}, ${JSON.stringify(options)})`).toBe(await answer(plain, name, options));
              } else {
                await write(cached, o, dir);
              }
            }
            // Afterwards every name and version, each read twice (the second a hit when it was a value).
            for (const name of NAMES) {
              for (const version of [undefined, ...Array.from({ length: MAX_VERSION + 2 }, (_, i) => i + 1)]) {
                const want = await answer(plain, name, selectorOptions(version));
                expect(await answer(cached, name, selectorOptions(version))).toBe(want);
                expect(await answer(cached, name, selectorOptions(version))).toBe(want);
              }
            }
            const s = cached.cacheStats()!;
            expect(s.size).toBeLessThanOrEqual(maxEntries);
            totals.hits += s.hits;
            totals.evictions += s.evictions;
            totals.invalidations += s.invalidations;
            totals.expirations += s.expirations;
          } finally {
            await cached.close();
            await plain.close();
          }
        },
      ),
      {
        numRuns: 60,
        // Always run: a hit, an eviction (one entry), an expiry and an invalidation by the process's own write.
        examples: [[[
          { op: 'put', name: 0, value: Uint8Array.of(1) }, { op: 'get', name: 0, version: undefined }, { op: 'get', name: 0, version: undefined },
          { op: 'put', name: 1, value: Uint8Array.of(2) }, { op: 'get', name: 1, version: 1 }, { op: 'get', name: 0, version: undefined },
          { op: 'advance', ms: TTL }, { op: 'get', name: 0, version: undefined },
          { op: 'put', name: 0, value: Uint8Array.of(3) }, { op: 'get', name: 0, version: undefined },
        ], false, 1]],
      },
    );
    // The property above means something only if the cache served, evicted, expired and was invalidated.
    expect(totals.hits).toBeGreaterThan(0);
    expect(totals.evictions).toBeGreaterThan(0);
    expect(totals.expirations).toBeGreaterThan(0);
    expect(totals.invalidations).toBeGreaterThan(0);
  });

  it('with another process writing, a cached get answers what the file holds at that moment, however young its entry', async () => {
    type OtherOp = WriteOp | { op: 'get'; name: number; version: number | undefined } | { op: 'advance'; ms: number };
    const otherArb: fc.Arbitrary<OtherOp> = fc.oneof(
      { weight: 3, arbitrary: writeArb.filter((w) => w.op !== 'import' && w.op !== 'rotateValue') },
      { weight: 8, arbitrary: fc.record({ op: fc.constant('get' as const), name: nameArb, version: selectorArb }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: advanceArb }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(otherArb, { minLength: 1, maxLength: 60, size: 'max' }), async (ops) => {
        // `cached` only reads; `other` (a second Store object on the file) writes, and its uncached gets are the truth.
        const { dir, cached, plain: other, time } = await pair(false, { ttlMs: TTL, maxEntries: 1000 });
        let otherWrote = false;
        try {
          for (const o of ops) {
            if (o.op === 'advance') {
              time.advance(o.ms);
            } else if (o.op === 'get') {
              const name = NAMES[o.name]!;
              const options = selectorOptions(o.version);
              const truth = await answer(other, name, options);
              const hits = cached.cacheStats()!.hits;
              expect(await answer(cached, name, options), `get(${name}, v${o.version ?? 'latest'}) at +${time.now() - START}`).toBe(truth);
              if (otherWrote && cached.cacheStats()!.hits > hits) totals.hitsAfterOtherWrite++;
            } else {
              await write(other, o, dir);
              otherWrote = true;
            }
          }
          totals.changes += cached.cacheStats()!.changes;
        } finally {
          await cached.close();
          await other.close();
        }
      }),
      {
        numRuns: 60,
        // Always run: a value cached, another process's write within the TTL, the new value at once, then served from the cache again.
        examples: [[[
          { op: 'put', name: 0, value: Uint8Array.of(1) }, { op: 'get', name: 0, version: undefined }, { op: 'get', name: 0, version: undefined },
          { op: 'put', name: 0, value: Uint8Array.of(2) }, { op: 'advance', ms: 1 }, { op: 'get', name: 0, version: undefined },
          { op: 'get', name: 0, version: undefined },
        ]]],
      },
    );
    // The other process's writes were noticed, and the cache still served hits after them.
    expect(totals.changes).toBeGreaterThan(0);
    expect(totals.hitsAfterOtherWrite).toBeGreaterThan(0);
  });
});
