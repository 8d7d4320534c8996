/**
 * Export and import keep each version's content type: a v1 bundle holding a
 * JSON version is of format 0x02 (any other stays 0x01, readable by older
 * programs), an age bundle's records are strongbox-records/v2 (else v1), and
 * an import marks exactly the versions the bundle marks. Under
 * `--on-conflict update` a change of content type alone is a change.
 * Plaintext files carry values only: a JSON secret comes back as plain bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decrypter } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { createAgeIdentityFile, exportPlain, exportStore, importBundle, importPlain, type Store } from '../../../src/index.js';
import { dump, exportable } from '../../helpers/dump.js';
import { freshStore } from '../../helpers/store.js';

const PW = { passphrase: 'content type export', scrypt: { logN: 15 } };
const DB = '{"user":"app","password":"p4ss"}';

/** j: v1 JSON (deleted), v2 bytes, v3 JSON; b: bytes only. */
async function source(): Promise<{ store: Store; dir: string }> {
  const { store, dir } = await freshStore();
  await store.put('j', DB, { json: true });
  await store.put('j', 'plain');
  await store.put('j', '{"v":3}', { json: true });
  await store.delete('j', { versions: [1] });
  await store.put('b', '{"looks":"like json"}');
  return { store, dir };
}

const flags = async (store: Store, name: string) => (await store.history(name)).map((h) => h.json);

describe('v1 bundles', () => {
  it('all versions: format 0x02, and the import holds every version JSON or bytes as the source', async () => {
    const { store, dir } = await source();
    const file = join(dir, 'all.sbx');
    await exportStore(store, file, { key: PW, allVersions: true });
    expect(readFileSync(file)[20]).toBe(0x02);
    const { store: dst } = await freshStore();
    await importBundle(dst, file, { key: PW });
    expect(await dump(dst)).toEqual(exportable(await dump(store)));
    expect(await flags(dst, 'j')).toEqual([true, false, true]);
    expect((await dst.get('b')).json).toBe(false);
  });

  it('a selection without JSON versions stays format 0x01 (older programs read it)', async () => {
    const { store, dir } = await source();
    await store.put('j', 'now plain');
    const current = join(dir, 'current.sbx');
    await exportStore(store, current, { key: PW }); // current versions only: none is JSON
    expect(readFileSync(current)[20]).toBe(0x01);
    const prefixed = join(dir, 'b.sbx');
    await exportStore(store, prefixed, { key: PW, allVersions: true, prefix: 'b' });
    expect(readFileSync(prefixed)[20]).toBe(0x01);
    const all = join(dir, 'all.sbx');
    await exportStore(store, all, { key: PW, allVersions: true });
    expect(readFileSync(all)[20]).toBe(0x02);
  });

  it('new-version and update append with the bundle\'s content type; under update a change of type alone is a change', async () => {
    const { store, dir } = await freshStore();
    await store.put('x', DB, { json: true });
    const file = join(dir, 'x.sbx');
    await exportStore(store, file, { key: PW });
    const { store: dst } = await freshStore();
    await dst.put('x', DB); // the same bytes, as plain bytes
    let r = await importBundle(dst, file, { key: PW, onConflict: 'update' });
    expect(r.appended).toEqual(['x']);
    expect(await flags(dst, 'x')).toEqual([false, true]);
    r = await importBundle(dst, file, { key: PW, onConflict: 'update' });
    expect(r.unchanged).toEqual(['x']); // same bytes, same type
    r = await importBundle(dst, file, { key: PW, onConflict: 'new-version' });
    expect(await flags(dst, 'x')).toEqual([false, true, true]);
    expect((await dst.get('x')).value.text()).toBe(DB);
  });
});

describe('age bundles', () => {
  it('records v2 when a version is JSON (v1 otherwise), and the import keeps every flag', async () => {
    const { store, dir } = await source();
    const idFile = join(dir, 'id.txt');
    const recipient = await createAgeIdentityFile(idFile);
    const identity = readFileSync(idFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    const payload = async (file: string) => {
      const d = new Decrypter();
      d.addIdentity(identity);
      return d.decrypt(readFileSync(file), 'text');
    };
    const file = join(dir, 'all.age');
    await exportStore(store, file, { recipients: [recipient], allVersions: true });
    const text = await payload(file);
    expect(text.split('\n')[0]).toContain('"format":"strongbox-records/v2"');
    expect(text.split('\n').filter((l) => l.includes('"json":true')).length).toBe(2);
    const { store: dst } = await freshStore();
    await importBundle(dst, file, { identities: [{ identityFile: idFile }] });
    expect(await dump(dst)).toEqual(exportable(await dump(store)));
    const plainOnly = join(dir, 'b.age');
    await exportStore(store, plainOnly, { recipients: [recipient], prefix: 'b' });
    expect((await payload(plainOnly)).split('\n')[0]).toContain('"format":"strongbox-records/v1"');
  });
});

describe('plaintext files', () => {
  it('carry the value only: a JSON secret exported and imported again is plain bytes holding the same text', async () => {
    const { store, dir } = await source();
    const file = join(dir, 'plain.json');
    await exportPlain(store, file, { format: 'json' });
    expect(JSON.parse(readFileSync(file, 'utf8')).j).toBe('{"v":3}');
    const { store: dst } = await freshStore();
    await importPlain(dst, file);
    const j = await dst.get('j');
    expect([j.value.text(), j.json]).toEqual(['{"v":3}', false]);
  });
});
