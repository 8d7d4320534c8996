/**
 * Store semantics (docs/design.md §4, Vault KV v2-like), through the public API
 * (initStore / openStore), on each driver: real SQLite files in temp dirs and
 * fresh PostgreSQL databases (test/helpers/drivers.ts).
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { initStore, openStore, passphrase, SecretBytes, type InitOptions, type Store } from '../../src/index.js';
import { rejectionCode as code } from '../helpers/errors.js';
import { reopenStore as reopen } from '../helpers/store.js';
import { DRIVERS, freshStoreOn } from '../helpers/drivers.js';
import { SCHEMA_VERSION } from '../../src/storage/sqlite/schema.js';

const T0 = Date.UTC(2024, 0, 1, 12, 0, 0);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function clock(start = T0) {
  let t = start;
  return {
    now: () => t,
    set(v: number) {
      t = v;
    },
    tick(ms = 1000) {
      t += ms;
      return t;
    },
  };
}

async function text(store: Store, name: string, version?: number): Promise<string> {
  return (await store.get(name, version === undefined ? {} : { version })).value.text();
}

describe.each(DRIVERS)('store semantics on $name', (driver) => {
  /** A new store on this driver; `path` is its path or URL. */
  const fresh = async (options?: InitOptions) => {
    const f = await freshStoreOn(driver, options);
    return { ...f, path: f.locator };
  };

  describe('put and versions', () => {
    it('put creates versions 1, 2, 3 and get returns the latest', async () => {
      const { store } = await fresh();
      expect((await store.put('a', 'one')).version).toBe(1);
      expect((await store.put('a', 'two')).version).toBe(2);
      const w = await store.put('a', 'three');
      expect(w).toMatchObject({ name: 'a', version: 3 });
      expect(w.createdAt).toBeInstanceOf(Date);
      const got = await store.get('a');
      expect(got.version).toBe(3);
      expect(got.name).toBe('a');
      expect(got.value).toBeInstanceOf(SecretBytes);
      expect(got.value.text()).toBe('three');
      expect(await text(store, 'a', 1)).toBe('one');
      expect(await text(store, 'a', 2)).toBe('two');
      expect(await text(store, 'a', 3)).toBe('three');
    });

    it('versions are per secret', async () => {
      const { store } = await fresh();
      await store.put('a', '1');
      await store.put('a', '2');
      expect((await store.put('b', 'x')).version).toBe(1);
    });

    it('accepts string, Uint8Array and SecretBytes values, and does not mutate the caller\'s array', async () => {
      const { store } = await fresh();
      const arr = new Uint8Array([1, 2, 3, 4]);
      await store.put('s', 'str');
      await store.put('u', arr);
      await store.put('b', SecretBytes.from('sb'));
      expect([...arr]).toEqual([1, 2, 3, 4]);
      expect(await text(store, 's')).toBe('str');
      expect([...(await store.get('u')).value.expose()]).toEqual([1, 2, 3, 4]);
      expect(await text(store, 'b')).toBe('sb');
    });

    it('binary values (all 256 byte values) round-trip exactly, also after reopen', async () => {
      const { store, path, key } = await fresh();
      const all = new Uint8Array(256).map((_, i) => i);
      const reversed = all.slice().reverse();
      await store.put('bin/all', all);
      await store.put('bin/all', reversed);
      expect(hex((await store.get('bin/all', { version: 1 })).value.expose())).toBe(hex(all));
      expect(hex((await store.get('bin/all')).value.expose())).toBe(hex(reversed));
      await store.close();
      const again = await reopen(path, key);
      expect(hex((await again.get('bin/all', { version: 1 })).value.expose())).toBe(hex(all));
    });

    it('a value exactly at the limit is accepted', async () => {
      const { store } = await fresh({ maxValueBytes: 1024 });
      await store.put('max', new Uint8Array(1024).fill(7));
      expect((await store.get('max')).value.length).toBe(1024);
    });

    it('the returned value prints redacted', async () => {
      const { store } = await fresh();
      await store.put('p', 'CANARY-print-me-not');
      const got = await store.get('p');
      expect(`${got.value}`).toBe('[redacted 19 bytes]');
      expect(JSON.stringify(got)).not.toContain('CANARY');
    });
  });

  describe('check-and-set', () => {
    it('cas=0 writes only when the secret is absent', async () => {
      const { store } = await fresh();
      expect((await store.put('c', 'v1', { cas: 0 })).version).toBe(1);
      expect(await code(store.put('c', 'again', { cas: 0 }))).toBe('E_CAS_MISMATCH');
      expect((await store.get('c')).version).toBe(1);
      expect(await text(store, 'c')).toBe('v1');
    });

    it('cas=N writes only when the current version is N', async () => {
      const { store } = await fresh();
      await store.put('c', 'v1');
      await store.put('c', 'v2');
      expect(await code(store.put('c', 'bad', { cas: 1 }))).toBe('E_CAS_MISMATCH');
      expect(await code(store.put('c', 'bad', { cas: 3 }))).toBe('E_CAS_MISMATCH');
      expect((await store.history('c')).map((h) => h.version)).toEqual([1, 2]);
      expect((await store.put('c', 'v3', { cas: 2 })).version).toBe(3);
      expect(await text(store, 'c')).toBe('v3');
    });

    it('a cas on an absent secret other than 0 fails and creates nothing', async () => {
      const { store } = await fresh();
      expect(await code(store.put('ghost', 'x', { cas: 1 }))).toBe('E_CAS_MISMATCH');
      expect(await code(store.get('ghost'))).toBe('E_NOT_FOUND');
      expect(await store.list()).toEqual([]);
      expect((await store.status()).secrets).toBe(0);
    });

    it('the CAS error carries expected and actual versions', async () => {
      const { store } = await fresh();
      await store.put('c', 'v1');
      try {
        await store.put('c', 'x', { cas: 5 });
        expect.unreachable();
      } catch (e) {
        expect(e).toMatchObject({ code: 'E_CAS_MISMATCH', expected: 5, actual: 1 });
      }
    });

    it('cas counts versions, not live ones: after deleting the current version, cas must still name it', async () => {
      const { store } = await fresh();
      await store.put('c', 'v1');
      await store.delete('c');
      expect(await code(store.put('c', 'x', { cas: 0 }))).toBe('E_CAS_MISMATCH');
      expect((await store.put('c', 'v2', { cas: 1 })).version).toBe(2);
    });

    it('a bad cas is E_USAGE', async () => {
      const { store } = await fresh();
      for (const cas of [-1, 1.5, Number.NaN]) expect(await code(store.put('c', 'x', { cas }))).toBe('E_USAGE');
      expect(await store.list()).toEqual([]);
    });
  });

  describe('get', () => {
    it('a nonexistent name or version is E_NOT_FOUND', async () => {
      const { store } = await fresh();
      expect(await code(store.get('nope'))).toBe('E_NOT_FOUND');
      await store.put('a', 'x');
      expect(await code(store.get('a', { version: 2 }))).toBe('E_NOT_FOUND');
      expect(await code(store.get('a', { version: 999999 }))).toBe('E_NOT_FOUND');
      expect(await code(store.get('nope', { version: 1 }))).toBe('E_NOT_FOUND');
    });

    it('a bad version is E_USAGE', async () => {
      const { store } = await fresh();
      await store.put('a', 'x');
      for (const version of [0, -1, 1.5, Number.NaN]) expect(await code(store.get('a', { version }))).toBe('E_USAGE');
    });

    it('by time: the version current at `at` (Date, ms or ISO string)', async () => {
      const c = clock();
      const { store } = await fresh({ now: c.now });
      c.set(T0 + 1000);
      await store.put('t', 'one');
      c.set(T0 + 2000);
      await store.put('t', 'two');
      c.set(T0 + 3000);
      await store.put('t', 'three');
      const at = async (when: Date | number | string) => {
        const g = await store.get('t', { at: when });
        return [g.version, g.value.text()];
      };
      expect(await at(T0 + 1000)).toEqual([1, 'one']);
      expect(await at(T0 + 1999)).toEqual([1, 'one']);
      expect(await at(new Date(T0 + 2000))).toEqual([2, 'two']);
      expect(await at(new Date(T0 + 2500).toISOString())).toEqual([2, 'two']);
      expect(await at(T0 + 3000)).toEqual([3, 'three']);
      expect(await at(T0 + 10 ** 9)).toEqual([3, 'three']);
      expect(await code(store.get('t', { at: T0 + 999 }))).toBe('E_NOT_FOUND');
      expect(await code(store.get('nope', { at: T0 + 5000 }))).toBe('E_NOT_FOUND');
    });

    it('by time: createdAt follows the injected clock', async () => {
      const c = clock();
      const { store } = await fresh({ now: c.now });
      c.set(T0 + 42_000);
      const w = await store.put('t', 'x');
      expect(w.createdAt.getTime()).toBe(T0 + 42_000);
      expect((await store.get('t')).createdAt.getTime()).toBe(T0 + 42_000);
      expect((await store.history('t'))[0]!.createdAt.getTime()).toBe(T0 + 42_000);
    });

    it('by time: a version deleted or destroyed since is reported as such', async () => {
      const c = clock();
      const { store } = await fresh({ now: c.now });
      c.set(T0 + 1000);
      await store.put('t', 'one');
      c.set(T0 + 2000);
      await store.put('t', 'two');
      await store.delete('t', { versions: [1] });
      expect(await code(store.get('t', { at: T0 + 1500 }))).toBe('E_DELETED');
      await store.destroy('t', [1]);
      expect(await code(store.get('t', { at: T0 + 1500 }))).toBe('E_DESTROYED');
      expect(await text(store, 't')).toBe('two');
    });

    it('a version and a time together, or a bad time, are E_USAGE', async () => {
      const { store } = await fresh();
      await store.put('a', 'x');
      expect(await code(store.get('a', { version: 1, at: Date.now() }))).toBe('E_USAGE');
      expect(await code(store.get('a', { at: 'not a date' }))).toBe('E_USAGE');
      expect(await code(store.get('a', { at: Number.NaN }))).toBe('E_USAGE');
      expect(await code(store.get('a', { at: new Date(Number.NaN) }))).toBe('E_USAGE');
    });
  });

  describe('delete, undelete, destroy', () => {
    it('get without a version returns the CURRENT version; if it is deleted, E_DELETED (no fallback to an older one)', async () => {
      const { store } = await fresh();
      await store.put('d', 'v1');
      await store.put('d', 'v2');
      expect(await store.delete('d')).toEqual([2]);
      expect(await code(store.get('d'))).toBe('E_DELETED');
      expect(await text(store, 'd', 1)).toBe('v1');
      expect(await code(store.get('d', { version: 2 }))).toBe('E_DELETED');
    });

    it('undelete restores the current version', async () => {
      const { store } = await fresh();
      await store.put('d', 'v1');
      await store.put('d', 'v2');
      await store.delete('d');
      expect(await store.undelete('d')).toEqual([2]);
      const g = await store.get('d');
      expect([g.version, g.value.text()]).toEqual([2, 'v2']);
      expect((await store.history('d'))[1]).not.toHaveProperty('deletedAt');
    });

    it('delete and undelete of chosen versions', async () => {
      const { store } = await fresh();
      for (const v of ['v1', 'v2', 'v3']) await store.put('d', v);
      expect((await store.delete('d', { versions: [1, 2] })).sort()).toEqual([1, 2]);
      expect(await code(store.get('d', { version: 1 }))).toBe('E_DELETED');
      expect(await code(store.get('d', { version: 2 }))).toBe('E_DELETED');
      expect(await text(store, 'd')).toBe('v3');
      expect((await store.history('d')).map((h) => h.state)).toEqual(['deleted', 'deleted', 'live']);
      await store.undelete('d', { versions: [1] });
      expect(await text(store, 'd', 1)).toBe('v1');
      expect(await code(store.get('d', { version: 2 }))).toBe('E_DELETED');
    });

    it('delete, undelete and destroy of a missing name or version are E_NOT_FOUND and change nothing', async () => {
      const { store } = await fresh();
      await store.put('d', 'v1');
      await store.put('d', 'v2');
      expect(await code(store.delete('nope'))).toBe('E_NOT_FOUND');
      expect(await code(store.undelete('nope'))).toBe('E_NOT_FOUND');
      expect(await code(store.destroy('nope', [1]))).toBe('E_NOT_FOUND');
      // One missing version among several: all or nothing.
      expect(await code(store.delete('d', { versions: [1, 9] }))).toBe('E_NOT_FOUND');
      expect(await code(store.destroy('d', [1, 9]))).toBe('E_NOT_FOUND');
      expect((await store.history('d')).map((h) => h.state)).toEqual(['live', 'live']);
      expect(await text(store, 'd', 1)).toBe('v1');
    });

    it('destroy erases the value for good: E_DESTROYED, history says destroyed, undelete cannot bring it back', async () => {
      const c = clock();
      const { store } = await fresh({ now: c.now });
      await store.put('x', 'v1');
      c.tick();
      await store.put('x', 'v2');
      c.tick();
      expect(await store.destroy('x', [1])).toEqual([1]);
      expect(await code(store.get('x', { version: 1 }))).toBe('E_DESTROYED');
      const h = await store.history('x');
      expect(h[0]).toMatchObject({ version: 1, state: 'destroyed' });
      expect(h[0]!.destroyedAt!.getTime()).toBe(c.now());
      expect(h[0]).not.toHaveProperty('keyVersion');
      expect(h[1]).toMatchObject({ version: 2, state: 'live', keyVersion: 1 });
      await store.undelete('x', { versions: [1] });
      expect(await code(store.get('x', { version: 1 }))).toBe('E_DESTROYED');
      await store.delete('x', { versions: [1] });
      expect((await store.history('x'))[0]!.state).toBe('destroyed');
      expect(await text(store, 'x')).toBe('v2');
    });

    it('destroying the current version makes get E_DESTROYED; a later put continues the numbering', async () => {
      const { store } = await fresh();
      await store.put('x', 'v1');
      await store.destroy('x', [1]);
      expect(await code(store.get('x'))).toBe('E_DESTROYED');
      expect((await store.list())[0]).toMatchObject({ name: 'x', state: 'destroyed', currentVersion: 1 });
      expect((await store.put('x', 'v2')).version).toBe(2);
      expect(await text(store, 'x')).toBe('v2');
    });

    it('destroy needs a non-empty list of whole version numbers (E_USAGE)', async () => {
      const { store } = await fresh();
      await store.put('x', 'v1');
      expect(await code(store.destroy('x', []))).toBe('E_USAGE');
      expect(await code(store.destroy('x', [0]))).toBe('E_USAGE');
      expect(await code(store.destroy('x', [1.5]))).toBe('E_USAGE');
      expect(await code(store.destroy('x', undefined as unknown as number[]))).toBe('E_USAGE');
      expect(await code(store.delete('x', { versions: [] }))).toBe('E_USAGE');
      expect(await text(store, 'x')).toBe('v1');
    });

    it('a put after deleting the current version writes a new live version', async () => {
      const { store } = await fresh();
      await store.put('x', 'v1');
      await store.delete('x');
      expect((await store.put('x', 'v2')).version).toBe(2);
      expect(await text(store, 'x')).toBe('v2');
      expect(await code(store.get('x', { version: 1 }))).toBe('E_DELETED');
    });
  });

  describe('rollback', () => {
    it('makes a new version holding version N\'s value', async () => {
      const { store } = await fresh();
      for (const v of ['v1', 'v2', 'v3']) await store.put('r', v);
      const w = await store.rollback('r', 1);
      expect(w.version).toBe(4);
      expect(await text(store, 'r')).toBe('v1');
      expect(await text(store, 'r', 3)).toBe('v3');
      expect((await store.history('r')).map((h) => h.version)).toEqual([1, 2, 3, 4]);
    });

    it('rollback to a deleted version is E_DELETED, to a destroyed one E_DESTROYED, and writes nothing', async () => {
      const { store } = await fresh();
      for (const v of ['v1', 'v2', 'v3']) await store.put('r', v);
      await store.delete('r', { versions: [1] });
      await store.destroy('r', [2]);
      expect(await code(store.rollback('r', 1))).toBe('E_DELETED');
      expect(await code(store.rollback('r', 2))).toBe('E_DESTROYED');
      expect((await store.history('r')).length).toBe(3);
      expect((await store.get('r')).version).toBe(3);
    });

    it('rollback to a missing version or name is E_NOT_FOUND; a bad version E_USAGE', async () => {
      const { store } = await fresh();
      await store.put('r', 'v1');
      expect(await code(store.rollback('r', 5))).toBe('E_NOT_FOUND');
      expect(await code(store.rollback('nope', 1))).toBe('E_NOT_FOUND');
      expect(await code(store.rollback('r', 0))).toBe('E_USAGE');
      expect((await store.history('r')).length).toBe(1);
    });

    it('rollback honours cas', async () => {
      const { store } = await fresh();
      await store.put('r', 'v1');
      await store.put('r', 'v2');
      expect(await code(store.rollback('r', 1, { cas: 1 }))).toBe('E_CAS_MISMATCH');
      expect((await store.history('r')).length).toBe(2);
      expect((await store.rollback('r', 1, { cas: 2 })).version).toBe(3);
    });

    it('rollback works when the current version is deleted, and of binary values', async () => {
      const { store } = await fresh();
      const bin = new Uint8Array(256).map((_, i) => 255 - i);
      await store.put('r', bin);
      await store.put('r', 'v2');
      await store.delete('r');
      expect((await store.rollback('r', 1)).version).toBe(3);
      expect(hex((await store.get('r')).value.expose())).toBe(hex(bin));
    });
  });

  describe('purge', () => {
    it('removes the secret and every version; a later put starts again at version 1', async () => {
      const { store } = await fresh();
      for (const v of ['v1', 'v2', 'v3']) await store.put('p', v);
      await store.put('keep', 'k');
      await store.purge('p');
      expect(await code(store.get('p'))).toBe('E_NOT_FOUND');
      expect(await code(store.get('p', { version: 1 }))).toBe('E_NOT_FOUND');
      expect(await code(store.history('p'))).toBe('E_NOT_FOUND');
      expect(await code(store.getMetadata('p'))).toBe('E_NOT_FOUND');
      expect((await store.list()).map((s) => s.name)).toEqual(['keep']);
      const st = await store.status();
      expect([st.secrets, st.versions]).toEqual([1, 1]);
      const w = await store.put('p', 'new');
      expect(w.version).toBe(1);
      expect((await store.history('p')).map((h) => h.version)).toEqual([1]);
      expect(await text(store, 'p')).toBe('new');
      expect(await text(store, 'keep')).toBe('k');
    });

    it('purge of a missing name is E_NOT_FOUND', async () => {
      const { store } = await fresh();
      expect(await code(store.purge('nope'))).toBe('E_NOT_FOUND');
    });

    it('purge forgets metadata too', async () => {
      const { store } = await fresh();
      await store.put('p', 'v1');
      await store.setMetadata('p', { maxVersions: 1, custom: { a: 'b' } });
      await store.purge('p');
      await store.put('p', 'v1');
      await store.put('p', 'v2');
      const m = await store.getMetadata('p');
      expect(m).toMatchObject({ maxVersions: 0, custom: {}, oldestVersion: 1, currentVersion: 2 });
    });
  });

  describe('metadata', () => {
    it('setMetadata maxVersions prunes the oldest at once and on later puts', async () => {
      const { store } = await fresh();
      for (let i = 1; i <= 5; i++) await store.put('m', `v${i}`);
      const m = await store.setMetadata('m', { maxVersions: 2 });
      expect(m).toMatchObject({ maxVersions: 2, currentVersion: 5, oldestVersion: 4 });
      expect((await store.history('m')).map((h) => h.version)).toEqual([4, 5]);
      expect(await code(store.get('m', { version: 3 }))).toBe('E_NOT_FOUND');
      await store.put('m', 'v6');
      expect((await store.history('m')).map((h) => h.version)).toEqual([5, 6]);
      expect(await text(store, 'm', 5)).toBe('v5');
      expect(await text(store, 'm')).toBe('v6');
      expect((await store.getMetadata('m')).oldestVersion).toBe(5);
      expect((await store.list())[0]).toMatchObject({ versions: 2, oldestVersion: 5, currentVersion: 6 });
      expect(await code(store.rollback('m', 1))).toBe('E_NOT_FOUND');
    });

    it('maxVersions 0 goes back to the store default (unlimited)', async () => {
      const { store } = await fresh();
      for (let i = 1; i <= 3; i++) await store.put('m', `v${i}`);
      await store.setMetadata('m', { maxVersions: 1 });
      await store.setMetadata('m', { maxVersions: 0 });
      await store.put('m', 'v4');
      await store.put('m', 'v5');
      expect((await store.history('m')).map((h) => h.version)).toEqual([3, 4, 5]);
    });

    it('store-wide maxVersions (init option) prunes every secret; a secret may override it', async () => {
      const { store } = await fresh({ maxVersions: 3 });
      expect((await store.status()).defaultMaxVersions).toBe(3);
      for (let i = 1; i <= 5; i++) await store.put('a', `v${i}`);
      expect((await store.history('a')).map((h) => h.version)).toEqual([3, 4, 5]);
      await store.put('b', 'v1');
      await store.setMetadata('b', { maxVersions: 5 });
      for (let i = 2; i <= 7; i++) await store.put('b', `v${i}`);
      expect((await store.history('b')).map((h) => h.version)).toEqual([3, 4, 5, 6, 7]);
      await store.setMetadata('b', { maxVersions: 1 });
      expect((await store.history('b')).map((h) => h.version)).toEqual([7]);
    });

    it('custom metadata round-trips, replaces the whole map, persists and never touches values', async () => {
      const c = clock();
      const { store, path, key } = await fresh({ now: c.now });
      await store.put('m', 'value');
      c.tick(5000);
      const m = await store.setMetadata('m', { custom: { owner: 'team-a', env: 'prod' } });
      expect(m.custom).toEqual({ owner: 'team-a', env: 'prod' });
      expect(m.updatedAt.getTime()).toBe(c.now());
      expect(m.createdAt.getTime()).toBe(T0);
      expect((await store.getMetadata('m')).custom).toEqual({ owner: 'team-a', env: 'prod' });
      expect((await store.list())[0]!.custom).toEqual({ owner: 'team-a', env: 'prod' });
      await store.setMetadata('m', { maxVersions: 4 });
      expect((await store.getMetadata('m')).custom).toEqual({ owner: 'team-a', env: 'prod' });
      await store.setMetadata('m', { custom: { only: 'this' } });
      expect((await store.getMetadata('m')).custom).toEqual({ only: 'this' });
      expect((await store.history('m')).length).toBe(1);
      expect(await text(store, 'm')).toBe('value');
      await store.close();
      const again = await reopen(path, key);
      expect(await again.getMetadata('m')).toMatchObject({ custom: { only: 'this' }, maxVersions: 4 });
    });

    it('custom metadata at the limits is accepted: 64 keys, 128-char keys, 512-char values, empty values', async () => {
      const { store } = await fresh();
      await store.put('m', 'x');
      const big: Record<string, string> = {};
      for (let i = 0; i < 64; i++) big[`k${i}`.padEnd(128, 'x')] = 'v'.repeat(512);
      await store.setMetadata('m', { custom: big });
      expect((await store.getMetadata('m')).custom).toEqual(big);
      await store.setMetadata('m', { custom: { e: '' } });
      expect((await store.getMetadata('m')).custom).toEqual({ e: '' });
    });

    it('custom metadata beyond the limits, and a bad maxVersions, are E_USAGE and change nothing', async () => {
      const { store } = await fresh();
      await store.put('m', 'x');
      await store.setMetadata('m', { custom: { keep: 'me' }, maxVersions: 3 });
      const tooMany: Record<string, string> = {};
      for (let i = 0; i < 65; i++) tooMany[`k${i}`] = 'v';
      const bad: unknown[] = [
        tooMany,
        { ['k'.repeat(129)]: 'v' },
        { '': 'v' },
        { k: 'v'.repeat(513) },
        { k: 5 },
        { k: null },
        { k: { nested: 'x' } },
        ['a', 'b'],
        null,
        'string',
      ];
      for (const custom of bad) {
        expect(await code(store.setMetadata('m', { custom: custom as Record<string, string> })), JSON.stringify(custom)?.slice(0, 40)).toBe('E_USAGE');
      }
      for (const maxVersions of [-1, 1.5, Number.NaN]) expect(await code(store.setMetadata('m', { maxVersions }))).toBe('E_USAGE');
      expect(await store.getMetadata('m')).toMatchObject({ custom: { keep: 'me' }, maxVersions: 3 });
    });

    it('setMetadata / getMetadata of a missing secret is E_NOT_FOUND and creates nothing', async () => {
      const { store } = await fresh();
      expect(await code(store.setMetadata('nope', { maxVersions: 1 }))).toBe('E_NOT_FOUND');
      expect(await code(store.getMetadata('nope'))).toBe('E_NOT_FOUND');
      expect(await store.list()).toEqual([]);
    });
  });

  describe('list and entries', () => {
    const names = ['app/a/db', 'app/b/cache', 'app/b/db', 'apple', 'other/x', 'app/c/db/extra', 'a'];

    async function populated() {
      const { store } = await fresh();
      for (const n of names) await store.put(n, `value of ${n}`);
      await store.put('app/b/db', 'second');
      await store.delete('app/b/cache');
      return store;
    }

    it('lists every name, sorted, with counts and state, never values', async () => {
      const store = await populated();
      const all = await store.list();
      expect(all.map((s) => s.name)).toEqual([...names].sort());
      const bdb = all.find((s) => s.name === 'app/b/db')!;
      expect(bdb).toMatchObject({ currentVersion: 2, oldestVersion: 1, versions: 2, state: 'live', maxVersions: 0, custom: {} });
      expect(bdb.createdAt).toBeInstanceOf(Date);
      expect(all.find((s) => s.name === 'app/b/cache')).toMatchObject({ state: 'deleted', versions: 1 });
      expect(JSON.stringify(all)).not.toContain('value of');
      expect(JSON.stringify(all)).not.toContain('second');
    });

    it('lists by prefix', async () => {
      const store = await populated();
      expect((await store.list({ pattern: 'app/' })).map((s) => s.name)).toEqual(['app/a/db', 'app/b/cache', 'app/b/db', 'app/c/db/extra']);
      expect((await store.list({ pattern: 'app' })).map((s) => s.name)).toEqual([
        'app/a/db', 'app/b/cache', 'app/b/db', 'app/c/db/extra', 'apple',
      ]);
      expect((await store.list({ pattern: 'app/b/' })).map((s) => s.name)).toEqual(['app/b/cache', 'app/b/db']);
      expect((await store.list({ pattern: 'other/x' })).map((s) => s.name)).toEqual(['other/x']);
      expect(await store.list({ pattern: 'zzz' })).toEqual([]);
      expect((await store.list({ pattern: '' })).length).toBe(names.length);
    });

    it('lists by glob', async () => {
      const store = await populated();
      expect((await store.list({ pattern: 'app/*/db' })).map((s) => s.name)).toEqual(['app/a/db', 'app/b/db']);
      expect((await store.list({ pattern: 'app/?/cache' })).map((s) => s.name)).toEqual(['app/b/cache']);
      expect((await store.list({ pattern: '*/x' })).map((s) => s.name)).toEqual(['other/x']);
      expect((await store.list({ pattern: 'app/[ab]/db' })).map((s) => s.name)).toEqual(['app/a/db', 'app/b/db']);
      expect((await store.list({ pattern: 'app?e' })).map((s) => s.name)).toEqual(['apple']);
      expect(await store.list({ pattern: 'nothing*' })).toEqual([]);
    });

    it('a glob matches whole names, not prefixes', async () => {
      const store = await populated();
      expect((await store.list({ pattern: 'app/?' })).map((s) => s.name)).toEqual([]);
      expect((await store.list({ pattern: 'a' })).map((s) => s.name)).toContain('apple'); // a prefix
      expect((await store.list({ pattern: '[a]' })).map((s) => s.name)).toEqual(['a']); // a glob
    });

    it('entries() pages correctly past 500 names (1,203 names)', async () => {
      const { store } = await fresh();
      const all: string[] = [];
      for (let i = 0; i < 1203; i++) all.push(`${i % 2 === 0 ? 'even' : 'odd'}/n${String(i).padStart(5, '0')}`);
      // Insert in a scrambled order so that the result order comes from the store.
      const scrambled = all.map((n, i) => [n, (i * 7919) % 1203] as const).sort((a, b) => a[1] - b[1]).map(([n]) => n);
      for (const n of scrambled) await store.put(n, 'v');
      const seen: string[] = [];
      for await (const e of store.entries()) seen.push(e.name);
      expect(seen.length).toBe(1203);
      expect(new Set(seen).size).toBe(1203);
      expect(seen).toEqual([...all].sort());
      expect((await store.list()).length).toBe(1203);
      const even = await store.list({ pattern: 'even/' });
      expect(even.length).toBe(602);
      expect(even.map((s) => s.name)).toEqual(all.filter((n) => n.startsWith('even/')).sort());
      expect((await store.list({ pattern: 'odd/*' })).length).toBe(601);
      expect((await store.status()).secrets).toBe(1203);
    }, 60_000);

    it('entries() can stop early', async () => {
      const { store } = await fresh();
      for (const n of ['a', 'b', 'c']) await store.put(n, 'v');
      const got: string[] = [];
      for await (const e of store.entries()) {
        got.push(e.name);
        if (got.length === 2) break;
      }
      expect(got).toEqual(['a', 'b']);
    });
  });

  describe('history and status', () => {
    it('history lists every version oldest first with created time, state, key version and deletion time', async () => {
      const c = clock();
      const { store } = await fresh({ now: c.now });
      await store.put('h', 'v1');
      c.tick(1000);
      await store.put('h', 'v2');
      c.tick(1000);
      await store.put('h', 'v3');
      c.tick(1000);
      await store.delete('h', { versions: [2] });
      c.tick(1000);
      await store.destroy('h', [3]);
      const h = await store.history('h');
      expect(h).toEqual([
        { version: 1, createdAt: new Date(T0), state: 'live', keyVersion: 1, json: false },
        { version: 2, createdAt: new Date(T0 + 1000), state: 'deleted', deletedAt: new Date(T0 + 3000), keyVersion: 1, json: false },
        { version: 3, createdAt: new Date(T0 + 2000), state: 'destroyed', destroyedAt: new Date(T0 + 4000), json: false },
      ]);
    });

    it('history of a missing name is E_NOT_FOUND', async () => {
      const { store } = await fresh();
      expect(await code(store.history('nope'))).toBe('E_NOT_FOUND');
    });

    it('status counts secrets, versions, live versions and versions per key', async () => {
      const c = clock();
      const { store, path } = await fresh({ now: c.now, maxValueBytes: 4096 });
      let st = await store.status();
      expect(st).toMatchObject({
        path, schemaVersion: SCHEMA_VERSION, masterKind: 'raw', secrets: 0, versions: 0, liveVersions: 0, maxValueBytes: 4096, defaultMaxVersions: 0,
      });
      expect(st.storeId).toMatch(/^[0-9a-f]{32}$/);
      expect(st.createdAt.getTime()).toBe(T0);
      expect(st.keys).toHaveLength(1);
      expect(st.keys[0]).toMatchObject({ version: 1, status: 'primary', versions: 0 });
      expect(JSON.stringify(st)).not.toMatch(/material/);
      await store.put('a', '1');
      await store.put('a', '2');
      await store.put('b', '1');
      await store.put('c', '1');
      await store.delete('a');
      await store.destroy('c', [1]);
      st = await store.status();
      expect([st.secrets, st.versions, st.liveVersions]).toEqual([3, 4, 2]);
      expect(st.keys[0]!.versions).toBe(3); // the destroyed version names no key any more
    });

    it('the store id is stable across reopen and differs between stores', async () => {
      const a = await fresh();
      const b = await fresh();
      const idA = (await a.store.status()).storeId;
      expect(idA).not.toBe((await b.store.status()).storeId);
      await a.store.close();
      expect((await (await reopen(a.path, a.key)).status()).storeId).toBe(idA);
    });
  });

  describe('close and reopen', () => {
    it('every call after close is E_CLOSED; close is idempotent', async () => {
      const { store } = await fresh();
      await store.put('a', 'x');
      await store.close();
      await store.close();
      const calls: [string, () => Promise<unknown>][] = [
        ['put', () => store.put('a', 'y')],
        ['get', () => store.get('a')],
        ['history', () => store.history('a')],
        ['list', () => store.list()],
        ['entries', async () => {
          for await (const _ of store.entries()) void _;
        }],
        ['delete', () => store.delete('a')],
        ['undelete', () => store.undelete('a')],
        ['destroy', () => store.destroy('a', [1])],
        ['purge', () => store.purge('a')],
        ['rollback', () => store.rollback('a', 1)],
        ['getMetadata', () => store.getMetadata('a')],
        ['setMetadata', () => store.setMetadata('a', { maxVersions: 1 })],
        ['status', () => store.status()],
      ];
      for (const [what, call] of calls) expect(await code(call()), what).toBe('E_CLOSED');
    });

    it('reopening with the same key reads everything back', async () => {
      const c = clock();
      const { store, path, key } = await fresh({ now: c.now, maxValueBytes: 2048, maxVersions: 5 });
      for (let i = 0; i < 20; i++) {
        c.tick();
        await store.put(`s/${i}`, `value-${i}`);
        if (i % 3 === 0) await store.put(`s/${i}`, `value-${i}-b`);
      }
      await store.delete('s/3');
      await store.destroy('s/6', [1]);
      await store.setMetadata('s/9', { custom: { k: 'v' } });
      const before = { list: await store.list(), status: await store.status(), h6: await store.history('s/6') };
      await store.close();
      const again = await reopen(path, key);
      expect(await again.list()).toEqual(before.list);
      expect(await again.status()).toEqual(before.status);
      expect(await again.history('s/6')).toEqual(before.h6);
      for (let i = 0; i < 20; i++) {
        if (i === 3) continue;
        expect(await text(again, `s/${i}`)).toBe(i % 3 === 0 ? `value-${i}-b` : `value-${i}`);
      }
      expect(await code(again.get('s/3'))).toBe('E_DELETED');
      expect(await text(again, 's/3', 1)).toBe('value-3');
      expect(await code(again.get('s/6', { version: 1 }))).toBe('E_DESTROYED');
      // limits persist
      expect(await code(again.put('big', new Uint8Array(2049)))).toBe('E_VALUE_TOO_LARGE');
      for (let i = 0; i < 6; i++) await again.put('many', `${i}`);
      expect((await again.history('many')).length).toBe(5);
    });

    it('a passphrase store reopens with the same passphrase', async () => {
      const { locator: path } = await driver.place();
      const store = await initStore(path, passphrase('correct horse', { scrypt: { logN: 15 } }));
      await store.put('a', 'from-passphrase');
      expect((await store.status()).masterKind).toBe('passphrase');
      await store.close();
      const again = await openStore(path, passphrase('correct horse'));
      onTestFinished(() => again.close());
      expect(await text(again, 'a')).toBe('from-passphrase');
    });
  });
});
