/**
 * Bundles that are authentic (sealed with the right key) but hold what the
 * target store could not keep working with: a time no Date holds, a version
 * number with no room after it, a "JSON" version that is not a JSON object,
 * a current version that is not among the versions carried. Each is refused
 * before anything is written, or imported so that every later read answers
 * as the source did — never a store that fails afterwards with "internal
 * error" or E_TAMPERED.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BundleWriter } from '../../../src/crypto/bundle/writer.js';
import { keyFileBundleKey, keyFileHeader } from '../../../src/crypto/bundle/keys.js';
import type { SecretRecord, VersionRecord } from '../../../src/crypto/bundle/records.js';
import { rejectionCode as code, rejectionError as caught } from '../../helpers/errors.js';
import { freshStore } from '../../helpers/store.js';

const NOW = Date.UTC(2025, 0, 1);
const utf8 = (s: string) => new TextEncoder().encode(s);

type Secret = Omit<SecretRecord, 'type' | 'versionCount'> & { versions: Omit<VersionRecord, 'type'>[] };

function secret(name: string, currentVersion: number, versions: Secret['versions'], times: Partial<Secret> = {}): Secret {
  return { name, currentVersion, maxVersions: 0, createdAt: NOW, updatedAt: NOW, custom: {}, versions, ...times };
}

/** An all-versions bundle of `secrets`, sealed to a fresh 32-byte key: authentic, whatever it holds. */
function bundle(dir: string, secrets: Secret[]): { path: string; key: Uint8Array } {
  const key = new Uint8Array(randomBytes(32));
  const h = keyFileHeader(key, { allVersions: true, createdAt: NOW });
  const json = secrets.some((s) => s.versions.some((v) => v.json));
  const w = new BundleWriter(keyFileBundleKey(key, h), {
    ...h, secrets: secrets.length, versions: secrets.reduce((n, s) => n + s.versions.length, 0), ...(json ? { contentTypes: true as const } : {}),
  });
  const parts = [w.header()];
  for (const { versions, ...s } of secrets) {
    parts.push(w.secret({ ...s, versionCount: versions.length }));
    for (const v of versions) parts.push(w.version(v));
  }
  parts.push(w.trailer());
  const path = join(dir, `b-${randomBytes(4).toString('hex')}.sbx`);
  writeFileSync(path, Buffer.concat(parts), { mode: 0o600 });
  return { path, key };
}

describe('import of authentic bundles the store could not keep working with', () => {
  it('a time beyond what a Date holds is a damaged bundle: nothing written', async () => {
    const { store, dir } = await freshStore();
    for (const t of [8.64e15 + 1, -8.64e15 - 1, 9e15]) {
      const b = bundle(dir, [secret('app/t', 1, [{ version: 1, createdAt: t, deletedAt: null, value: utf8('x') }], { createdAt: t, updatedAt: t })]);
      expect(await code(store.importBundle(b.path, { key: { key: b.key } }))).toBe('E_TAMPERED');
    }
    // The last time a Date holds is still a time.
    const edge = bundle(dir, [secret('app/edge', 1, [{ version: 1, createdAt: 8.64e15, deletedAt: null, value: utf8('x') }])]);
    await store.importBundle(edge.path, { key: { key: edge.key } });
    expect((await store.history('app/edge'))[0]!.createdAt.getTime()).toBe(8.64e15);
    expect((await store.list()).map((s) => s.name)).toEqual(['app/edge']);
  });

  it('a current version with no room after it is refused by name, before anything is written', async () => {
    const { store, dir } = await freshStore();
    const b = bundle(dir, [
      secret('app/fine', 1, [{ version: 1, createdAt: NOW, deletedAt: null, value: utf8('ok') }]),
      secret('app/top', 0xffffffff, [{ version: 0xffffffff, createdAt: NOW, deletedAt: null, value: utf8('top') }]),
    ]);
    const e = await caught(store.importBundle(b.path, { key: { key: b.key } }));
    expect(e.code).toBe('E_INVALID_IMPORT');
    expect(e.message).toContain('app/top');
    expect(e.message).toContain('no room for another');
    expect(await store.list()).toEqual([]);
  });

  it('a version marked JSON that is not a JSON object is refused without quoting it', async () => {
    const { store, dir } = await freshStore();
    const b = bundle(dir, [secret('app/j', 1, [{ version: 1, createdAt: NOW, deletedAt: null, value: utf8('hunter2 is not json'), json: true }])]);
    const e = await caught(store.importBundle(b.path, { key: { key: b.key } }));
    expect(e.code).toBe('E_INVALID_IMPORT');
    expect(e.message).toContain('app/j version 1: it is marked JSON, but the value is not a JSON object');
    expect(e.message).not.toContain('hunter2');
    expect(await store.list()).toEqual([]);
  });

  it('a current version not among those carried is recorded as destroyed, as an export of a destroyed one leaves it', async () => {
    const { store, dir } = await freshStore();
    const b = bundle(dir, [secret('app/m', 3, [{ version: 1, createdAt: NOW, deletedAt: null, value: utf8('one') }], { updatedAt: NOW + 5 })]);
    await store.importBundle(b.path, { key: { key: b.key } });
    expect(await code(store.get('app/m'))).toBe('E_DESTROYED');
    expect(new TextDecoder().decode((await store.get('app/m', { version: 1 })).value.expose())).toBe('one');
    expect((await store.history('app/m')).map((v) => [v.version, v.state])).toEqual([[1, 'live'], [3, 'destroyed']]);
    expect((await store.verify({ deep: true })).ok).toBe(true);
    expect((await store.put('app/m', 'four')).version).toBe(4);
  });
});
