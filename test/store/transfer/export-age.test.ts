/**
 * Age bundles through the library: export to several age recipients, each
 * identity alone imports, a wrong identity / a damaged or cut file / crafted
 * records are refused with stable codes and leave the target store exactly
 * as it was, v1 bundles still import, identity files are treated as keys.
 * The age layer is typage's own (age-encryption), also used here to craft files.
 */
import { chmodSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Decrypter, Encrypter, generateHybridIdentity, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import {
  MAX_AGE_BUNDLE_BYTES, ageRecipientsOfFile, createAgeIdentityFile, detectImportFormat, readAgeRecipientsFile, type InitOptions, type Store,
} from '../../../src/index.js';
import { RECORDS_FORMAT } from '../../../src/crypto/age-records.js';
import { dump, exportable } from '../../helpers/dump.js';
import { rejectionCode as code, rejectionError as caught } from '../../helpers/errors.js';
import { freshStore } from '../../helpers/store.js';
import { tempDir } from '../../helpers/tmp.js';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
/** Custom metadata with an own "__proto__" key, which must stay an ordinary key through JSON. */
const ODD_CUSTOM = JSON.parse('{"owner": "ops", "__proto__": "odd key"}') as Record<string, string>;

function clock(start = T0) {
  let t = start;
  return () => (t += 1000);
}

const fresh = (options: InitOptions = {}) => freshStore({ now: clock(), ...options });

/** Live, deleted and destroyed versions, metadata, a binary value, an empty one, and text JSON must escape. */
async function populated(): Promise<{ store: Store; dir: string }> {
  const { store, dir } = await fresh();
  await store.put('app/db', 'db-1');
  await store.put('app/db', 'db-2');
  await store.put('app/db', 'db-3');
  await store.delete('app/db', { versions: [2] });
  await store.destroy('app/db', [1]);
  await store.setMetadata('app/db', { maxVersions: 10, custom: ODD_CUSTOM });
  await store.put('app/api', new Uint8Array([0, 1, 2, 255, 254]));
  await store.put('app/note', 'line one\nline "two"\t\\ é 🔑');
  await store.put('gone', 'x');
  await store.delete('gone');
  await store.put('other/z', '', { allowEmpty: true });
  return { store, dir };
}

/** A new identity file in `dir` and its recipient. */
async function identity(dir: string, name: string): Promise<{ file: string; recipient: string }> {
  const file = join(dir, `${name}.txt`);
  return { file, recipient: await createAgeIdentityFile(file) };
}

/** The byte length of an age file's header (through the MAC line). */
function headerLength(file: Uint8Array): number {
  const text = Buffer.from(file).toString('latin1');
  const mac = text.indexOf('\n--- ');
  return text.indexOf('\n', mac + 1) + 1;
}

/** An age file of `plaintext` (crafted records) sealed by typage to `recipient`. */
async function sealRaw(recipient: string, plaintext: string): Promise<Uint8Array> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  return e.encrypt(plaintext);
}

describe('age bundles: round trip', () => {
  it('three recipients: each identity alone imports every version, state, time and the metadata', async () => {
    const { store: src, dir } = await populated();
    const ids = await Promise.all(['alice', 'bob', 'carol'].map((n) => identity(dir, n)));
    const file = join(dir, 'team.age');
    const r = await src.exportBundle(file, { recipients: ids.map((i) => i.recipient), allVersions: true });
    expect(r).toMatchObject({ format: 'age', secrets: 5, versions: 6, allVersions: true, skippedNotLive: [], skippedDestroyed: 1, armored: false });
    expect(r.recipients).toEqual(ids.map((i) => i.recipient));
    expect(r.keyKind).toBeUndefined();
    expect(r.bytes).toBe(statSync(file).size);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');
    expect(detectImportFormat(file)).toBe('age');

    for (const id of ids) {
      const { store: dst } = await fresh();
      const imp = await dst.importBundle(file, { identities: [{ identityFile: id.file }] });
      expect(imp).toMatchObject({ format: 'age', created: ['app/api', 'app/db', 'app/note', 'gone', 'other/z'], versions: 6 });
      expect(await dump(dst)).toEqual(exportable(await dump(src)));
    }
  });

  it('the plaintext is JSON Lines a person can read with age alone: header, then each secret and its versions', async () => {
    const { store: src, dir } = await populated();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [recipient] });
    const d = new Decrypter();
    d.addIdentity(readFileSync(idFile, 'latin1').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!);
    const text = await d.decrypt(new Uint8Array(readFileSync(file)), 'text');
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ type: 'header', format: RECORDS_FORMAT, allVersions: false, secrets: 4, versions: 4 });
    const db = lines.find((l) => l.type === 'secret' && l.name === 'app/db')!;
    const want = (await dump(src)).find((s) => s.name === 'app/db')!;
    expect(db).toEqual({
      type: 'secret', name: 'app/db', currentVersion: 3, maxVersions: 10, created: new Date(want.createdAt).toISOString(),
      updated: new Date(want.updatedAt).toISOString(), custom: ODD_CUSTOM, versionCount: 1,
    });
    expect(lines.find((l) => l.type === 'version' && l.name === 'app/db')).toEqual({
      type: 'version', name: 'app/db', version: 3, created: new Date(want.versions[2]!.createdAt).toISOString(), deleted: null, value: 'db-3',
    });
    const values = lines.filter((l) => l.type === 'version').map((l) => [l.name, l.value ?? `base64:${l.base64 as string}`]);
    expect(values).toEqual([
      ['app/api', 'base64:AAEC//4='],
      ['app/db', 'db-3'],
      ['app/note', 'line one\nline "two"\t\\ é 🔑'],
      ['other/z', ''],
    ]);
  });

  it('armored (age -a): recognised by its first line, imported the same', async () => {
    const { store: src, dir } = await populated();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age.asc');
    const r = await src.exportBundle(file, { recipients: [recipient], armor: true, allVersions: true });
    expect(r.armored).toBe(true);
    const text = readFileSync(file, 'latin1');
    expect(text.startsWith('-----BEGIN AGE ENCRYPTED FILE-----\n')).toBe(true);
    expect(text.endsWith('-----END AGE ENCRYPTED FILE-----\n')).toBe(true);
    expect(detectImportFormat(file)).toBe('age');
    const { store: dst } = await fresh();
    await dst.importBundle(file, { identities: [{ identityFile: idFile }] });
    expect(await dump(dst)).toEqual(exportable(await dump(src)));
  });

  it('identities given as text, several tried in turn; a key option for v1 bundles is ignored for age', async () => {
    const { store: src, dir } = await populated();
    const a = await identity(dir, 'a');
    const b = await identity(dir, 'b');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [b.recipient] });
    const { store: dst } = await fresh();
    const r = await dst.importBundle(file, {
      key: { passphrase: 'for v1 bundles only' },
      identities: [{ identityFile: a.file }, { identity: readFileSync(b.file) }],
    });
    expect(r.created).toHaveLength(4);
  });

  it('typage\'s post-quantum hybrid recipients (age1pq1…) work beside X25519 ones', async () => {
    const { store: src, dir } = await populated();
    const pq = await generateHybridIdentity();
    const x = await identity(dir, 'x');
    const file = join(dir, 'pq.age');
    await src.exportBundle(file, { recipients: [await identityToRecipient(pq), x.recipient] });
    expect(readFileSync(file, 'latin1')).toContain('-> mlkem768x25519 ');
    for (const identities of [[{ identity: `# pq\n${pq}\n` }], [{ identityFile: x.file }]]) {
      const { store: dst } = await fresh();
      expect((await dst.importBundle(file, { identities })).created).toHaveLength(4);
    }
  });

  it('an empty selection makes a valid empty age bundle; duplicate recipients are dropped', async () => {
    const { store: src, dir } = await fresh();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'empty.age');
    const r = await src.exportBundle(file, { recipients: [recipient, recipient] });
    expect(r).toMatchObject({ secrets: 0, versions: 0, recipients: [recipient] });
    const { store: dst } = await fresh();
    expect(await dst.importBundle(file, { identities: [{ identityFile: idFile }] })).toMatchObject({ created: [], versions: 0 });
  });

  it('conflict policies and dry run apply as for v1 bundles', async () => {
    const { store: src, dir } = await populated();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [recipient] });
    const { store: dst } = await fresh();
    await dst.put('app/db', 'mine');
    const before = await dump(dst);
    const dry = await dst.importBundle(file, { identities: [{ identityFile: idFile }], onConflict: 'overwrite', dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, overwritten: ['app/db'], created: ['app/api', 'app/note', 'other/z'] });
    expect(await dump(dst)).toEqual(before);
    const skip = await dst.importBundle(file, { identities: [{ identityFile: idFile }] });
    expect(skip.skipped).toEqual(['app/db']);
    expect((await dst.get('app/db')).value.text()).toBe('mine');
    await dst.importBundle(file, { identities: [{ identityFile: idFile }], onConflict: 'new-version' });
    expect((await dst.get('app/db')).value.text()).toBe('db-3');
  });

  it('v1 bundles still import beside age ones, and need their own key', async () => {
    const { store: src, dir } = await populated();
    const file = join(dir, 'out.sbx');
    await src.exportBundle(file, { key: { passphrase: 'pw', scrypt: { logN: 15 } }, allVersions: true });
    const { file: idFile } = await identity(dir, 'me');
    const { store: dst } = await fresh();
    expect(await code(dst.importBundle(file, { identities: [{ identityFile: idFile }] }))).toBe('E_MASTER_KEY');
    await dst.importBundle(file, { key: { passphrase: 'pw' }, identities: [{ identityFile: idFile }] });
    expect(await dump(dst)).toEqual(exportable(await dump(src)));
  });
});

describe('age bundles: refused, nothing written', () => {
  /** A target store holding a secret of its own, and its state to compare with after each refusal. */
  async function target() {
    const { store } = await fresh();
    await store.put('app/db', 'mine');
    return { store, before: await dump(store) };
  }

  it('a wrong identity is E_WRONG_MASTER_KEY, naming no key; no identity at all is E_MASTER_KEY', async () => {
    const { store: src, dir } = await populated();
    const alice = await identity(dir, 'alice');
    const mallory = await identity(dir, 'mallory');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [alice.recipient] });
    const { store: dst, before } = await target();
    const e = await caught(dst.importBundle(file, { identities: [{ identityFile: mallory.file }], onConflict: 'overwrite' }));
    expect(e.code).toBe('E_WRONG_MASTER_KEY');
    expect(e.message).toContain('1 recipient stanza(s): X25519');
    const secret = readFileSync(mallory.file, 'latin1').match(/AGE-SECRET-KEY-1\w+/)![0];
    expect(`${e.message} ${e.hints.join(' ')}`).not.toContain(secret);
    expect(await code(dst.importBundle(file, {}))).toBe('E_MASTER_KEY');
    expect(await code(dst.importBundle(file, { identities: [] }))).toBe('E_MASTER_KEY');
    expect(await dump(dst)).toEqual(before);
  });

  it('a file age encrypted with a passphrase reads as a wrong key, with a hint', async () => {
    const { dir } = await fresh();
    const { file: idFile } = await identity(dir, 'me');
    const e = new Encrypter();
    e.setPassphrase('pw');
    e.setScryptWorkFactor(10);
    const file = join(dir, 'pw.age');
    writeFileSync(file, await e.encrypt('x'));
    const err = await caught((await target()).store.importBundle(file, { identities: [{ identityFile: idFile }] }));
    expect(err.code).toBe('E_WRONG_MASTER_KEY');
    expect(err.hints.join(' ')).toContain('passphrase');
  });

  it('a flipped bit in the header MAC, the nonce or the payload is E_TAMPERED; in a recipient stanza it reads as a wrong key', async () => {
    const { store: src, dir } = await populated();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [recipient], allVersions: true });
    const good = new Uint8Array(readFileSync(file));
    const h = headerLength(good);
    const text = Buffer.from(good).toString('latin1');
    const macAt = text.indexOf('\n--- ') + 6;
    const stanzaBodyAt = text.indexOf('\n', text.indexOf('-> X25519')) + 3;
    const { store: dst, before } = await target();
    const cases: [string, number, string][] = [
      ['MAC', macAt, 'E_TAMPERED'],
      ['nonce', h + 3, 'E_TAMPERED'],
      ['first payload byte', h + 16, 'E_TAMPERED'],
      ['payload middle', h + 16 + Math.floor((good.length - h - 16) / 2), 'E_TAMPERED'],
      ['payload tag', good.length - 1, 'E_TAMPERED'],
      ['stanza body', stanzaBodyAt, 'E_WRONG_MASTER_KEY'],
    ];
    for (const [where, at, want] of cases) {
      const bad = new Uint8Array(good);
      // A base64 character for another one in the header (still valid base64); one bit flipped elsewhere.
      bad[at] = at < h ? (bad[at] === 0x41 ? 0x42 : 0x41) : bad[at]! ^ 0x01;
      const damaged = join(dir, `bad-${at}.age`);
      writeFileSync(damaged, bad);
      expect(`${where}: ${await code(dst.importBundle(damaged, { identities: [{ identityFile: idFile }], onConflict: 'overwrite' }))}`).toBe(`${where}: ${want}`);
    }
    expect(await dump(dst)).toEqual(before);
  });

  it('cut short anywhere — in the header, before the nonce, inside a chunk, at a 64 KiB chunk boundary — or with bytes appended: E_TAMPERED', async () => {
    const { store: src, dir } = await fresh();
    // A value larger than one 64 KiB STREAM chunk, so that the payload has a full chunk and a last one.
    await src.put('big', new Uint8Array(100_000).fill(0x61));
    await src.put('small', 's');
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [recipient] });
    const good = new Uint8Array(readFileSync(file));
    const h = headerLength(good);
    const { store: dst, before } = await target();
    const chunkBoundary = h + 16 + 65536 + 16;
    expect(good.length).toBeGreaterThan(chunkBoundary + 16);
    for (const length of [30, h - 5, h, h + 8, h + 16, h + 1000, chunkBoundary, good.length - 1]) {
      const cut = join(dir, `cut-${length}.age`);
      writeFileSync(cut, good.subarray(0, length));
      expect(`${length}: ${await code(dst.importBundle(cut, { identities: [{ identityFile: idFile }], onConflict: 'overwrite' }))}`).toBe(`${length}: E_TAMPERED`);
    }
    const longer = join(dir, 'longer.age');
    writeFileSync(longer, Buffer.concat([good, Buffer.from([0])]));
    expect(await code(dst.importBundle(longer, { identities: [{ identityFile: idFile }], onConflict: 'overwrite' }))).toBe('E_TAMPERED');
    expect(await dump(dst)).toEqual(before);
  });

  it('authentic age files holding bad records are refused line by line (anyone can seal to a public key)', async () => {
    const { dir } = await fresh();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const { store: dst, before } = await target();
    const head = (secrets: number, versions: number, allVersions = false) =>
      JSON.stringify({ type: 'header', format: RECORDS_FORMAT, created: '2025-01-01T00:00:00.000Z', allVersions, secrets, versions });
    const secret = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({
      type: 'secret', name, currentVersion: 1, maxVersions: 0, created: '2025-01-01T00:00:00.000Z', updated: '2025-01-01T00:00:00.000Z',
      custom: {}, versionCount: 1, ...extra,
    });
    const version = (name: string, extra: Record<string, unknown> = {}) => JSON.stringify({
      type: 'version', name, version: 1, created: '2025-01-01T00:00:00.000Z', deleted: null, value: 'v', ...extra,
    });
    const cases: [string, string, string][] = [
      ['valid (control)', `${head(1, 1)}\n${secret('a')}\n${version('a')}\n`, 'ok'],
      ['not records', 'hello\n', 'E_UNSUPPORTED_FORMAT'],
      ['a newer records format', `${JSON.stringify({ type: 'header', format: 'strongbox-records/v9' })}\n`, 'E_UNSUPPORTED_FORMAT'],
      ['empty', '', 'E_TAMPERED'],
      ['no final line feed', `${head(1, 1)}\n${secret('a')}\n${version('a')}`, 'E_TAMPERED'],
      ['a blank line', `${head(1, 1)}\n\n${secret('a')}\n${version('a')}\n`, 'E_TAMPERED'],
      ['fewer records than the header states', `${head(2, 2)}\n${secret('a')}\n${version('a')}\n`, 'E_TAMPERED'],
      ['more records than the header states', `${head(1, 1)}\n${secret('a')}\n${version('a')}\n${secret('b')}\n${version('b')}\n`, 'E_TAMPERED'],
      ['names out of order', `${head(2, 2)}\n${secret('b')}\n${version('b')}\n${secret('a')}\n${version('a')}\n`, 'E_TAMPERED'],
      ['a version of another secret', `${head(1, 1)}\n${secret('a')}\n${version('b')}\n`, 'E_TAMPERED'],
      ['an unknown field', `${head(1, 1)}\n${secret('a', { extra: 1 })}\n${version('a')}\n`, 'E_TAMPERED'],
      ['value and base64 both', `${head(1, 1)}\n${secret('a')}\n${version('a', { base64: 'dg==' })}\n`, 'E_TAMPERED'],
      ['non-canonical base64', `${head(1, 1)}\n${secret('a')}\n${JSON.stringify({ ...JSON.parse(version('a')), value: undefined, base64: 'dg' })}\n`, 'E_TAMPERED'],
      ['a time not in ISO form', `${head(1, 1)}\n${secret('a', { created: '2025-01-01' })}\n${version('a')}\n`, 'E_TAMPERED'],
      ['an impossible date', `${head(1, 1)}\n${secret('a', { created: '2025-02-30T00:00:00.000Z' })}\n${version('a')}\n`, 'E_TAMPERED'],
      ['a lone surrogate', `${head(1, 1)}\n${secret('a')}\n${version('a', { value: '\ud800' })}\n`, 'E_TAMPERED'],
      ['a deleted version in a current-only bundle', `${head(1, 1)}\n${secret('a')}\n${version('a', { deleted: '2025-01-01T00:00:00.000Z' })}\n`, 'E_TAMPERED'],
      ['a version above the current one', `${head(1, 1, true)}\n${secret('a')}\n${version('a', { version: 2 })}\n`, 'E_TAMPERED'],
      ['a name with a space', `${head(1, 1)}\n${secret('a b')}\n${version('a b')}\n`, 'E_TAMPERED'],
      ['a secret name the store refuses', `${head(1, 1)}\n${secret('a//b')}\n${version('a//b')}\n`, 'E_INVALID_IMPORT'],
    ];
    for (const [what, plaintext, want] of cases) {
      const file = join(dir, `crafted-${cases.findIndex((c) => c[0] === what)}.age`);
      writeFileSync(file, await sealRaw(recipient, plaintext));
      const options = { identities: [{ identityFile: idFile }], dryRun: want === 'ok' };
      const got = want === 'ok' ? ((await dst.importBundle(file, options)), 'ok') : await code(dst.importBundle(file, options));
      expect(`${what}: ${got}`).toBe(`${what}: ${want}`);
    }
    expect(await dump(dst)).toEqual(before);
  });

  it('a JSON Lines parse error never quotes the line (it may hold a value)', async () => {
    const { dir } = await fresh();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const head = JSON.stringify({ type: 'header', format: RECORDS_FORMAT, created: '2025-01-01T00:00:00.000Z', allVersions: false, secrets: 1, versions: 1 });
    const file = join(dir, 'bad.age');
    writeFileSync(file, await sealRaw(recipient, `${head}\n{"type":"secret","name":"a", hunter2-secret\n`));
    const e = await caught((await target()).store.importBundle(file, { identities: [{ identityFile: idFile }] }));
    expect(e.code).toBe('E_TAMPERED');
    expect(e.message).toContain('line 2');
    expect(e.message).not.toContain('hunter2');
  });

  it('an age file larger than the cap is refused before it is read', async () => {
    const { dir } = await fresh();
    const { file: idFile } = await identity(dir, 'me');
    const file = join(dir, 'huge.age');
    writeFileSync(file, 'age-encryption.org/v1\n');
    truncateSync(file, MAX_AGE_BUNDLE_BYTES + 1); // sparse: no disk used
    expect(await code((await target()).store.importBundle(file, { identities: [{ identityFile: idFile }] }))).toBe('E_INVALID_IMPORT');
  });

  it('an age bundle is not a plaintext file', async () => {
    const { store: src, dir } = await populated();
    const { recipient } = await identity(dir, 'me');
    const file = join(dir, 'x.json');
    await src.exportBundle(file, { recipients: [recipient], armor: true });
    expect(await code((await target()).store.importPlain(file, { format: 'json' }))).toBe('E_USAGE');
  });
});

describe('age recipients and identity files', () => {
  it('export checks every recipient first, writing no file: not age, an SSH key, none, or a key option as well', async () => {
    const { store, dir } = await populated();
    const { recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    const refused: [string, Promise<unknown>][] = [
      ['garbage', store.exportBundle(file, { recipients: [recipient, 'age1notakey'] })],
      ['ssh', store.exportBundle(file, { recipients: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEx me@host'] })],
      ['identity as recipient', store.exportBundle(file, { recipients: [(await generateX25519Identity())] })],
      ['none', store.exportBundle(file, { recipients: [] })],
      ['both', store.exportBundle(file, { recipients: [recipient], key: { passphrase: 'x' } })],
      ['armor for v1', store.exportBundle(file, { key: { passphrase: 'x' }, armor: true })],
      ['no key', store.exportBundle(file, {})],
    ];
    for (const [what, p] of refused) expect(`${what}: ${await code(p)}`).toBe(`${what}: E_USAGE`);
    expect(existsSync(file)).toBe(false);
    // A secret key given where a public one belongs is not echoed.
    const id = await generateX25519Identity();
    const e = await caught(store.exportBundle(file, { recipients: [id] }));
    expect(e.message).toContain(`"${id}"`); // recipients are shown: this one is visibly not age1…
  });

  it('identity files: created 0600 in age-keygen\'s layout, never overwritten; read back by typage and by -y', async () => {
    const dir = tempDir();
    const file = join(dir, 'sub', 'me.txt');
    const recipient = await createAgeIdentityFile(file);
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'sub')).mode & 0o777).toBe(0o700);
    const lines = readFileSync(file, 'latin1').split('\n');
    expect(lines[0]).toMatch(/^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines[1]).toBe(`# public key: ${recipient}`);
    expect(await identityToRecipient(lines[2]!)).toBe(recipient);
    expect(await ageRecipientsOfFile(file)).toEqual([recipient]);
    expect(await code(createAgeIdentityFile(file))).toBe('E_USAGE');
    expect(await ageRecipientsOfFile(file)).toEqual([recipient]);
  });

  it('an identity file readable by others, missing, or without a valid identity is refused without echoing it', async () => {
    const { store: src, dir } = await populated();
    const { file: idFile, recipient } = await identity(dir, 'me');
    const file = join(dir, 'out.age');
    await src.exportBundle(file, { recipients: [recipient] });
    const { store: dst } = await fresh();
    const importWith = (identityFile: string) => dst.importBundle(file, { identities: [{ identityFile }] });

    chmodSync(idFile, 0o640);
    expect(await code(importWith(idFile))).toBe('E_INSECURE_KEYFILE');
    chmodSync(idFile, 0o600);
    expect(await code(importWith(join(dir, 'absent.txt')))).toBe('E_MASTER_KEY');
    expect(await code(importWith(dir))).toBe('E_MASTER_KEY');

    const real = readFileSync(idFile, 'latin1').match(/AGE-SECRET-KEY-1\w+/)![0];
    const broken = `${real.slice(0, -3)}QQQ`; // a bad checksum
    const cases = [`# only a comment\n\n`, `${broken}\n`, `${real}x\n`, '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n', 'age-encryption.org/v1\n-> scrypt'];
    for (const [i, content] of cases.entries()) {
      const bad = join(dir, `bad-${i}.txt`);
      writeFileSync(bad, content, { mode: 0o600 });
      const e = await caught(importWith(bad));
      expect(`${i}: ${e.code}`).toBe(`${i}: E_MASTER_KEY`);
      expect(e.message).not.toContain(broken);
      expect(e.message).not.toContain(real);
    }
    expect(await dump(dst)).toEqual([]);
  });

  it('recipients files are read as age -R reads them: one per line, comments and blank lines skipped', () => {
    const dir = tempDir();
    const file = join(dir, 'team.txt');
    writeFileSync(file, '# the team\nage1aaa\n\n  age1bbb  \r\n# age1ccc\n');
    expect(readAgeRecipientsFile(file)).toEqual(['age1aaa', 'age1bbb']);
  });
});
