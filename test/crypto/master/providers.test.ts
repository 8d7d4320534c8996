import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MasterKey, MasterKeySource, MasterParams } from '../../../src/crypto/master/master-key.js';
import { checkFamily } from '../../../src/crypto/master/master-key.js';
import { createKeyFile, keyFile, readKeyFile } from '../../../src/crypto/master/keyfile.js';
import { passphrase } from '../../../src/crypto/master/passphrase.js';
import { envKey, rawKey } from '../../../src/crypto/master/raw-key.js';
import { randomBytes } from '../../../src/crypto/random.js';
import { codeOf, codeOfAsync, errorOfAsync } from '../../helpers/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const FAST = { scrypt: { logN: 15 } };
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** The key made at create opens what the key found again at unlock wrapped, and vice versa. */
async function expectSameKey(a: MasterKey, b: MasterKey): Promise<void> {
  const dk = randomBytes(32);
  const aad = new TextEncoder().encode('aad');
  expect(await b.unwrap(await a.wrap(dk, aad), aad)).toEqual(dk);
  expect(await a.unwrap(await b.wrap(dk, aad), aad)).toEqual(dk);
}

async function expectDifferentKey(a: MasterKey, b: MasterKey): Promise<void> {
  const aad = new TextEncoder().encode('aad');
  const wrapped = await a.wrap(randomBytes(32), aad);
  await expect(b.unwrap(wrapped, aad)).rejects.toThrow();
}

function writeKey(path: string, content: string | Uint8Array, mode = 0o600): void {
  writeFileSync(path, content, { mode });
  chmodSync(path, mode); // the umask may have masked bits at create
}

describe('key file provider', () => {
  it('create: true makes a 0600 file holding 32 random bytes in base64, then unlocks with it', async () => {
    const dir = tempDir();
    const path = join(dir, 'sub', 'master.key');
    const storeId = randomBytes(16);
    const { key, params } = await keyFile(path, { create: true }).create(storeId);
    expect(params).toEqual({ kind: 'keyfile', keyfile: path }); // the path, absolute, so later commands find the key
    expect(key.kind).toBe('keyfile');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const text = readFileSync(path, 'utf8');
    expect(text).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(Buffer.from(text.trim(), 'base64').length).toBe(32);
    const again = await keyFile(path).unlock(storeId, params);
    await expectSameKey(key, again);
    // A second create with create:true must not overwrite the existing key.
    const { key: third } = await keyFile(path, { create: true }).create(storeId);
    expect(readFileSync(path, 'utf8')).toBe(text);
    await expectSameKey(key, third);
  });

  it('two created key files hold different keys', async () => {
    const dir = tempDir();
    createKeyFile(join(dir, 'a.key'));
    createKeyFile(join(dir, 'b.key'));
    expect(readFileSync(join(dir, 'a.key'), 'utf8')).not.toBe(readFileSync(join(dir, 'b.key'), 'utf8'));
  });

  it('createKeyFile refuses to overwrite an existing file (E_IO)', () => {
    const dir = tempDir();
    const path = join(dir, 'k');
    writeKey(path, 'keep me');
    expect(codeOf(() => createKeyFile(path))).toBe('E_IO');
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('without create, a missing file is E_MASTER_KEY at create and at unlock', async () => {
    const dir = tempDir();
    const path = join(dir, 'missing.key');
    expect(await codeOfAsync(() => keyFile(path).create(randomBytes(16)))).toBe('E_MASTER_KEY');
    expect(await codeOfAsync(() => keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' }))).toBe('E_MASTER_KEY');
    // create:true applies to init only: unlock never makes a file.
    expect(await codeOfAsync(() => keyFile(path, { create: true }).unlock(randomBytes(16), { kind: 'keyfile' }))).toBe('E_MASTER_KEY');
    expect(existsSync(path)).toBe(false);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o666, 0o610, 0o601]) {
    it(`refuses a key file of mode ${mode.toString(8)} (E_INSECURE_KEYFILE)`, async () => {
      const dir = tempDir();
      const path = join(dir, 'k');
      writeKey(path, `${b64(randomBytes(32))}\n`, mode);
      expect(await codeOfAsync(() => keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' }))).toBe('E_INSECURE_KEYFILE');
      expect(codeOf(() => readKeyFile(path))).toBe('E_INSECURE_KEYFILE');
    });
  }

  it('accepts modes 0600 and 0400', async () => {
    const dir = tempDir();
    for (const mode of [0o600, 0o400]) {
      const path = join(dir, `k${mode.toString(8)}`);
      const raw = randomBytes(32);
      writeKey(path, `${b64(raw)}\n`, mode);
      expect(readKeyFile(path)).toEqual(raw);
    }
  });

  it('the insecure-file error names the path and mode, never the key', async () => {
    const dir = tempDir();
    const path = join(dir, 'k');
    const text = b64(randomBytes(32));
    writeKey(path, text, 0o644);
    const e = await errorOfAsync(() => keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' }));
    expect(e.code).toBe('E_INSECURE_KEYFILE');
    expect(e.message).toContain(path);
    expect(e.message).toContain('0644');
    expect(e.message).not.toContain(text);
  });

  const wrong: [string, string][] = [
    ['31 bytes', `${Buffer.alloc(31, 7).toString('base64')}\n`],
    ['33 bytes', `${Buffer.alloc(33, 7).toString('base64')}\n`],
    ['64 bytes', Buffer.alloc(64, 7).toString('base64')],
    ['an empty file', ''],
    ['not base64', 'this is not a key at all, friend!!!!!!!!!!!\n'],
    ['32 raw bytes, not base64', 'A'.repeat(31) + '!'],
  ];
  for (const [what, content] of wrong) {
    it(`refuses a key file holding ${what} (E_MASTER_KEY), without quoting it`, async () => {
      const dir = tempDir();
      const path = join(dir, 'k');
      writeKey(path, content);
      const e = await errorOfAsync(() => keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' }));
      expect(e.code).toBe('E_MASTER_KEY');
      if (content.trim().length > 0) expect(e.message).not.toContain(content.trim());
    });
  }

  it('refuses a directory as key file (E_MASTER_KEY)', async () => {
    const dir = tempDir();
    const path = join(dir, 'd');
    mkdirSync(path, { mode: 0o700 });
    expect(await codeOfAsync(() => keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' }))).toBe('E_MASTER_KEY');
  });

  it('one key file gives each store id its own KEK', async () => {
    const dir = tempDir();
    const path = join(dir, 'k');
    createKeyFile(path);
    const a = await keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' });
    const b = await keyFile(path).unlock(randomBytes(16), { kind: 'keyfile' });
    await expectDifferentKey(a, b);
  });
});

describe('env provider', () => {
  it('an unset or empty variable is E_MASTER_KEY', async () => {
    expect(await codeOfAsync(() => envKey('STORE_MASTER_KEY', {}).create(randomBytes(16)))).toBe('E_MASTER_KEY');
    expect(await codeOfAsync(() => envKey('STORE_MASTER_KEY', { STORE_MASTER_KEY: '' }).create(randomBytes(16)))).toBe('E_MASTER_KEY');
    expect(await codeOfAsync(() => envKey('MY_KEY', { STORE_MASTER_KEY: b64(randomBytes(32)) }).unlock(randomBytes(16), { kind: 'env' }))).toBe(
      'E_MASTER_KEY',
    );
  });

  it('a wrong-length or non-base64 value is E_MASTER_KEY and the message does not quote it', async () => {
    for (const value of [b64(randomBytes(16)), b64(randomBytes(48)), 'not-base64-CANARY-env!!']) {
      const e = await errorOfAsync(() => envKey('K', { K: value }).create(randomBytes(16)));
      expect(e.code).toBe('E_MASTER_KEY');
      expect(e.message).not.toContain(value);
      expect(e.hints.join('\n')).not.toContain(value);
    }
  });

  it('a valid key creates and unlocks the same master key; another key differs', async () => {
    const storeId = randomBytes(16);
    const env = { STORE_MASTER_KEY: b64(randomBytes(32)) };
    const { key, params } = await envKey(undefined, env).create(storeId);
    expect(params).toEqual({ kind: 'env' });
    await expectSameKey(key, await envKey(undefined, env).unlock(storeId, params));
    await expectDifferentKey(key, await envKey(undefined, { STORE_MASTER_KEY: b64(randomBytes(32)) }).unlock(storeId, params));
  });

  it('reads process.env.STORE_MASTER_KEY by default', async () => {
    const saved = process.env.STORE_MASTER_KEY;
    try {
      delete process.env.STORE_MASTER_KEY;
      expect(await codeOfAsync(() => envKey().create(randomBytes(16)))).toBe('E_MASTER_KEY');
      process.env.STORE_MASTER_KEY = b64(randomBytes(32));
      await expect(envKey().create(randomBytes(16))).resolves.toBeTruthy();
    } finally {
      if (saved === undefined) delete process.env.STORE_MASTER_KEY;
      else process.env.STORE_MASTER_KEY = saved;
    }
  });

  it('a key file and the env var with the same bytes are the same master key (one family)', async () => {
    const dir = tempDir();
    const raw = randomBytes(32);
    const path = join(dir, 'k');
    writeKey(path, `${b64(raw)}\n`);
    const storeId = randomBytes(16);
    const { key, params } = await keyFile(path).create(storeId);
    await expectSameKey(key, await envKey('K', { K: b64(raw) }).unlock(storeId, params));
    await expectSameKey(key, await rawKey(raw).unlock(storeId, params));
  });
});

describe('raw key provider', () => {
  it('refuses a key that is not 32 bytes (E_MASTER_KEY)', () => {
    expect(codeOf(() => rawKey(new Uint8Array(31)))).toBe('E_MASTER_KEY');
    expect(codeOf(() => rawKey(new Uint8Array(0)))).toBe('E_MASTER_KEY');
  });

  it('copies the key: changing or wiping the caller\'s array afterwards does not change the master key', async () => {
    const raw = randomBytes(32);
    const keep = raw.slice();
    const src = rawKey(raw);
    raw.fill(0);
    const storeId = randomBytes(16);
    const a = await src.unlock(storeId, { kind: 'raw' });
    const b = await rawKey(keep).unlock(storeId, { kind: 'raw' });
    await expectSameKey(a, b);
  });

  it('a closed master key cannot be used', async () => {
    const { key } = await rawKey(randomBytes(32)).create(randomBytes(16));
    key.close();
    await expect(key.wrap(randomBytes(32), new Uint8Array(1))).rejects.toThrow();
  });
});

describe('passphrase provider', () => {
  it('an empty passphrase is E_MASTER_KEY', () => {
    expect(codeOf(() => passphrase(''))).toBe('E_MASTER_KEY');
    expect(codeOf(() => passphrase(new Uint8Array(0)))).toBe('E_MASTER_KEY');
  });

  it('scrypt cost below logN 15 or absurd r/p is refused at create (E_UNSUPPORTED_FORMAT)', async () => {
    for (const scrypt of [{ logN: 14 }, { logN: 10 }, { r: 0 }, { r: 1000 }, { p: 0 }, { p: 1000 }, { logN: 40 }]) {
      expect(await codeOfAsync(() => passphrase('pw', { scrypt }).create(randomBytes(16)))).toBe('E_UNSUPPORTED_FORMAT');
    }
  });

  it('create keeps kdf, cost and a 16-byte salt in the params (never the passphrase); unlock finds the same key', async () => {
    const storeId = randomBytes(16);
    const { key, params } = await passphrase('CANARY-pass-1', FAST).create(storeId);
    expect(params).toMatchObject({ kind: 'passphrase', kdf: 'scrypt', logN: 15, r: 8, p: 1 });
    expect(Buffer.from(params.salt as string, 'base64').length).toBe(16);
    expect(JSON.stringify(params)).not.toContain('CANARY');
    await expectSameKey(key, await passphrase('CANARY-pass-1').unlock(storeId, params));
  });

  it('a wrong passphrase gives a different key', async () => {
    const storeId = randomBytes(16);
    const { key, params } = await passphrase('right', FAST).create(storeId);
    await expectDifferentKey(key, await passphrase('wrong').unlock(storeId, params));
  });

  it('two creates with the same passphrase use different salts', async () => {
    const a = await passphrase('same', FAST).create(randomBytes(16));
    const b = await passphrase('same', FAST).create(randomBytes(16));
    expect(a.params.salt).not.toBe(b.params.salt);
  });

  it('unlock refuses crafted parameters: low cost, missing or short salt, other kdf (E_UNSUPPORTED_FORMAT)', async () => {
    const storeId = randomBytes(16);
    const { params } = await passphrase('pw', FAST).create(storeId);
    const crafted: MasterParams[] = [
      { ...params, logN: 10 },
      { ...params, logN: 30 },
      { ...params, r: 4096 },
      { ...params, p: 1e6 },
      { ...params, logN: 'x' },
      { ...params, salt: undefined },
      { ...params, salt: b64(randomBytes(8)) },
      { ...params, salt: '!!!' },
      { ...params, kdf: 'argon2id' },
    ];
    for (const p of crafted) {
      expect(await codeOfAsync(() => passphrase('pw').unlock(storeId, p)), JSON.stringify(p)).toBe('E_UNSUPPORTED_FORMAT');
    }
  });

  it('accepts the passphrase as bytes, and copies it', async () => {
    const storeId = randomBytes(16);
    const pw = new TextEncoder().encode('bytes-pass');
    const src = passphrase(pw, FAST);
    expect(new TextDecoder().decode(pw)).toBe('bytes-pass');
    const { key, params } = await src.create(storeId);
    expect(new TextDecoder().decode(pw)).toBe('bytes-pass');
    await expectSameKey(key, await passphrase('bytes-pass').unlock(storeId, params));
  });
});

describe('master key families', () => {
  const sources: [string, () => MasterKeySource, MasterParams][] = [
    ['passphrase', () => passphrase('pw'), { kind: 'keyfile' }],
    ['keyfile', () => keyFile('/nonexistent/never-read'), { kind: 'passphrase', kdf: 'scrypt' }],
    ['env', () => envKey('K', {}), { kind: 'passphrase', kdf: 'scrypt' }],
  ];
  for (const [what, make, params] of sources) {
    it(`a ${what} source refuses a ${params.kind} store before any work (E_WRONG_MASTER_KEY)`, async () => {
      expect(await codeOfAsync(() => make().unlock(randomBytes(16), params))).toBe('E_WRONG_MASTER_KEY');
    });
  }

  it('keyfile, env and raw are one family', () => {
    expect(() => checkFamily('env', { kind: 'keyfile' })).not.toThrow();
    expect(() => checkFamily('raw', { kind: 'env' })).not.toThrow();
    expect(codeOf(() => checkFamily('pkcs11', { kind: 'raw' }))).toBe('E_WRONG_MASTER_KEY');
  });
});
