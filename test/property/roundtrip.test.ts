/**
 * Round trips through a real store: any valid name and any non-empty value
 * put, then get, gives back identical bytes, before and after a reopen, on
 * each driver (a SQLite file, a PostgreSQL database: test/helpers/drivers.ts).
 * And the name rules: nameProblem() accepts exactly the names the rules
 * (src/store/names.ts, docs/design.md §3) allow.
 */
import fc from 'fast-check';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkName, createKeyFile, initStore, isStoreError, keyFile, nameProblem, openStore, rawKey } from '../../src/index.js';
import { DRIVERS } from '../helpers/drivers.js';
import { tempDir } from '../helpers/tmp.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

// ------------------------------------------------------------- name arbitrary

const SEGMENT_CHARS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-'];
const MAX_NAME = 256;

/** One path segment: 1+ chars of [A-Za-z0-9._-], never '.' or '..'. */
const segmentArb = fc
  .string({ unit: fc.constantFrom(...SEGMENT_CHARS), minLength: 1, maxLength: 70 })
  .filter((s) => s !== '.' && s !== '..');

/** A valid name: segments joined by '/', 1..256 chars (segments that would overflow are dropped). */
const validNameArb = fc.array(segmentArb, { minLength: 1, maxLength: 12 }).map((segs) => {
  let name = segs[0]!; // at most 70 chars: always fits
  for (const s of segs.slice(1)) {
    if (name.length + 1 + s.length > MAX_NAME) break;
    name += `/${s}`;
  }
  return name;
});

/** A character the rules refuse (anything outside [A-Za-z0-9._/-], including astral and lone surrogates). */
const badCharArb = fc
  .oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    fc.constantFrom(' ', '\n', '\t', '\0', '\\', '*', '?', '[', ':', '@', '%', '+', '=', '~', 'é', '\u{1F511}', '\ud800'),
  )
  .filter((c) => !/^[A-Za-z0-9._/-]+$/.test(c));

/** An independent reading of the rules, to compare nameProblem() against. */
function oracleValid(s: string): boolean {
  if (s.length < 1 || s.length > MAX_NAME) return false;
  return s.split('/').every((seg) => /^[A-Za-z0-9._-]+$/.test(seg) && seg !== '.' && seg !== '..');
}

describe('name rules', () => {
  it('nameProblem accepts every generated valid name', () => {
    fc.assert(
      fc.property(validNameArb, (name) => {
        expect(name.length).toBeGreaterThanOrEqual(1);
        expect(name.length).toBeLessThanOrEqual(MAX_NAME);
        expect(nameProblem(name)).toBeUndefined();
        expect(checkName(name)).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it('nameProblem rejects a valid name with one bad character inserted, with E_INVALID_NAME', () => {
    fc.assert(
      fc.property(validNameArb, badCharArb, fc.nat(), (name, bad, at) => {
        const i = at % (name.length + 1);
        const broken = name.slice(0, i) + bad + name.slice(i);
        expect(nameProblem(broken)).toBeTypeOf('string');
        let code: string | undefined;
        try {
          checkName(broken);
        } catch (e) {
          code = isStoreError(e) ? e.code : 'not a StoreError';
        }
        expect(code).toBe('E_INVALID_NAME');
      }),
      { numRuns: 2000 },
    );
  });

  it('nameProblem agrees with an independent oracle on strings near the rules', () => {
    // A small alphabet makes '/', '.', '..', empty segments and edge lengths common.
    const unit = fc.constantFrom('a', 'Z', '0', '.', '.', '/', '/', '-', '_', ' ', 'é');
    const near = fc.oneof(
      fc.string({ unit, minLength: 0, maxLength: 12 }),
      fc.string({ unit, minLength: 250, maxLength: 262 }),
      fc.constantFrom('', '.', '..', '/', 'a/', '/a', 'a//b', 'a/./b', 'a/../b', '...', 'a/...', '.a/..b', 'a'.repeat(256), 'a'.repeat(257)),
    );
    fc.assert(
      fc.property(near, (s) => {
        expect(nameProblem(s) === undefined).toBe(oracleValid(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('nameProblem refuses non-strings', () => {
    for (const v of [undefined, null, 1, {}, ['a'], new Uint8Array([97])]) expect(nameProblem(v)).toBeTypeOf('string');
  });
});

// ---------------------------------------------------------------- round trip

const valueArb = fc.uint8Array({ minLength: 1, maxLength: 4096 });

describe.each(DRIVERS)('put/get round trip on $name', (driver) => {
  it('any valid name and any 1..4096-byte value come back identical, also after reopen', async () => {
    const kf = join(tempDir(), 'master.key');
    createKeyFile(kf);
    const { locator: path } = await driver.place();
    let store = await initStore(path, keyFile(kf));
    /** name → [version, value hex] of every write, to check again after reopening. */
    const written = new Map<string, Map<number, string>>();
    try {
      await fc.assert(
        fc.asyncProperty(validNameArb, valueArb, async (name, value) => {
          const copy = new Uint8Array(value);
          const { version } = await store.put(name, value);
          expect(value).toEqual(copy); // the caller's array is not mutated or wiped
          const got = await store.get(name);
          expect(got.version).toBe(version);
          expect(hex(got.value.expose())).toBe(hex(value));
          const again = await store.get(name, { version });
          expect(hex(again.value.expose())).toBe(hex(value));
          if (!written.has(name)) written.set(name, new Map());
          written.get(name)!.set(version, hex(value));
        }),
        { numRuns: 300 },
      );
      await store.close();
      store = await openStore(path, keyFile(kf));
      for (const [name, versions] of written) {
        for (const [version, value] of versions) {
          expect(hex((await store.get(name, { version })).value.expose())).toBe(value);
        }
        const newest = Math.max(...versions.keys());
        expect((await store.get(name)).version).toBe(newest);
      }
      expect((await store.list()).map((s) => s.name)).toEqual([...written.keys()].sort());
    } finally {
      await store.close();
    }
  });

  it('large values (up to the 1 MiB limit) round-trip; one byte more is E_VALUE_TOO_LARGE', async () => {
    const { locator: path } = await driver.place();
    const key = new Uint8Array(randomBytes(32));
    let store = await initStore(path, rawKey(key));
    const sizes = [4097, 65_536, 300_001, 1024 * 1024];
    const values = sizes.map((n) => new Uint8Array(randomBytes(n)));
    try {
      for (const [i, v] of values.entries()) {
        await store.put(`big/${i}`, v);
        expect(hex((await store.get(`big/${i}`)).value.expose())).toBe(hex(v));
      }
      await expect(store.put('big/over', new Uint8Array(1024 * 1024 + 1))).rejects.toMatchObject({ code: 'E_VALUE_TOO_LARGE' });
      await store.close();
      store = await openStore(path, rawKey(key));
      for (const [i, v] of values.entries()) {
        expect(hex((await store.get(`big/${i}`)).value.expose())).toBe(hex(v));
      }
      await expect(store.get('big/over')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    } finally {
      await store.close();
    }
  });

  it('string values round-trip as their UTF-8 bytes', async () => {
    const { locator } = await driver.place();
    const store = await initStore(locator, rawKey(new Uint8Array(randomBytes(32))));
    try {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 200 }), async (text) => {
          await store.put('s', text);
          const got = await store.get('s');
          expect(got.value.text()).toBe(text);
          expect(hex(got.value.expose())).toBe(Buffer.from(text, 'utf8').toString('hex'));
        }),
        { numRuns: 200 },
      );
    } finally {
      await store.close();
    }
  });
});
