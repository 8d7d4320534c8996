/**
 * Content types in bundles: a v1 bundle of format 0x02 (a version record's
 * state byte may say JSON) and age records strongbox-records/v2 (a version
 * line may say "json": true), against their committed vectors
 * (test/vectors/export-format2.json, export-age-records-v2.json) in both
 * directions, imported into a store; the strict rules around them (unknown
 * bits, the flag in a bundle of a format that has none); and what a reader
 * that knows only the older formats makes of them (it refuses, naming the
 * format, instead of losing the flag).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from '@noble/hashes/sha2.js';
import { Decrypter } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { seal } from '../../../src/crypto/aead.js';
import { RecordsDecoder, encodeHeaderLine, encodeSecretLine, encodeVersionLine, type RecordsLine } from '../../../src/crypto/age-records.js';
import { bundleHeaderHash, bundleHeaderLength, decodeBundleHeader, encodeBundleHeader, type BundleHeader } from '../../../src/crypto/bundle/header.js';
import { keyFileBundleKey, keyFileHeader, verifyBundleKey } from '../../../src/crypto/bundle/keys.js';
import { Bundle, bytesSource } from '../../../src/crypto/bundle/reader.js';
import { __TESTS, type BundleRecord, type SecretRecord, type VersionRecord } from '../../../src/crypto/bundle/records.js';
import { BundleWriter } from '../../../src/crypto/bundle/writer.js';
import { importBundle, StoreError } from '../../../src/index.js';
import { dump } from '../../helpers/dump.js';
import { freshStore } from '../../helpers/store.js';
import { codeOf as codeOfHelper } from '../../helpers/errors.js';

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const utf8 = new TextEncoder();

/** The StoreError code `fn` ends with, or 'no error'. */
const codeOf = (fn: () => unknown): string => codeOfHelper(fn) ?? 'no error';

async function store() {
  const { store: s, dir } = await freshStore();
  return { store: s, dir };
}

describe('bundle format 0x02 (test/vectors/export-format2.json)', () => {
  const doc = JSON.parse(readFileSync('test/vectors/export-format2.json', 'utf8'));
  const v = doc.vectors[0];
  const header = (): BundleHeader => ({
    ...keyFileHeader(unhex(v.keyFile), { allVersions: v.allVersions, createdAt: v.createdAt }, unhex(v.salt)), secrets: v.secrets, versions: v.versions, contentTypes: true,
  });
  const records = () => (v.records as Record<string, unknown>[]).map((r) => (r.type === 'secret' ? r : { ...r, value: unhex(r.value as string) }));

  it('the inputs encode to exactly the committed bytes, whose format byte is 0x02', () => {
    let i = 0;
    const key = keyFileBundleKey(unhex(v.keyFile), header());
    expect(hex(key)).toBe(v.bundleKey);
    const w = new BundleWriter(key, header(), { nonce: () => new Uint8Array(24).fill(0xa0 + i++) });
    const parts = [w.header()];
    for (const r of records()) parts.push(r.type === 'secret' ? w.secret(r as unknown as SecretRecord) : w.version(r as unknown as VersionRecord));
    parts.push(w.trailer());
    expect(Buffer.concat(parts).toString('hex')).toBe(v.bundle);
    expect([w.header().length, hex(bundleHeaderHash(w.header())), w.header()[20]]).toEqual([v.headerLength, v.headerHash, 0x02]);
  });

  it('the committed bytes decode to the inputs, JSON marks included', () => {
    const bytes = unhex(v.bundle);
    const length = bundleHeaderLength(bytes);
    const h = decodeBundleHeader(bytes.subarray(0, length));
    expect(h).toEqual(header());
    const key = keyFileBundleKey(unhex(v.keyFile), h);
    verifyBundleKey(key, bytes.subarray(0, length));
    const read: BundleRecord[] = [];
    new Bundle(bytesSource(bytes)).walk(key, (r) => read.push(r));
    expect(read.map((r) => (r.type === 'secret' ? r : { ...r, value: hex(r.value) }))).toEqual(v.records);
  });

  it('imports into a store: each version JSON or bytes as the bundle says', async () => {
    const { store: s, dir } = await store();
    const file = join(dir, 'v.sbx');
    writeFileSync(file, unhex(v.bundle));
    await importBundle(s, file, { key: { key: unhex(v.keyFile) } });
    expect((await dump(s)).map((x) => [x.name, x.versions.map((y) => [y.version, y.state, y.json ?? false])])).toEqual([
      ['app/db', [[1, 'deleted', true], [2, 'live', false], [3, 'live', true]]],
      ['bin', [[1, 'live', false]]],
    ]);
    expect((await s.get('app/db')).value.text()).toBe('{"user":"app","password":"db-3"}');
  });

  it('a format after 0x02 is refused as unsupported (as 0x02 is by a reader that knows only 0x01), not as damage', () => {
    const next = unhex(v.bundle);
    next[20] = 0x03;
    const e = (() => {
      try {
        bundleHeaderLength(next);
      } catch (x) {
        return x as StoreError;
      }
      return undefined;
    })();
    expect(e).toMatchObject({ code: 'E_UNSUPPORTED_FORMAT', message: expect.stringContaining('0x03') });
  });
});

describe('version records: the state byte', () => {
  const key = new Uint8Array(32).fill(9);
  const h = (contentTypes: boolean): BundleHeader => ({
    ...keyFileHeader(new Uint8Array(32), { allVersions: true, createdAt: 0 }), secrets: 1, versions: 1, ...(contentTypes ? { contentTypes: true as const } : {}),
  });
  const secret = { name: 'a', currentVersion: 1, maxVersions: 0, createdAt: 1, updatedAt: 2, custom: {}, versionCount: 1 };

  /** A bundle of one secret and one version whose state byte is `state`. */
  function crafted(header: BundleHeader, state: number, deletedAt = 0): Uint8Array {
    const version = __TESTS.encodeVersion({ version: 1, createdAt: 1, deletedAt: null, value: utf8.encode('{}') });
    version[13] = state;
    new DataView(version.buffer).setBigInt64(14, BigInt(deletedAt));
    const head = encodeBundleHeader(header, key);
    const hh = bundleHeaderHash(head);
    const frame = (p: Uint8Array, i: number) => {
      const s = seal(key, p, __TESTS.recordAad(hh, i));
      const f = new Uint8Array(4 + s.length);
      new DataView(f.buffer).setUint32(0, s.length);
      f.set(s, 4);
      return f;
    };
    const frames = [frame(__TESTS.encodeSecret(secret), 0), frame(version, 1)];
    const hasher = sha256.create();
    for (const f of frames) {
      hasher.update(f.subarray(0, 4));
      hasher.update(f.subarray(f.length - 16));
    }
    const t = new Uint8Array(41);
    t[0] = __TESTS.TRAILER;
    new DataView(t.buffer).setUint32(1, 1);
    new DataView(t.buffer).setUint32(5, 1);
    t.set(hasher.digest(), 9);
    return new Uint8Array(Buffer.concat([head, ...frames, frame(t, 2)]));
  }
  const versionOf = (b: Uint8Array) => {
    const out: BundleRecord[] = [];
    new Bundle(bytesSource(b)).walk(key, (r) => out.push(r));
    return out[1] as VersionRecord;
  };

  it('format 0x02: bit 0x01 deleted, bit 0x02 JSON, in any combination', () => {
    expect(versionOf(crafted(h(true), 0x00))).toMatchObject({ deletedAt: null });
    expect(versionOf(crafted(h(true), 0x00)).json).toBeUndefined();
    expect(versionOf(crafted(h(true), 0x02))).toMatchObject({ deletedAt: null, json: true });
    expect(versionOf(crafted(h(true), 0x03, 5))).toMatchObject({ deletedAt: 5, json: true });
  });

  for (const [what, header, state] of [
    ['the JSON bit in a format-0x01 bundle', h(false), 0x02],
    ['an unknown bit in a format-0x02 bundle', h(true), 0x04],
    ['a live JSON version with a deletion time', h(true), 0x02],
  ] as const) {
    it(`refuses ${what} (E_TAMPERED)`, () => {
      expect(codeOf(() => versionOf(crafted(header, state, what.includes('deletion') ? 9 : 0)))).toBe('E_TAMPERED');
    });
  }

  it('the writer refuses a JSON version in a bundle of format 0x01', () => {
    const w = new BundleWriter(key, h(false));
    w.secret(secret);
    expect(() => w.version({ version: 1, createdAt: 1, deletedAt: null, value: utf8.encode('{}'), json: true })).toThrow(/format 0x02/);
  });
});

describe('age records strongbox-records/v2 (test/vectors/export-age-records-v2.json)', () => {
  const doc = JSON.parse(readFileSync('test/vectors/export-age-records-v2.json', 'utf8'));
  const v = doc.vectors[0];
  const ms = (iso: unknown) => Date.parse(iso as string);
  const typed = (): RecordsLine[] => (v.records as Record<string, unknown>[]).map((r): RecordsLine => {
    if (r.type === 'header') {
      return { type: 'header', allVersions: r.allVersions as boolean, createdAt: ms(r.created), secrets: r.secrets as number, versions: r.versions as number, contentTypes: true };
    }
    if (r.type === 'secret') {
      return {
        type: 'secret', name: r.name as string, currentVersion: r.currentVersion as number, maxVersions: r.maxVersions as number,
        createdAt: ms(r.created), updatedAt: ms(r.updated), custom: r.custom as Record<string, string>, versionCount: r.versionCount as number,
      };
    }
    return {
      type: 'version', version: r.version as number, createdAt: ms(r.created), deletedAt: r.deleted === null ? null : ms(r.deleted),
      value: unhex(r.value as string), ...(r.json === true ? { json: true as const } : {}),
    };
  });

  it('the records encode to exactly the committed plaintext, and decode back to the records', () => {
    let name = '';
    const lines = typed().map((r) => {
      if (r.type === 'header') return encodeHeaderLine(r);
      if (r.type === 'secret') return (name = r.name), encodeSecretLine(r);
      return encodeVersionLine(name, r);
    });
    expect(Buffer.concat(lines).toString('utf8')).toBe(v.plaintext);
    const d = new RecordsDecoder();
    expect(v.plaintext.split('\n').slice(0, -1).map((l: string) => d.next(utf8.encode(l)))).toEqual(typed());
    d.finish();
  });

  it('typage opens the file with the identity, giving exactly the plaintext; it imports with every flag', async () => {
    const d = new Decrypter();
    d.addIdentity(doc.identity);
    const file = new Uint8Array(Buffer.from(v.file, 'base64'));
    expect(await d.decrypt(file, 'text')).toBe(v.plaintext);
    const { store: s, dir } = await store();
    const path = join(dir, 'v.age');
    writeFileSync(path, file);
    await importBundle(s, path, { identities: [{ identity: doc.identity }] });
    expect((await dump(s)).map((x) => [x.name, x.versions.map((y) => [y.version, y.json ?? false])])).toEqual([
      ['app/db', [[1, true], [2, false], [3, true]]],
      ['bin', [[1, false]]],
      ['note', [[1, false]]],
    ]);
  });

  const header1 = '{"type":"header","format":"strongbox-records/v1","created":"2025-01-01T12:00:00.000Z","allVersions":true,"secrets":1,"versions":1}';
  const header2 = header1.replace('records/v1', 'records/v2');
  const secretLine = '{"type":"secret","name":"a","currentVersion":1,"maxVersions":0,"created":"2025-01-01T12:00:00.000Z","updated":"2025-01-01T12:00:00.000Z","custom":{},"versionCount":1}';
  const versionLine = (json: string) => `{"type":"version","name":"a","version":1,"created":"2025-01-01T12:00:00.000Z","deleted":null,${json}"value":"{}"}`;
  const decode = (lines: string[]) => () => {
    const d = new RecordsDecoder();
    for (const l of lines) d.next(utf8.encode(l));
    d.finish();
  };

  it('"json" is only in v2 files, and only as true (else E_TAMPERED)', () => {
    expect(codeOf(decode([header2, secretLine, versionLine('"json":true,')]))).toBe('no error');
    expect(codeOf(decode([header2, secretLine, versionLine('')]))).toBe('no error');
    expect(codeOf(decode([header1, secretLine, versionLine('"json":true,')]))).toBe('E_TAMPERED');
    for (const bad of ['"json":false,', '"json":1,', '"json":"true",', '"json":null,']) {
      expect(codeOf(decode([header2, secretLine, versionLine(bad)])), bad).toBe('E_TAMPERED');
    }
  });

  it('a later records format is refused as unsupported, naming both this program reads', () => {
    const d = new RecordsDecoder();
    const e = (() => {
      try {
        d.next(utf8.encode(header1.replace('records/v1', 'records/v3')));
      } catch (x) {
        return x as StoreError;
      }
      return undefined;
    })();
    expect(e).toMatchObject({ code: 'E_UNSUPPORTED_FORMAT', message: expect.stringMatching(/strongbox-records\/v1 and strongbox-records\/v2/) });
  });
});
