/**
 * The export bundle codec (src/crypto/bundle/): the committed v1 vectors
 * in both directions, strict header decoding, key derivation and the key
 * check, and the reader's refusal of every sequence the writer never makes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { seal } from '../../../src/crypto/aead.js';
import { CHECK_BYTES, bundleHeaderHash, bundleHeaderLength, decodeBundleHeader, encodeBundleHeader, type BundleHeader } from '../../../src/crypto/bundle/header.js';
import { bundleKeyId, keyFileBundleKey, keyFileHeader, passphraseBundleKey, passphraseHeader, verifyBundleKey } from '../../../src/crypto/bundle/keys.js';
import { BundleReader, recordLength } from '../../../src/crypto/bundle/reader.js';
import { MAX_RECORD_BYTES, __TESTS, type BundleRecord, type SecretRecord, type VersionRecord } from '../../../src/crypto/bundle/records.js';
import { BundleWriter } from '../../../src/crypto/bundle/writer.js';
import { initStore, rawKey, StoreError } from '../../../src/index.js';
import { dump } from '../../helpers/dump.js';
import { tempDir } from '../../helpers/tmp.js';

interface VectorRecord {
  type: 'secret' | 'version';
  [k: string]: unknown;
}

interface Vector {
  name: string;
  kind: 'keyfile' | 'passphrase';
  keyFile?: string;
  passphrase?: string;
  scrypt?: { logN: number; r: number; p: number };
  salt: string;
  keyId?: string;
  allVersions: boolean;
  createdAt: number;
  secrets: number;
  versions: number;
  bundleKey: string;
  headerLength: number;
  headerHash: string;
  records: VectorRecord[];
  bundle: string;
}

const VECTORS = (JSON.parse(readFileSync('test/vectors/export-v1.json', 'utf8')) as { vectors: Vector[] }).vectors;
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const utf8 = new TextEncoder();

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    return `unexpected ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
  return 'no error';
}

/** The vectors' nonce scheme: the i-th seal uses 24 bytes of 0xa0 + i. */
function vectorNonces(): () => Uint8Array {
  let i = 0;
  return () => new Uint8Array(24).fill(0xa0 + i++);
}

function headerOf(v: Vector): BundleHeader {
  const fields = { allVersions: v.allVersions, createdAt: v.createdAt };
  const h = v.kind === 'keyfile' ? keyFileHeader(unhex(v.keyFile!), fields, unhex(v.salt)) : passphraseHeader(v.scrypt!, fields, unhex(v.salt));
  return { ...h, secrets: v.secrets, versions: v.versions };
}

async function keyOf(v: Vector, h: BundleHeader): Promise<Uint8Array> {
  return v.kind === 'keyfile' ? keyFileBundleKey(unhex(v.keyFile!), h) : passphraseBundleKey(utf8.encode(v.passphrase!), h);
}

/** Frames of a bundle after its header. */
function frames(bundle: Uint8Array, headerLength: number): { prefix: Uint8Array; sealed: Uint8Array }[] {
  const out = [];
  let pos = headerLength;
  while (pos < bundle.length) {
    const n = new DataView(bundle.buffer, bundle.byteOffset + pos, 4).getUint32(0);
    out.push({ prefix: bundle.subarray(pos, pos + 4), sealed: bundle.subarray(pos + 4, pos + 4 + n) });
    pos += 4 + n;
  }
  return out;
}

function readAll(key: Uint8Array, bundle: Uint8Array): BundleRecord[] {
  const length = bundleHeaderLength(bundle);
  const reader = new BundleReader(key, bundle.subarray(0, length));
  const out: BundleRecord[] = [];
  for (const f of frames(bundle, length)) {
    const r = reader.next(f.prefix, f.sealed);
    if (r.type !== 'end') out.push(r);
  }
  reader.finish();
  return out;
}

function asVector(r: BundleRecord): VectorRecord {
  if (r.type === 'secret') return { ...r };
  return { type: 'version', version: r.version, createdAt: r.createdAt, deletedAt: r.deletedAt, value: hex(r.value) };
}

describe('committed vectors (test/vectors/export-v1.json)', () => {
  for (const v of VECTORS) {
    it(`${v.name}: inputs encode to exactly the committed bytes`, async () => {
      const h = headerOf(v);
      const key = await keyOf(v, h);
      expect(hex(key)).toBe(v.bundleKey);
      if (v.keyId) expect(hex(bundleKeyId(unhex(v.keyFile!)))).toBe(v.keyId);
      const w = new BundleWriter(key, h, { nonce: vectorNonces() });
      const parts = [w.header()];
      for (const r of v.records) {
        if (r.type === 'secret') parts.push(w.secret(r as unknown as SecretRecord));
        else parts.push(w.version({ ...(r as unknown as VersionRecord), value: unhex(r.value as string) }));
      }
      parts.push(w.trailer());
      expect(Buffer.concat(parts).toString('hex')).toBe(v.bundle);
      expect(w.header().length).toBe(v.headerLength);
      expect(hex(bundleHeaderHash(w.header()))).toBe(v.headerHash);
    });

    it(`${v.name}: the committed bytes decode to the inputs`, async () => {
      const bundle = unhex(v.bundle);
      const length = bundleHeaderLength(bundle);
      expect(length).toBe(v.headerLength);
      const h = decodeBundleHeader(bundle.subarray(0, length));
      expect(h).toEqual(headerOf(v));
      const key = await keyOf(v, h);
      verifyBundleKey(key, bundle.subarray(0, length));
      expect(readAll(key, bundle).map(asVector)).toEqual(v.records);
    });
  }

  it('the key-file vector imports into a store with its versions, states, times and metadata', async () => {
    const v = VECTORS.find((x) => x.kind === 'keyfile')!;
    const dir = tempDir();
    const file = join(dir, 'v.sbx');
    writeFileSync(file, unhex(v.bundle));
    const master = rawKey(new Uint8Array(32).fill(7));
    const store = await initStore(join(dir, 's.db'), master);
    onTestFinished(() => store.close());
    await store.importBundle(file, { key: { key: unhex(v.keyFile!) } });
    const T = v.createdAt;
    expect(await dump(store, master)).toEqual([
      {
        name: 'app/db', currentVersion: 3, maxVersions: 10, custom: { owner: 'ops' }, createdAt: T - 5000, updatedAt: T - 1000,
        versions: [
          { version: 1, createdAt: T - 5000, state: 'deleted', deletedAt: T - 2000, value: hex(utf8.encode('db-1')) },
          { version: 3, createdAt: T - 1000, state: 'live', value: hex(utf8.encode('db-3')) },
        ],
      },
      {
        name: 'bin', currentVersion: 1, maxVersions: 0, custom: {}, createdAt: T - 4000, updatedAt: T - 4000,
        versions: [{ version: 1, createdAt: T - 4000, state: 'live', value: '0001feff' }],
      },
    ]);
  });
});

describe('header', () => {
  const key = new Uint8Array(32).fill(1);
  const fileKey = new Uint8Array(32).fill(2);
  const kf = { ...keyFileHeader(fileKey, { allVersions: true, createdAt: -5 }), secrets: 3, versions: 9 };
  const pp = { ...passphraseHeader({ logN: 16, r: 4, p: 2 }, { allVersions: false, createdAt: 2 ** 50 }), secrets: 0, versions: 0 };

  it('round-trips both kinds; length is known from the first 22 bytes', () => {
    for (const h of [kf, pp]) {
      const bytes = encodeBundleHeader(h, key);
      expect(bundleHeaderLength(bytes.subarray(0, 22))).toBe(bytes.length);
      expect(decodeBundleHeader(bytes)).toEqual(h);
      verifyBundleKey(key, bytes);
      expect(codeOf(() => verifyBundleKey(new Uint8Array(32), bytes))).toBe('E_WRONG_MASTER_KEY');
    }
  });

  it('every cost our exporter may write (logN 15..18 at r 8, p 1) decodes: a writer never makes what a reader refuses', () => {
    for (let logN = 15; logN <= 18; logN++) {
      const h = { ...passphraseHeader({ logN, r: 8, p: 1 }, { allVersions: false, createdAt: 0 }), secrets: 0, versions: 0 };
      expect(decodeBundleHeader(encodeBundleHeader(h, key)).scrypt).toEqual({ logN, r: 8, p: 1 });
    }
    expect(codeOf(() => passphraseHeader({ logN: 19, r: 8, p: 1 }, { allVersions: false, createdAt: 0 }))).toBe('E_UNSUPPORTED_FORMAT');
  });

  it('is strict: unknown magic, version, format or kind; cut short; bad flags or counts; scrypt out of bounds', () => {
    const bytes = encodeBundleHeader(pp, key);
    const mutate = (i: number, value: number) => {
      const b = new Uint8Array(bytes);
      b[i] = value;
      return b;
    };
    expect(codeOf(() => decodeBundleHeader(utf8.encode('{"json": true}')))).toBe('E_UNSUPPORTED_FORMAT');
    expect(codeOf(() => decodeBundleHeader(new Uint8Array(0)))).toBe('E_UNSUPPORTED_FORMAT');
    expect(codeOf(() => decodeBundleHeader(mutate(18, 0x32)))).toBe('E_UNSUPPORTED_FORMAT'); // strongbox-export/v2
    expect(codeOf(() => decodeBundleHeader(mutate(20, 0x03)))).toBe('E_UNSUPPORTED_FORMAT'); // format byte (0x01 and 0x02 are known)
    expect(codeOf(() => decodeBundleHeader(mutate(21, 0x07)))).toBe('E_UNSUPPORTED_FORMAT'); // key kind
    expect(codeOf(() => decodeBundleHeader(mutate(22, 14)))).toBe('E_UNSUPPORTED_FORMAT'); // logN below 15
    expect(codeOf(() => decodeBundleHeader(mutate(22, 23)))).toBe('E_UNSUPPORTED_FORMAT'); // logN above 22
    expect(codeOf(() => decodeBundleHeader(mutate(22, 22)))).toBe('E_UNSUPPORTED_FORMAT'); // a store may; a bundle may not (4 GiB)
    expect(codeOf(() => decodeBundleHeader(mutate(22, 19)))).toBe('E_UNSUPPORTED_FORMAT'); // above a bundle's logN cap of 18
    expect(codeOf(() => decodeBundleHeader(mutate(23, 0)))).toBe('E_UNSUPPORTED_FORMAT'); // r = 0
    expect(codeOf(() => decodeBundleHeader(mutate(41, 0x02)))).toBe('E_TAMPERED'); // unknown flag
    expect(codeOf(() => decodeBundleHeader(mutate(53, 1)))).toBe('E_TAMPERED'); // 1 secret, 0 versions
    for (let n = 17; n < bytes.length; n++) {
      const c = codeOf(() => decodeBundleHeader(bytes.subarray(0, n)));
      expect(['E_TAMPERED', 'E_UNSUPPORTED_FORMAT'], `cut at ${n}`).toContain(c);
    }
    expect(() => decodeBundleHeader(new Uint8Array([...bytes, 0]))).toThrow(RangeError);
  });

  it('the key check binds only the KDF part: a changed count still opens it (records catch that)', () => {
    const bytes = encodeBundleHeader(kf, key);
    const changed = new Uint8Array(bytes);
    changed[bytes.length - CHECK_BYTES - 1]! ^= 1;
    verifyBundleKey(key, changed);
  });
});

describe('keys', () => {
  it('key-file bundles name their key by id and refuse another key by id', () => {
    const k1 = new Uint8Array(32).fill(3);
    const k2 = new Uint8Array(32).fill(4);
    const h = keyFileHeader(k1, { allVersions: false, createdAt: 0 });
    expect(hex(h.keyId!)).toBe(hex(bundleKeyId(k1)));
    let e: unknown;
    try {
      keyFileBundleKey(k2, h);
    } catch (x) {
      e = x;
    }
    expect((e as StoreError).code).toBe('E_WRONG_MASTER_KEY');
    expect((e as StoreError).message).toContain(hex(h.keyId!));
    expect((e as StoreError).message).toContain(hex(bundleKeyId(k2)));
  });

  it('a passphrase on a key-file bundle, or a key file on a passphrase bundle, is a wrong key', async () => {
    const kf = keyFileHeader(new Uint8Array(32), { allVersions: false, createdAt: 0 });
    const pp = passphraseHeader({ logN: 15, r: 8, p: 1 }, { allVersions: false, createdAt: 0 });
    await expect(passphraseBundleKey(utf8.encode('pw'), kf)).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });
    expect(codeOf(() => keyFileBundleKey(new Uint8Array(32), pp))).toBe('E_WRONG_MASTER_KEY');
  });

  it('the same key file gives different bundle keys under different salts', () => {
    const k = new Uint8Array(32).fill(5);
    const a = keyFileHeader(k, { allVersions: false, createdAt: 0 });
    const b = keyFileHeader(k, { allVersions: false, createdAt: 0 });
    expect(hex(keyFileBundleKey(k, a))).not.toBe(hex(keyFileBundleKey(k, b)));
  });
});

describe('records', () => {
  const key = new Uint8Array(32).fill(9);
  const secret = (name: string, versionCount = 1, currentVersion = 1) => ({
    name, currentVersion, maxVersions: 0, createdAt: 1, updatedAt: 2, custom: {}, versionCount,
  });
  const version = (v: number, value = 'x') => ({ version: v, createdAt: 1, deletedAt: null, value: utf8.encode(value) });

  function header(secrets: number, versions: number, allVersions = true): BundleHeader {
    return { ...keyFileHeader(new Uint8Array(32), { allVersions, createdAt: 0 }), secrets, versions };
  }

  it('the writer refuses sequences the format forbids', () => {
    const w = new BundleWriter(key, header(2, 2));
    w.secret(secret('b'));
    expect(() => w.secret(secret('c'))).toThrow(/expected/);
    w.version(version(1));
    expect(() => w.secret(secret('a'))).toThrow(/out of order/);
    expect(() => w.trailer()).toThrow(/header states/);
    const c = new BundleWriter(key, header(1, 1, false));
    expect(() => c.secret(secret('a', 2, 2))).toThrow(/one version/);
  });

  /** Seal arbitrary plaintexts as records 0, 1, … of a header, then a trailer over them. */
  function craft(h: BundleHeader, plains: Uint8Array[], trailer?: { secrets: number; versions: number; hash?: Uint8Array }): Uint8Array {
    const head = encodeBundleHeader(h, key);
    const hh = bundleHeaderHash(head);
    const framesOut: Uint8Array[] = [];
    plains.forEach((p, i) => {
      const s = seal(key, p, __TESTS.recordAad(hh, i));
      const f = new Uint8Array(4 + s.length);
      new DataView(f.buffer).setUint32(0, s.length);
      f.set(s, 4);
      framesOut.push(f);
    });
    const hasher = sha256.create();
    for (const f of framesOut) {
      hasher.update(f.subarray(0, 4));
      hasher.update(f.subarray(f.length - 16));
    }
    const t = trailer ?? { secrets: h.secrets, versions: h.versions };
    const tp = new Uint8Array(41);
    const dv = new DataView(tp.buffer);
    tp[0] = __TESTS.TRAILER;
    dv.setUint32(1, t.secrets);
    dv.setUint32(5, t.versions);
    tp.set(t.hash ?? hasher.digest(), 9);
    const ts = seal(key, tp, __TESTS.recordAad(hh, plains.length));
    const tf = new Uint8Array(4 + ts.length);
    new DataView(tf.buffer).setUint32(0, ts.length);
    tf.set(ts, 4);
    return new Uint8Array(Buffer.concat([head, ...framesOut, tf]));
  }

  it('a well-formed crafted bundle reads (the crafting matches the writer)', () => {
    const b = craft(header(1, 1), [__TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1))]);
    expect(readAll(key, b).map((r) => r.type)).toEqual(['secret', 'version']);
  });

  const bad: [string, () => Uint8Array][] = [
    ['names out of order', () => craft(header(2, 2), [__TESTS.encodeSecret(secret('b')), __TESTS.encodeVersion(version(1)), __TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1))])],
    ['a duplicate name', () => craft(header(2, 2), [__TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1)), __TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1))])],
    ['versions out of order', () => craft(header(1, 2), [__TESTS.encodeSecret(secret('a', 2, 2)), __TESTS.encodeVersion(version(2)), __TESTS.encodeVersion(version(1))])],
    ['a version above the current one', () => craft(header(1, 1), [__TESTS.encodeSecret(secret('a', 1, 1)), __TESTS.encodeVersion(version(2))])],
    ['fewer versions than announced', () => craft(header(2, 2), [__TESTS.encodeSecret(secret('a', 2, 2)), __TESTS.encodeVersion(version(1)), __TESTS.encodeSecret(secret('b')), __TESTS.encodeVersion(version(1))])],
    ['a version first', () => craft(header(1, 1), [__TESTS.encodeVersion(version(1)), __TESTS.encodeSecret(secret('a'))])],
    ['a trailer with other counts', () => craft(header(1, 1), [__TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1))], { secrets: 2, versions: 2 })],
    ['a trailer with another hash', () => craft(header(1, 1), [__TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion(version(1))], { secrets: 1, versions: 1, hash: new Uint8Array(32) })],
    ['a deleted version in a current-only bundle', () => craft(header(1, 1, false), [__TESTS.encodeSecret(secret('a')), __TESTS.encodeVersion({ ...version(1), deletedAt: 5 })])],
    ['an unknown record type', () => craft(header(0, 0), [new Uint8Array([0x09])])],
    ['a secret with no versions', () => craft(header(1, 1), [__TESTS.encodeSecret(secret('a', 0)), __TESTS.encodeVersion(version(1))])],
    ['a name with a space', () => craft(header(1, 1), [__TESTS.encodeSecret(secret('a b')), __TESTS.encodeVersion(version(1))])],
    ['trailing bytes in a record', () => craft(header(1, 1), [new Uint8Array([...__TESTS.encodeSecret(secret('a')), 0]), __TESTS.encodeVersion(version(1))])],
  ];
  for (const [what, make] of bad) {
    it(`the reader refuses ${what} (E_TAMPERED)`, () => {
      expect(codeOf(() => readAll(key, make()))).toBe('E_TAMPERED');
    });
  }

  it('recordLength bounds the length field by the format and by the bytes left', () => {
    const len = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    expect(recordLength(len(100), 100, 0)).toBe(100);
    expect(codeOf(() => recordLength(len(101), 100, 0))).toBe('E_TAMPERED');
    expect(codeOf(() => recordLength(len(3), 100, 0))).toBe('E_TAMPERED');
    expect(codeOf(() => recordLength(len(MAX_RECORD_BYTES + 1), 2 ** 40, 0))).toBe('E_TAMPERED');
    expect(codeOf(() => recordLength(new Uint8Array(2), 100, 0))).toBe('E_TAMPERED');
  });

  it('a missing trailer is refused by finish()', () => {
    const w = new BundleWriter(key, header(1, 1));
    const head = w.header();
    const s = w.secret(secret('a'));
    const v = w.version(version(1));
    const reader = new BundleReader(key, head);
    reader.next(s.subarray(0, 4), s.subarray(4));
    reader.next(v.subarray(0, 4), v.subarray(4));
    expect(codeOf(() => reader.finish())).toBe('E_TAMPERED');
  });
});
