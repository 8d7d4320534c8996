/**
 * Export and import through the library (src/store/transfer/): encrypted
 * bundles between stores, conflicts, dry runs, refusals that write nothing,
 * and plaintext JSON / .env in both directions.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createKeyFile, initStore, openStore, passphrase, rawKey,
  readBundleInfo, detectImportFormat, StoreError, type BundleKey, type InitOptions, type Store,
} from '../../../src/index.js';
import { envLine } from '../../../src/store/transfer/plaintext.js';
import { dump, exportable } from '../../helpers/dump.js';
import { tempDir } from '../../helpers/tmp.js';
import { rejectionCode as code, rejectionError as caught } from '../../helpers/errors.js';
import { freshStore } from '../../helpers/store.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const FAST = { logN: 15 };
const PW: BundleKey = { passphrase: 'correct horse battery staple', scrypt: FAST };

function clock(start = T0) {
  let t = start;
  return () => (t += 1000);
}

/** A fresh store on its own clock (see `clock`). */
const fresh = (options: InitOptions = {}) => freshStore({ now: clock(), ...options });

/** A small store with every state: live, deleted current, destroyed versions, metadata. */
async function populated(): Promise<{ store: Store; dir: string }> {
  const { store, dir } = await fresh();
  await store.put('app/db', 'db-1');
  await store.put('app/db', 'db-2');
  await store.put('app/db', 'db-3');
  await store.delete('app/db', { versions: [2] });
  await store.destroy('app/db', [1]);
  await store.setMetadata('app/db', { maxVersions: 10, custom: { owner: 'ops', team: 'db' } });
  await store.put('app/api', new Uint8Array([0, 1, 2, 255, 254]));
  await store.put('gone', 'x');
  await store.delete('gone');
  await store.put('burnt', 'y');
  await store.destroy('burnt', [1]);
  await store.put('other/z', '', { allowEmpty: true });
  return { store, dir };
}

describe('encrypted bundle round trip', () => {
  it('--all-versions carries every non-destroyed version, its state and times, and the metadata', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    const r = await src.exportBundle(file, { key: PW, allVersions: true });
    expect(r).toMatchObject({ format: 'bundle', secrets: 4, versions: 5, allVersions: true, skippedNotLive: ['burnt'], skippedDestroyed: 2, keyKind: 'passphrase' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).subarray(0, 20).toString()).toBe('strongbox-export/v1\n');

    const { store: dst } = await fresh();
    const imp = await dst.importBundle(file, { key: PW });
    expect(imp).toMatchObject({ format: 'bundle', created: ['app/api', 'app/db', 'gone', 'other/z'], skipped: [], versions: 5, pruned: 0 });
    expect(await dump(dst)).toEqual(exportable(await dump(src)));
    // Version numbers are never reused: the next put continues after the source's current version.
    expect((await dst.put('app/db', 'db-4')).version).toBe(4);
    expect(await code(dst.get('gone'))).toBe('E_DELETED');
  });

  it('--all-versions of a secret whose current version is destroyed: the import says destroyed too, and verifies', async () => {
    const { store: src, dir } = await fresh();
    await src.put('app/x', 'one');
    await src.put('app/x', 'two');
    await src.destroy('app/x', [2]);
    const file = join(dir, 'out.sbx');
    expect(await src.exportBundle(file, { key: PW, allVersions: true })).toMatchObject({ secrets: 1, versions: 1, skippedDestroyed: 1 });
    const { store: dst } = await fresh();
    await dst.importBundle(file, { key: PW });
    expect(await code(dst.get('app/x'))).toBe('E_DESTROYED');
    expect(new TextDecoder().decode((await dst.get('app/x', { version: 1 })).value.expose())).toBe('one');
    expect((await dst.list()).map((s) => [s.name, s.currentVersion])).toEqual([['app/x', 2]]);
    expect((await dst.verify({ deep: true })).ok).toBe(true);
    expect((await dst.put('app/x', 'three')).version).toBe(3);
  });

  it('without --all-versions: each current live version, keeping its number and time; the rest skipped', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    const r = await src.exportBundle(file, { key: PW });
    expect(r).toMatchObject({ secrets: 3, versions: 3, allVersions: false, skippedNotLive: ['burnt', 'gone'], skippedDestroyed: 0 });
    const { store: dst } = await fresh();
    await dst.importBundle(file, { key: PW });
    const got = await dump(dst);
    expect(got.map((s) => s.name)).toEqual(['app/api', 'app/db', 'other/z']);
    const db = got.find((s) => s.name === 'app/db')!;
    const want = (await dump(src)).find((s) => s.name === 'app/db')!;
    expect(db.versions).toEqual([want.versions[2]]);
    expect(db).toMatchObject({ currentVersion: 3, maxVersions: 10, custom: { owner: 'ops', team: 'db' }, createdAt: want.createdAt, updatedAt: want.updatedAt });
    expect((await dst.get('app/db')).value.text()).toBe('db-3');
    expect((await dst.get('other/z')).value.length).toBe(0);
  });

  it('key-file bundles: a recipient key file, its id in the header; another key file is refused by id', async () => {
    const { store: src, dir } = await populated();
    const k1 = join(dir, 'k1.key');
    const k2 = join(dir, 'k2.key');
    createKeyFile(k1);
    createKeyFile(k2);
    const file = join(dir, 'out.sbx');
    const r = await src.exportBundle(file, { key: { keyFile: k1 }, allVersions: true });
    expect(r.keyKind).toBe('keyfile');
    expect(r.keyId).toMatch(/^[0-9a-f]{16}$/);
    const info = readBundleInfo(file);
    expect(info).toMatchObject({ kind: 'keyfile', keyId: r.keyId, allVersions: true, secrets: 4, versions: 5 });

    const { store: dst } = await fresh();
    const before = await dump(dst);
    const wrong = await caught(dst.importBundle(file, { key: { keyFile: k2 } }));
    expect(wrong.code).toBe('E_WRONG_MASTER_KEY');
    expect(wrong.message).toContain(r.keyId);
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_WRONG_MASTER_KEY');
    expect(await dump(dst)).toEqual(before);

    // The chooser sees the header first.
    const seen: string[] = [];
    await dst.importBundle(file, { key: (i) => (seen.push(i.kind), { key: new Uint8Array(Buffer.from(readFileSync(k1, 'utf8'), 'base64')) }) });
    expect(seen).toEqual(['keyfile']);
    expect(await dump(dst)).toEqual(exportable(await dump(src)));
  });

  it('refuses a recipient key file readable by others, as for master keys', async () => {
    const { store, dir } = await populated();
    const k = join(dir, 'loose.key');
    createKeyFile(k);
    chmodSync(k, 0o644);
    expect(await code(store.exportBundle(join(dir, 'out.sbx'), { key: { keyFile: k } }))).toBe('E_INSECURE_KEYFILE');
    expect(existsSync(join(dir, 'out.sbx'))).toBe(false);
  });

  it('a wrong passphrase is E_WRONG_MASTER_KEY and writes nothing', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW });
    const { store: dst } = await fresh();
    await dst.put('mine', 'keep');
    const before = await dump(dst);
    expect(await code(dst.importBundle(file, { key: { passphrase: 'wrong' } }))).toBe('E_WRONG_MASTER_KEY');
    expect(await dump(dst)).toEqual(before);
  });

  it('--prefix exports only names under it', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    const r = await src.exportBundle(file, { key: PW, prefix: 'app/' });
    expect(r).toMatchObject({ secrets: 2, skippedNotLive: [] });
    const { store: dst } = await fresh();
    expect((await dst.importBundle(file, { key: PW })).created).toEqual(['app/api', 'app/db']);
  });

  it('an empty selection makes a valid empty bundle', async () => {
    const { store: src, dir } = await fresh();
    const file = join(dir, 'empty.sbx');
    expect(await src.exportBundle(file, { key: PW })).toMatchObject({ secrets: 0, versions: 0 });
    const { store: dst } = await fresh();
    expect(await dst.importBundle(file, { key: PW })).toMatchObject({ created: [], versions: 0 });
  });

  it('never overwrites an existing file, and leaves no file after a failure', async () => {
    const { store, dir } = await populated();
    const file = join(dir, 'exists.sbx');
    writeFileSync(file, 'mine');
    expect(await code(store.exportBundle(file, { key: PW }))).toBe('E_USAGE');
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(await code(store.exportPlain(file, { format: 'json' }))).toBe('E_USAGE');
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(await code(store.exportBundle(join(dir, 'x.sbx'), { key: { passphrase: '' } }))).toBe('E_MASTER_KEY');
    expect(existsSync(join(dir, 'x.sbx'))).toBe(false);
  });

  it('sees values under data keys another process added (reloads the keyset)', async () => {
    const { store: a, path, key, dir } = await fresh();
    await a.put('old', 'under key 1');
    const b = await openStore(path, rawKey(key));
    onTestFinished(() => b.close());
    await b.rotateKeys();
    await b.put('new', 'under key 2');
    const file = join(dir, 'out.sbx');
    expect(await a.exportBundle(file, { key: PW })).toMatchObject({ secrets: 2 });
    // And import seals under the primary as stored now, even if this handle has an old keyset.
    const { store: dst, path: dpath, key: dkey } = await fresh();
    const other = await openStore(dpath, rawKey(dkey));
    onTestFinished(() => other.close());
    await other.rotateKeys();
    await dst.importBundle(file, { key: PW });
    expect((await other.get('new')).value.text()).toBe('under key 2');
    const keys = await other.keys();
    expect(keys.find((k) => k.status === 'primary')!.versions).toBe(2);
  });
});

describe('conflicts', () => {
  async function setup() {
    const { store: src, dir } = await fresh();
    await src.put('a', 'a-1');
    await src.put('a', 'a-2');
    await src.put('b', 'b-1');
    await src.put('c', 'c-1');
    await src.put('c', 'c-2');
    await src.delete('c');
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW, allVersions: true });
    const { store: dst } = await fresh();
    await dst.put('a', 'mine-1');
    await dst.setMetadata('a', { custom: { mine: 'yes' } });
    await dst.put('c', 'mine-c');
    return { src, dst, file };
  }

  it('skip (the default) leaves existing names untouched and reports them', async () => {
    const { dst, file } = await setup();
    const r = await dst.importBundle(file, { key: PW });
    expect(r).toMatchObject({ onConflict: 'skip', created: ['b'], skipped: ['a', 'c'], versions: 1 });
    expect((await dst.get('a')).value.text()).toBe('mine-1');
    expect((await dst.getMetadata('a')).custom).toEqual({ mine: 'yes' });
  });

  it('overwrite replaces the whole secret with the bundle\'s', async () => {
    const { src, dst, file } = await setup();
    const r = await dst.importBundle(file, { key: PW, onConflict: 'overwrite' });
    expect(r).toMatchObject({ created: ['b'], overwritten: ['a', 'c'], versions: 5 });
    expect(await dump(dst)).toEqual(await dump(src));
  });

  it('new-version appends the bundle\'s current live value; a deleted current is reported', async () => {
    const { dst, file } = await setup();
    const r = await dst.importBundle(file, { key: PW, onConflict: 'new-version' });
    expect(r).toMatchObject({ created: ['b'], appended: ['a'], noCurrentValue: ['c'], versions: 2 });
    expect((await dst.get('a')).version).toBe(2);
    expect((await dst.get('a')).value.text()).toBe('a-2');
    expect((await dst.get('a', { version: 1 })).value.text()).toBe('mine-1');
    expect((await dst.getMetadata('a')).custom).toEqual({ mine: 'yes' });
    expect((await dst.get('c')).value.text()).toBe('mine-c');
  });

  it('--dry-run reports what the import would do and writes nothing', async () => {
    for (const onConflict of ['skip', 'overwrite', 'new-version'] as const) {
      const { dst, file } = await setup();
      const before = await dump(dst);
      const dry = await dst.importBundle(file, { key: PW, onConflict, dryRun: true });
      expect(await dump(dst)).toEqual(before);
      const real = await dst.importBundle(file, { key: PW, onConflict });
      expect({ ...dry, dryRun: false }).toEqual(real);
    }
  });

  it('max versions of the target apply after the import', async () => {
    const { store: src, dir } = await fresh();
    for (let i = 1; i <= 5; i++) await src.put('a', `v${i}`);
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW, allVersions: true });
    const { store: dst } = await fresh({ maxVersions: 2 });
    const dry = await dst.importBundle(file, { key: PW, dryRun: true });
    const r = await dst.importBundle(file, { key: PW });
    expect(r.pruned).toBe(3);
    expect(dry.pruned).toBe(3);
    expect((await dst.history('a')).map((h) => h.version)).toEqual([4, 5]);
  });
});

describe('damaged bundles: refused, nothing written', () => {
  async function bundle() {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW, allVersions: true });
    const { store: dst } = await fresh();
    await dst.put('mine', 'keep');
    return { file, dir, dst, bytes: readFileSync(file), before: await dump(dst) };
  }

  it('one flipped byte in a record, the trailer, or a non-KDF header field: E_TAMPERED', async () => {
    const { file, dst, bytes, before } = await bundle();
    // Header: magic 0..19, format 20, kind 21, scrypt 22..24, salt 25..40, flags 41, time 42..49, counts 50..57, check 58..126.
    const at = [bytes.length - 1, bytes.length - 30, 200, 130, 41, 45, 53, 57];
    for (const i of at) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= 0x01;
      writeFileSync(file, bad);
      expect(await code(dst.importBundle(file, { key: PW })), `byte ${i}`).toBe('E_TAMPERED');
    }
    expect(await dump(dst)).toEqual(before);
  });

  it('a flipped byte in the KDF salt or the key check reads as a wrong key (they make the key)', async () => {
    const { file, dst, bytes, before } = await bundle();
    for (const i of [30, 60, 126]) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= 0x80;
      writeFileSync(file, bad);
      expect(await code(dst.importBundle(file, { key: PW })), `byte ${i}`).toBe('E_WRONG_MASTER_KEY');
    }
    expect(await dump(dst)).toEqual(before);
  });

  it('truncation anywhere (also at a record boundary), or bytes appended: E_TAMPERED', async () => {
    const { file, dst, bytes, before } = await bundle();
    const headerLength = 20 + 2 + 19 + 17 + 69;
    let boundary = headerLength;
    const boundaries: number[] = [];
    while (boundary < bytes.length) {
      boundaries.push(boundary);
      boundary += 4 + bytes.readUInt32BE(boundary);
    }
    expect(boundary).toBe(bytes.length);
    for (const n of [...boundaries, headerLength + 3, bytes.length - 1, 100]) {
      writeFileSync(file, bytes.subarray(0, n));
      expect(await code(dst.importBundle(file, { key: PW })), `cut at ${n}`).toBe('E_TAMPERED');
    }
    writeFileSync(file, Buffer.concat([bytes, Buffer.from([0, 0, 0, 0])]));
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_TAMPERED');
    // Dropping a whole record (its frame) and reordering two.
    const [r0, r1, r2] = boundaries;
    writeFileSync(file, Buffer.concat([bytes.subarray(0, r1!), bytes.subarray(r2!)]));
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_TAMPERED');
    writeFileSync(file, Buffer.concat([bytes.subarray(0, r0!), bytes.subarray(r1!, r2!), bytes.subarray(r0!, r1!), bytes.subarray(r2!)]));
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_TAMPERED');
    expect(await dump(dst)).toEqual(before);
  });

  it('a record from another bundle with the same key is refused (the header hash is in every AAD)', async () => {
    const { file, dir, dst, bytes, before } = await bundle();
    const { store: src2 } = await populated();
    const other = join(dir, 'other.sbx');
    await src2.exportBundle(other, { key: PW, allVersions: true });
    const o = readFileSync(other);
    const h = 127;
    const spliced = Buffer.concat([bytes.subarray(0, h), o.subarray(h)]);
    writeFileSync(file, spliced);
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_TAMPERED');
    expect(await dump(dst)).toEqual(before);
  });

  it('not a bundle, or a newer version: E_UNSUPPORTED_FORMAT', async () => {
    const { file, dst, bytes } = await bundle();
    writeFileSync(file, Buffer.concat([Buffer.from('strongbox-export/v2\n'), bytes.subarray(20)]));
    const e = await caught(dst.importBundle(file, { key: PW }));
    expect(e.code).toBe('E_UNSUPPORTED_FORMAT');
    expect(e.message).toContain('strongbox-export/v2');
    writeFileSync(file, 'hello');
    expect(await code(dst.importBundle(file, { key: PW }))).toBe('E_UNSUPPORTED_FORMAT');
    const badFormat = Buffer.from(bytes);
    badFormat[20] = 0x03; // 0x01 and 0x02 (content types) are known
    writeFileSync(file, badFormat);
    expect((await caught(dst.importBundle(file, { key: PW }))).message).toContain('0x03');
  });

  it('a crafted header asking for a costly scrypt is refused before any key is asked for or derived (issue 10, 9a)', async () => {
    const { file, dst, before } = await bundle();
    const head = readFileSync(file).subarray(0, 200);
    // [logN, r, p] at bytes 22..24: logN 22 r 8 p 1 is 4 GiB and ~30 s; 19 r 8 is 512 MiB; 17 r 8 p 5 is 5× the default's work.
    for (const cost of [[22, 8, 1], [19, 8, 1], [17, 8, 5], [15, 32, 16]]) {
      const crafted = Buffer.from(head);
      crafted.set(cost, 22);
      writeFileSync(file, crafted);
      let asked = false;
      const started = Date.now();
      const e = await caught(dst.importBundle(file, { dryRun: true, key: () => { asked = true; return PW; } }));
      expect(e.code, `cost ${cost.join(' ')}`).toBe('E_UNSUPPORTED_FORMAT');
      expect(e.message).toContain('scrypt');
      expect(asked).toBe(false);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(() => readBundleInfo(file)).toThrow(StoreError);
    }
    expect(await dump(dst)).toEqual(before);
  });

  it('the exporter refuses a scrypt cost an importer would refuse, and writes no file', async () => {
    const { store: src, dir } = await fresh();
    await src.put('a', 'x');
    const file = join(dir, 'out.sbx');
    for (const scrypt of [{ logN: 19 }, { logN: 22 }, { logN: 17, p: 5 }]) {
      expect(await code(src.exportBundle(file, { key: { passphrase: 'pw', scrypt } }))).toBe('E_UNSUPPORTED_FORMAT');
      expect(existsSync(file)).toBe(false);
    }
  });

  it('a value larger than the target store takes: E_INVALID_IMPORT naming it, nothing written', async () => {
    const { store: src, dir } = await fresh();
    await src.put('big', new Uint8Array(2000));
    await src.put('small', 'ok');
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW });
    const { store: dst } = await fresh({ maxValueBytes: 1000 });
    const e = await caught(dst.importBundle(file, { key: PW }));
    expect(e.code).toBe('E_INVALID_IMPORT');
    expect(e.message).toContain('big version 1');
    expect(await dst.list()).toEqual([]);
  });
});

describe('plaintext export', () => {
  it('JSON: {"name": "value"} of current live values, mode 0600', async () => {
    const { store, dir } = await fresh();
    await store.put('a', 'x "quoted"\nline');
    await store.put('b/c', 'ünïcødé');
    await store.put('d', 'gone');
    await store.delete('d');
    const file = join(dir, 'out.json');
    const r = await store.exportPlain(file, { format: 'json' });
    expect(r).toMatchObject({ format: 'json', secrets: 2, skippedNotLive: ['d'] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ a: 'x "quoted"\nline', 'b/c': 'ünïcødé' });
    const empty = join(dir, 'empty.json');
    await store.exportPlain(empty, { format: 'json', prefix: 'zzz' });
    expect(JSON.parse(readFileSync(empty, 'utf8'))).toEqual({});
  });

  it('refuses non-UTF-8 values, naming every such secret, and writes no file', async () => {
    const { store, dir } = await fresh();
    await store.put('bin1', new Uint8Array([0xff, 0xfe]));
    await store.put('bin2', new Uint8Array([0xc3]));
    await store.put('text', 'fine');
    const file = join(dir, 'out.json');
    const e = await caught(store.exportPlain(file, { format: 'json' }));
    expect(e.code).toBe('E_INVALID_VALUE');
    expect(e.message).toContain('bin1');
    expect(e.message).toContain('bin2');
    expect(existsSync(file)).toBe(false);
  });

  it('.env: values dotenv reads back identically; names with / refused', async () => {
    const { store, dir } = await fresh();
    const values: Record<string, string> = {
      PLAIN: 'simple',
      SPACES: '  padded  ',
      HASH: 'a # not a comment',
      NEWLINES: 'line1\nline2\r\nline3',
      DOUBLE: 'say "hi"',
      SINGLE: "it's",
      BACKSLASH: 'C:\\path\\n',
      EQUALS: 'a=b=c',
      UNICODE: 'ünï ☃',
      'dotted.name-x': 'v',
    };
    for (const [k, v] of Object.entries(values)) await store.put(k, v);
    const file = join(dir, 'out.env');
    const r = await store.exportPlain(file, { format: 'env' });
    expect(r.secrets).toBe(Object.keys(values).length);
    expect(parseDotenv(readFileSync(file))).toEqual(values);

    await store.put('app/x', 'v');
    const e = await caught(store.exportPlain(join(dir, 'other.env'), { format: 'env' }));
    expect(e.code).toBe('E_INVALID_VALUE');
    expect(e.message).toContain('app/x');
  });

  it('envLine refuses what dotenv cannot read back rather than writing something else', () => {
    const tricky = 'a\\nb\r'; // a literal backslash-n and a CR: no dotenv quoting reads both back
    expect(envLine('X', tricky)).toBeUndefined();
    expect(envLine('a/b', 'v')).toBeUndefined();
    for (const v of ['', ' ', '#', '"', "'", '`', '\\', 'a\nb', '\r', '\\"', "'\n'"]) {
      const line = envLine('K', v);
      if (line !== undefined) expect(parseDotenv(line)).toEqual({ K: v });
    }
  });
});

describe('plaintext import', () => {
  async function withFile(name: string, content: string) {
    const { store, dir } = await fresh();
    const file = join(dir, name);
    writeFileSync(file, content);
    return { store, file, dir };
  }

  it('JSON object of strings, detected by extension and by content', async () => {
    const { store, file, dir } = await withFile('secrets.json', JSON.stringify({ 'app/a': 'one', 'app/b': 'two' }));
    expect(detectImportFormat(file)).toBe('json');
    const r = await store.importPlain(file);
    expect(r).toMatchObject({ format: 'json', created: ['app/a', 'app/b'], versions: 2 });
    expect((await store.get('app/b')).value.text()).toBe('two');
    const noExt = join(dir, 'data');
    writeFileSync(noExt, ' \n{"c": "three"}');
    expect(detectImportFormat(noExt)).toBe('json');
    expect((await store.importPlain(noExt, { prefix: 'p/' })).created).toEqual(['p/c']);
  });

  it('.env through dotenv: names as they are, --prefix prepended, comments and export ignored', async () => {
    const content = '# comment\nexport DB_HOST=localhost\nDB_PASS="p#ss word"\nMULTI="a\\nb"\n';
    const { store, file } = await withFile('.env', content);
    expect(detectImportFormat(file)).toBe('env');
    const r = await store.importPlain(file, { prefix: 'app/' });
    expect(r.created).toEqual(['app/DB_HOST', 'app/DB_PASS', 'app/MULTI']);
    expect((await store.get('app/DB_PASS')).value.text()).toBe('p#ss word');
    expect((await store.get('app/MULTI')).value.text()).toBe('a\nb');
  });

  it('reports every bad entry at once, never a value, and writes nothing', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const { store, file } = await withFile('bad.json', JSON.stringify({
      good: 'ok', 'bad name': canary, '/lead': canary, num: 5, nested: { x: canary }, empty: '', '..': canary,
    }));
    const e = await caught(store.importPlain(file));
    expect(e.code).toBe('E_INVALID_IMPORT');
    for (const n of ['entry 2', '"/lead"', '"num"', '"nested"', '"empty"', '".."']) expect(e.message).toContain(n);
    expect((e as StoreError & { problems: string[] }).problems).toHaveLength(6);
    expect(e.message).not.toContain(canary);
    expect(await store.list()).toEqual([]);
  });

  it('a lone UTF-16 surrogate in a JSON value is refused by name, not stored as U+FFFD (issue 10, 10)', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    // JSON.stringify writes a lone surrogate as the escape \ud800, as a crafted or carelessly made file would hold it.
    const { store, file } = await withFile('s.json', JSON.stringify({
      'app/ok': 'fine', 'app/pair': 'smile \u{1F600}', 'app/high': `${canary}\ud800`, 'app/low': `\udc00${canary}`, 'app/reversed': '\udc00\ud800',
    }));
    expect(readFileSync(file, 'utf8')).toContain('\\ud800');
    const e = await caught(store.importPlain(file, { dryRun: true }));
    expect(e.code).toBe('E_INVALID_IMPORT');
    for (const n of ['"app/high"', '"app/low"', '"app/reversed"']) expect(e.message).toContain(n);
    expect(e.message).not.toContain('"app/pair"'); // a well-formed pair (an emoji) is text
    expect((e as StoreError & { problems: string[] }).problems).toHaveLength(3);
    expect(e.message).not.toContain(canary);
    expect(await code(store.importPlain(file))).toBe('E_INVALID_IMPORT');
    expect(await store.list()).toEqual([]);
  });

  it('invalid JSON is reported without quoting the file', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const { store, file } = await withFile('bad.json', `{"a": ${canary}}`);
    const e = await caught(store.importPlain(file));
    expect(e.code).toBe('E_INVALID_IMPORT');
    expect(e.message).not.toContain(canary);
    expect(`${e.stack}`).not.toContain(canary);
  });

  it('empty values need allowEmpty; too-large values are refused', async () => {
    const { store, file } = await withFile('x.env', 'EMPTY=\nFULL=v\n');
    expect(await code(store.importPlain(file))).toBe('E_INVALID_IMPORT');
    expect((await store.importPlain(file, { allowEmpty: true })).created).toEqual(['EMPTY', 'FULL']);
    const { store: small, dir } = await fresh({ maxValueBytes: 4 });
    const big = join(dir, 'big.json');
    writeFileSync(big, JSON.stringify({ a: 'abcde' }));
    expect(await code(small.importPlain(big))).toBe('E_INVALID_IMPORT');
  });

  it('conflict policies and dry run apply to plaintext files too', async () => {
    const { store, file } = await withFile('x.json', JSON.stringify({ a: 'new-a', b: 'new-b' }));
    await store.put('a', 'old-a');
    await store.setMetadata('a', { custom: { k: 'v' } });
    expect(await store.importPlain(file, { dryRun: true, onConflict: 'overwrite' })).toMatchObject({ dryRun: true, created: ['b'], overwritten: ['a'] });
    expect(await store.list().then((l) => l.map((s) => s.name))).toEqual(['a']);
    expect(await store.importPlain(file)).toMatchObject({ created: ['b'], skipped: ['a'] });
    expect((await store.get('a')).value.text()).toBe('old-a');
    expect(await store.importPlain(file, { onConflict: 'new-version' })).toMatchObject({ appended: ['a', 'b'] });
    expect((await store.get('a')).version).toBe(2);
    expect(await store.importPlain(file, { onConflict: 'overwrite' })).toMatchObject({ overwritten: ['a', 'b'] });
    expect((await store.history('a')).map((h) => h.version)).toEqual([1]);
    expect((await store.getMetadata('a')).custom).toEqual({});
  });

  it('a bundle given as a plaintext file is refused with a hint', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW });
    expect(detectImportFormat(file)).toBe('bundle');
    expect(await code(src.importPlain(file, { format: 'json' }))).toBe('E_USAGE');
  });

  it('exported .env and JSON import back to the same values', async () => {
    const { store: src, dir } = await fresh();
    const values = { A: 'x"y', B: "it's", C: 'l1\nl2', D: ' sp ', E: 'a#b' };
    for (const [k, v] of Object.entries(values)) await src.put(k, v);
    for (const format of ['env', 'json'] as const) {
      const file = join(dir, `out.${format}`);
      await src.exportPlain(file, { format });
      const { store: dst } = await fresh();
      await dst.importPlain(file);
      for (const [k, v] of Object.entries(values)) expect((await dst.get(k)).value.text()).toBe(v);
    }
  });
});

describe('passphrase stores as sources', () => {
  it('a passphrase store exports to a key-file bundle', async () => {
    const dir = tempDir();
    const src = await initStore(join(dir, 's.db'), passphrase('pw', { scrypt: FAST }), { now: clock() });
    onTestFinished(() => src.close());
    await src.put('x', 'y');
    const k = join(dir, 'r.key');
    createKeyFile(k);
    await src.exportBundle(join(dir, 'o.sbx'), { key: { keyFile: k } });
    const { store: dst } = await fresh();
    await dst.importBundle(join(dir, 'o.sbx'), { key: { keyFile: k } });
    expect((await dst.get('x')).value.text()).toBe('y');
  });
});

describe('audit log', () => {
  it('records each export, and each secret an import writes, never a value; a dry run records nothing', async () => {
    const { store: src, dir } = await fresh();
    await src.put('a', 'secret-a');
    await src.put('b', 'secret-b');
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: PW });
    const { store: dst } = await fresh();
    await dst.put('a', 'mine');
    await dst.importBundle(file, { key: PW, dryRun: true });
    await dst.importBundle(file, { key: PW, onConflict: 'new-version' });
    const entries = async (s: Store) => {
      const out = [];
      for await (const e of s.auditEntries()) out.push(e);
      return out;
    };
    const exp = (await entries(src)).filter((e) => e.action === 'export');
    expect(exp).toHaveLength(1);
    expect(exp[0]!.detail).toContain(file);
    const imp = (await entries(dst)).filter((e) => e.action === 'import');
    expect(imp.map((e) => [e.name, e.versions])).toEqual([['a', [2]], ['b', [1]]]);
    expect(JSON.stringify(await entries(dst))).not.toContain('secret-');
    expect((await dst.verifyAudit()).ok).toBe(true);
  });
});
