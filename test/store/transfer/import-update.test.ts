/**
 * Import with onConflict 'update' through the library: a new version only
 * where the imported value differs from the current live one (bundles and
 * plaintext files alike), byte-exact comparison, dry runs that match the
 * real import, and values under data keys another process added.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { openStore, rawKey, type BundleKey, type Store } from '../../../src/index.js';
import { dump } from '../../helpers/dump.js';
import { freshStore } from '../../helpers/store.js';

const PW: BundleKey = { passphrase: 'correct horse battery staple', scrypt: { logN: 15 } };

async function versionsOf(store: Store): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const s of await store.list()) out[s.name] = (await store.history(s.name)).map((h) => h.version);
  return out;
}

describe("onConflict 'update'", () => {
  it('bundles: equal current values are left alone, different ones get a new version, a deleted current bundle value is reported', async () => {
    const { store: src, dir } = await freshStore();
    await src.put('same', 'v-1');
    await src.put('same', 'v-2');
    await src.put('changed', 'new');
    await src.put('fresh', 'f');
    await src.put('gone', 'g');
    await src.delete('gone');
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW, allVersions: true });

    const { store: dst } = await freshStore();
    await dst.put('same', 'v-2');
    await dst.put('changed', 'old');
    await dst.put('gone', 'mine');
    const dry = await dst.importBundle(file, { key: PW, onConflict: 'update', dryRun: true });
    expect(await versionsOf(dst)).toEqual({ changed: [1], gone: [1], same: [1] });
    const real = await dst.importBundle(file, { key: PW, onConflict: 'update' });
    expect({ ...dry, dryRun: false }).toEqual(real);
    expect(real).toMatchObject({
      created: ['fresh'], appended: ['changed'], unchanged: ['same'], noCurrentValue: ['gone'], versions: 2,
      actions: [
        { name: 'changed', action: 'update' }, { name: 'fresh', action: 'create' },
        { name: 'gone', action: 'no-current-value' }, { name: 'same', action: 'unchanged' },
      ],
    });
    expect(await versionsOf(dst)).toEqual({ changed: [1, 2], fresh: [1], gone: [1], same: [1] });
    expect((await dst.get('changed')).value.text()).toBe('new');
    expect((await dst.get('gone')).value.text()).toBe('mine');
  });

  it('compares bytes exactly: a prefix, a trailing newline or one changed byte is a change', async () => {
    const { store, dir } = await freshStore();
    const file = join(dir, 'x.json');
    writeFileSync(file, JSON.stringify({ prefix: 'abc', newline: 'abc', byte: 'abd', same: 'abc' }));
    await store.put('prefix', 'abcd');
    await store.put('newline', 'abc\n');
    await store.put('byte', 'abc');
    await store.put('same', new Uint8Array([0x61, 0x62, 0x63]));
    const r = await store.importPlain(file, { onConflict: 'update' });
    expect(r.appended).toEqual(['prefix', 'newline', 'byte']);
    expect(r.unchanged).toEqual(['same']);
  });

  it('a dry run reads a value sealed under a data key another process added', async () => {
    const { store: a, path, key, dir } = await freshStore();
    await a.put('x', 'one');
    const b = await openStore(path, rawKey(key));
    onTestFinished(() => b.close());
    await b.rotateKeys();
    await b.put('x', 'two'); // under key 2, which a has not loaded
    const file = join(dir, 'x.json');
    writeFileSync(file, JSON.stringify({ x: 'two' }));
    const before = await dump(b, rawKey(key)); // b holds the new key (rotateKeys rewrapped version 1 too)
    expect(await a.importPlain(file, { onConflict: 'update', dryRun: true })).toMatchObject({ unchanged: ['x'], appended: [], versions: 0 });
    expect(await dump(b, rawKey(key))).toEqual(before);
    expect(await a.importPlain(file, { onConflict: 'update' })).toMatchObject({ unchanged: ['x'], versions: 0 });
    expect((await a.history('x')).map((h) => h.version)).toEqual([1, 2]);
  });
});
