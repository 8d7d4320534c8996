/**
 * The pkcs11 master-key provider against a real SoftHSM2 token (no mocks).
 * One SoftHSM config for the whole file: the module reads it once per process.
 * Without SoftHSM2 installed these tests fail (run scripts/install-softhsm.sh).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pkcs11, type Pkcs11Options } from '../../../../src/crypto/master/pkcs11/source.js';
import { __TESTS } from '../../../../src/crypto/master/pkcs11/test-hooks.js';
import { randomBytes } from '../../../../src/crypto/random.js';
import { initStore, openStore, rawKey, StoreError, type MasterParams } from '../../../../src/index.js';
import { softHsm, type SoftHsm, countKeys as countKeysOn } from '../../../helpers/softhsm.js';
import { tempDir } from '../../../helpers/tmp.js';

// Distinctive PINs, so a test can prove no message ever carries one.
const PIN = 'pin-Canary-7431';
const WRONG_PIN = 'wrong-Canary-9921';
const SO = 'so-Canary-5678';

const MAIN = 'sb-main';
const PIN_TOKEN = 'sb-pin';
const POLICY = 'sb-policy';

let hsm: SoftHsm;
const seenErrors: StoreError[] = [];

beforeAll(() => {
  hsm = softHsm();
  for (const label of [MAIN, PIN_TOKEN, POLICY]) hsm.initToken(label, PIN, SO);
});

afterEach(() => {
  // Every test closes what it opened: the module is finalized and unloaded again.
  expect(__TESTS.loadedModules()).toBe(0);
});

function source(over: Partial<Pkcs11Options> = {}) {
  return pkcs11({ module: hsm.module, tokenLabel: MAIN, keyLabel: 'master', pin: PIN, ...over });
}

async function errorOf(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    seenErrors.push(e);
    return e;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

function storePath(): string {
  return join(tempDir(), 'store.db');
}

/** The AES key objects labelled `keyLabel` on `tokenLabel`, read through PKCS#11. */
const countKeys = (tokenLabel: string, keyLabel: string) => countKeysOn(hsm.module, tokenLabel, PIN, keyLabel);

describe('pkcs11 master key (SoftHSM2)', () => {
  it('initStore, put, get, close, openStore: the store round-trips through the token', async () => {
    const path = storePath();
    const store = await initStore(path, source({ keyLabel: 'roundtrip', create: true }));
    try {
      expect((await store.status()).masterKind).toBe('pkcs11');
      await store.put('db/password', 'hunter2');
      await store.put('db/password', 'hunter3');
      expect((await store.get('db/password')).value.text()).toBe('hunter3');
    } finally {
      await store.close();
    }

    let params: MasterParams | undefined;
    const again = await openStore(path, (p) => {
      params = p;
      return source({ keyLabel: 'roundtrip' });
    });
    try {
      expect((await again.get('db/password')).value.text()).toBe('hunter3');
      expect((await again.get('db/password', { version: 1 })).value.text()).toBe('hunter2');
      await again.put('api/token', 'xyz');
    } finally {
      await again.close();
    }
    expect(params).toEqual({ kind: 'pkcs11', tokenLabel: MAIN, keyLabel: 'roundtrip', mechanism: 'AES-GCM', moduleHint: hsm.module });
    expect(JSON.stringify(params)).not.toContain(PIN);

    // The labels recorded in the store are enough: the caller gives module and PIN only.
    const third = await openStore(path, pkcs11({ module: hsm.module, pin: PIN }));
    try {
      expect((await third.get('api/token')).value.text()).toBe('xyz');
    } finally {
      await third.close();
    }
  });

  it('finds the key again at the next open and never makes a second one', async () => {
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'once', create: true }))).close();
    expect(await countKeys(MAIN, 'once')).toBe(1);
    for (let i = 0; i < 2; i++) {
      // create: true at unlock changes nothing: unlock never generates.
      const s = await openStore(path, source({ keyLabel: 'once', create: true }));
      await s.close();
    }
    // A second store given the same label at init shares the key instead of generating another.
    const other = storePath();
    await (await initStore(other, source({ keyLabel: 'once', create: true }))).close();
    expect(await countKeys(MAIN, 'once')).toBe(1);
  });

  it('keeps the key inside the token: sensitive, never extractable, CKA_VALUE unreadable', async () => {
    await (await initStore(storePath(), source({ keyLabel: 'attrs', create: true }))).close();
    await __TESTS.withSession({ module: hsm.module, tokenLabel: MAIN, pin: PIN }, (lib, session, p) => {
      lib.C_FindObjectsInit(session, [
        { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
        { type: p.CKA_LABEL, value: 'attrs' },
      ]);
      const [key] = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      expect(key).toBeDefined();
      const attrs = lib.C_GetAttributeValue(session, key!, [
        { type: p.CKA_SENSITIVE },
        { type: p.CKA_EXTRACTABLE },
        { type: p.CKA_ALWAYS_SENSITIVE },
        { type: p.CKA_NEVER_EXTRACTABLE },
        { type: p.CKA_TOKEN },
        { type: p.CKA_PRIVATE },
        { type: p.CKA_KEY_TYPE },
        { type: p.CKA_VALUE_LEN },
        { type: p.CKA_WRAP },
      ]);
      const v = new Map(attrs.map((a) => [a.type, a.value]));
      const bool = (t: number) => v.get(t)![0] === 1;
      expect(bool(p.CKA_SENSITIVE)).toBe(true);
      expect(bool(p.CKA_EXTRACTABLE)).toBe(false);
      expect(bool(p.CKA_ALWAYS_SENSITIVE)).toBe(true);
      expect(bool(p.CKA_NEVER_EXTRACTABLE)).toBe(true);
      expect(bool(p.CKA_TOKEN)).toBe(true);
      expect(bool(p.CKA_PRIVATE)).toBe(true);
      expect(bool(p.CKA_WRAP)).toBe(false);
      expect(v.get(p.CKA_KEY_TYPE)!.readUIntLE(0, 4)).toBe(p.CKK_AES);
      expect(v.get(p.CKA_VALUE_LEN)!.readUIntLE(0, 4)).toBe(32);
      expect(() => lib.C_GetAttributeValue(session, key!, [{ type: p.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
    });
  });

  it('wraps inside the token: 0x01 ‖ iv ‖ ciphertext ‖ tag, fresh IV each time, bound to the AAD', async () => {
    const { key } = await source({ keyLabel: 'blobs', create: true }).create(randomBytes(16));
    try {
      const dk = randomBytes(32);
      const dkCopy = dk.slice();
      const aad = new TextEncoder().encode('strongbox/keywrap/v1 test');
      const a = await key.wrap(dk, aad);
      const b = await key.wrap(dk, aad);
      expect(dk).toEqual(dkCopy);
      expect(a.length).toBe(1 + 12 + 32 + 16);
      expect(a[0]).toBe(0x01);
      expect(Buffer.from(a.subarray(1, 13))).not.toEqual(Buffer.from(b.subarray(1, 13)));
      expect(Buffer.from(a.subarray(13, 45))).not.toEqual(Buffer.from(dk));
      expect(await key.unwrap(a, aad)).toEqual(dk);
      expect(await key.unwrap(b, aad)).toEqual(dk);
      // The master check is 29 bytes: other lengths round-trip too.
      const check = randomBytes(29);
      expect(await key.unwrap(await key.wrap(check, aad), aad)).toEqual(check);
    } finally {
      key.close();
    }
  });

  it('refuses any wrapped blob with a flipped byte, another AAD, or another length', async () => {
    const { key } = await source({ keyLabel: 'blobs', create: true }).create(randomBytes(16));
    try {
      const dk = randomBytes(32);
      const aad = new TextEncoder().encode('aad');
      const wrapped = await key.wrap(dk, aad);
      for (let i = 0; i < wrapped.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const bad = wrapped.slice();
          bad[i]! ^= bit;
          await expect(key.unwrap(bad, aad), `byte ${i} bit ${bit}`).rejects.toThrow();
        }
      }
      await expect(key.unwrap(wrapped, new TextEncoder().encode('aae'))).rejects.toThrow();
      await expect(key.unwrap(wrapped, new Uint8Array(0))).rejects.toThrow();
      await expect(key.unwrap(wrapped.subarray(0, wrapped.length - 1), aad)).rejects.toThrow();
      await expect(key.unwrap(new Uint8Array([...wrapped, 0]), aad)).rejects.toThrow();
      await expect(key.unwrap(wrapped.subarray(0, 29), aad)).rejects.toThrow();
      await expect(key.unwrap(new Uint8Array(0), aad)).rejects.toThrow();
      const otherFormat = wrapped.slice();
      otherFormat[0] = 0x02;
      expect((await errorOf(key.unwrap(otherFormat, aad))).code).toBe('E_UNSUPPORTED_FORMAT');
      // Failed decryptions leave no operation stuck on the session.
      expect(await key.unwrap(wrapped, aad)).toEqual(dk);
    } finally {
      key.close();
    }
    await expect(key.unwrap(new Uint8Array(61), new Uint8Array(1))).rejects.toThrow(/after close/);
  });

  it('wrong PIN: E_WRONG_MASTER_KEY at open and at init, and the PIN is never echoed', async () => {
    const path = storePath();
    await (await initStore(path, source({ tokenLabel: PIN_TOKEN, create: true }))).close();

    const atOpen = await errorOf(openStore(path, pkcs11({ module: hsm.module, pin: WRONG_PIN })));
    expect(atOpen.code).toBe('E_WRONG_MASTER_KEY');
    expect(atOpen.message).toMatch(/HSM refused the PIN/);

    const other = storePath();
    const atInit = await errorOf(initStore(other, source({ tokenLabel: PIN_TOKEN, pin: new TextEncoder().encode(WRONG_PIN), create: true })));
    expect(atInit.code).toBe('E_WRONG_MASTER_KEY');
    expect(existsSync(other)).toBe(false);

    // The right PIN still works (SoftHSM2 does not lock after two failures).
    await (await openStore(path, pkcs11({ module: hsm.module, pin: PIN }))).close();
  });

  it('no token with that label: E_MASTER_KEY naming the labels seen', async () => {
    const e = await errorOf(initStore(storePath(), source({ tokenLabel: 'no-such-token', create: true })));
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toContain('"no-such-token"');
    expect(e.message).toContain(`"${MAIN}"`);
    expect(e.message).toContain(`"${PIN_TOKEN}"`);
  });

  it('module cannot be loaded: E_MASTER_KEY naming the path', async () => {
    const missing = join(tempDir(), 'nope', 'libmissing.so');
    const e = await errorOf(initStore(storePath(), source({ module: missing, create: true })));
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toBe(`cannot load PKCS#11 module ${missing}`);

    const notALibrary = join(tempDir(), 'fake.so');
    writeFileSync(notALibrary, 'not a shared object');
    expect((await errorOf(initStore(storePath(), source({ module: notALibrary, create: true })))).code).toBe('E_MASTER_KEY');

    // At open too.
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'modpath', create: true }))).close();
    expect((await errorOf(openStore(path, pkcs11({ module: missing, pin: PIN })))).code).toBe('E_MASTER_KEY');
  });

  it('key not found: E_MASTER_KEY at open, and at init without create (no file left behind)', async () => {
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'present', create: true }))).close();
    const e = await errorOf(openStore(path, source({ keyLabel: 'absent' })));
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toContain('"absent"');

    const other = storePath();
    expect((await errorOf(initStore(other, source({ keyLabel: 'absent-too' })))).code).toBe('E_MASTER_KEY');
    expect(existsSync(other)).toBe(false);
    expect(await countKeys(MAIN, 'absent-too')).toBe(0);
  });

  it('the store\'s key object deleted from the token: E_MASTER_KEY at open, whose hint says the key is gone (not "create it at init")', async () => {
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'to-be-deleted', create: true }))).close();
    await __TESTS.withSession({ module: hsm.module, tokenLabel: MAIN, pin: PIN }, (lib, session, p) => {
      lib.C_FindObjectsInit(session, [{ type: p.CKA_CLASS, value: p.CKO_SECRET_KEY }, { type: p.CKA_LABEL, value: 'to-be-deleted' }]);
      const found = lib.C_FindObjects(session, 2);
      lib.C_FindObjectsFinal(session);
      expect(found.length).toBe(1);
      lib.C_DestroyObject(session, found[0]!);
    });
    const e = await errorOf(openStore(path, pkcs11({ module: hsm.module, pin: PIN })));
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toContain('"to-be-deleted"');
    const hints = e.hints.join('\n');
    expect(hints).not.toMatch(/at init/);
    expect(hints).toMatch(/no longer holds it/);
    expect(hints).toMatch(/restore the token/);
    // At init without create, the hint is to ask for the key to be created.
    const fresh = await errorOf(initStore(storePath(), source({ keyLabel: 'never-made' })));
    expect(fresh.hints.join('\n')).toMatch(/create: true/);
  });

  it('a PIN that is not a string or bytes is refused before any PKCS#11 call', async () => {
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'pin-type', create: true }))).close();
    for (const pin of [1234, 1.5, null, {}]) {
      const e = (() => {
        try {
          pkcs11({ module: hsm.module, pin } as unknown as Pkcs11Options);
        } catch (x) {
          return x as StoreError;
        }
        return undefined;
      })();
      expect(e?.code, String(pin)).toBe('E_MASTER_KEY');
      expect(__TESTS.loadedModules()).toBe(0); // the module was never loaded
    }
    await (await openStore(path, pkcs11({ module: hsm.module, pin: new TextEncoder().encode(PIN) }))).close();
  });

  it('another key of the token is a wrong master key, found at open', async () => {
    const path = storePath();
    await (await initStore(path, source({ keyLabel: 'key-a', create: true }))).close();
    await (await initStore(storePath(), source({ keyLabel: 'key-b', create: true }))).close();
    expect((await errorOf(openStore(path, source({ keyLabel: 'key-b' })))).code).toBe('E_WRONG_MASTER_KEY');
  });

  it('refuses a key that could leave the token', async () => {
    await __TESTS.withSession({ module: hsm.module, tokenLabel: POLICY, pin: PIN }, (lib, session, p) => {
      lib.C_GenerateKey(session, { mechanism: p.CKM_AES_KEY_GEN }, [
        { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
        { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
        { type: p.CKA_TOKEN, value: true },
        { type: p.CKA_LABEL, value: 'weak' },
        { type: p.CKA_VALUE_LEN, value: 32 },
        { type: p.CKA_SENSITIVE, value: false },
        { type: p.CKA_EXTRACTABLE, value: true },
        { type: p.CKA_ENCRYPT, value: true },
        { type: p.CKA_DECRYPT, value: true },
      ]);
    });
    const path = storePath();
    const e = await errorOf(initStore(path, source({ tokenLabel: POLICY, keyLabel: 'weak', create: true })));
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toMatch(/can be extracted/);
    expect(existsSync(path)).toBe(false);
  });

  it('several stores on one token at once: closing one keeps the other logged in', async () => {
    const p1 = storePath();
    const p2 = storePath();
    const s1 = await initStore(p1, source({ keyLabel: 'shared', create: true }));
    const s2 = await initStore(p2, source({ keyLabel: 'shared-2', create: true }));
    try {
      await s1.put('a', '1');
      await s2.put('b', '2');
      expect(__TESTS.loadedModules()).toBe(1);
      await s1.close();
      await s2.put('b', '3');
      expect((await s2.get('b')).value.text()).toBe('3');
    } finally {
      await s1.close();
      await s2.close();
    }
    // The master keys themselves: the token's login outlives the first close (C_Logout would end it for all).
    const { key: k1 } = await source({ keyLabel: 'shared', create: true }).create(randomBytes(16));
    const { key: k2 } = await source({ keyLabel: 'shared-2', create: true }).create(randomBytes(16));
    try {
      const aad = new TextEncoder().encode('aad');
      const w2 = await k2.wrap(randomBytes(32), aad);
      k1.close();
      await k2.unwrap(w2, aad);
      await k2.wrap(randomBytes(32), aad);
    } finally {
      k1.close();
      k2.close();
    }
    const r1 = await openStore(p1, pkcs11({ module: hsm.module, pin: PIN }));
    const r2 = await openStore(p2, pkcs11({ module: hsm.module, pin: PIN }));
    try {
      expect((await r1.get('a')).value.text()).toBe('1');
      expect((await r2.get('b')).value.text()).toBe('3');
    } finally {
      await r2.close();
      await r1.close();
    }
  });

  it('checks the family first: a pkcs11 store refuses a raw key and the reverse', async () => {
    const hsmStore = storePath();
    await (await initStore(hsmStore, source({ keyLabel: 'family', create: true }))).close();
    expect((await errorOf(openStore(hsmStore, rawKey(randomBytes(32))))).code).toBe('E_WRONG_MASTER_KEY');

    const rawStore = storePath();
    await (await initStore(rawStore, rawKey(randomBytes(32)))).close();
    expect((await errorOf(openStore(rawStore, source({ keyLabel: 'family' })))).code).toBe('E_WRONG_MASTER_KEY');
  });

  it('rejects bad options and unknown recorded parameters', async () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof StoreError ? e.code : String(e);
      }
      return undefined;
    };
    expect(codeOf(() => source({ module: '' }))).toBe('E_MASTER_KEY');
    expect(codeOf(() => source({ pin: '' }))).toBe('E_MASTER_KEY');
    expect(codeOf(() => source({ tokenLabel: '   ' }))).toBe('E_MASTER_KEY');
    expect(codeOf(() => source({ tokenLabel: 'x'.repeat(33) }))).toBe('E_MASTER_KEY');

    const noLabels = pkcs11({ module: hsm.module, pin: PIN, create: true });
    expect((await errorOf(noLabels.create(randomBytes(16)))).code).toBe('E_MASTER_KEY');

    const params = { kind: 'pkcs11', tokenLabel: MAIN, keyLabel: 'master', mechanism: 'AES-KW' } as const;
    expect((await errorOf(source().unlock(randomBytes(16), params))).code).toBe('E_UNSUPPORTED_FORMAT');
    expect((await errorOf(source().unlock(randomBytes(16), { kind: 'pkcs11', mechanism: 'AES-GCM' }))).code).toBe('E_UNSUPPORTED_FORMAT');

    // A source creates or unlocks once: the PIN copy is gone after.
    const once = source({ keyLabel: 'once-only', create: true });
    const { key } = await once.create(randomBytes(16));
    key.close();
    expect((await errorOf(once.create(randomBytes(16)))).code).toBe('E_MASTER_KEY');
  });

  it('never put a PIN in any error message, hint or stack', () => {
    expect(seenErrors.length).toBeGreaterThan(10);
    for (const e of seenErrors) {
      const text = [e.message, ...e.hints, e.stack ?? '', String(e.cause ?? '')].join('\n');
      for (const pin of [PIN, WRONG_PIN, SO]) expect(text).not.toContain(pin);
    }
  });
});
