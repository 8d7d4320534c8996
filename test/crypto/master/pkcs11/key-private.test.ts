/**
 * A key that is sensitive and non-extractable but public (CKA_PRIVATE false)
 * can be used by anyone who can open a session on the token, without the
 * PIN: every data key it wraps could be unwrapped without logging in. Such
 * a key is refused, at init as the other policy refusals are.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pkcs11 } from '../../../../src/crypto/master/pkcs11/source.js';
import { __TESTS } from '../../../../src/crypto/master/pkcs11/test-hooks.js';
import { initStore, StoreError } from '../../../../src/index.js';
import { softHsm, type SoftHsm } from '../../../helpers/softhsm.js';
import { tempDir } from '../../../helpers/tmp.js';

const PIN = 'pin-Canary-2207';
const TOKEN = 'sb-private';

let hsm: SoftHsm;

beforeAll(() => {
  hsm = softHsm();
  hsm.initToken(TOKEN, PIN, 'so-Canary-1');
});

/** An AES-256 key as Strongbox makes it, but with CKA_PRIVATE as given. */
async function makeKey(label: string, isPrivate: boolean): Promise<void> {
  await __TESTS.withSession({ module: hsm.module, tokenLabel: TOKEN, pin: PIN }, (lib, session, p) => {
    lib.C_GenerateKey(session, { mechanism: p.CKM_AES_KEY_GEN }, [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
      { type: p.CKA_TOKEN, value: true },
      { type: p.CKA_LABEL, value: label },
      { type: p.CKA_VALUE_LEN, value: 32 },
      { type: p.CKA_PRIVATE, value: isPrivate },
      { type: p.CKA_SENSITIVE, value: true },
      { type: p.CKA_EXTRACTABLE, value: false },
      { type: p.CKA_ENCRYPT, value: true },
      { type: p.CKA_DECRYPT, value: true },
    ]);
  });
}

describe('the PKCS#11 key policy: CKA_PRIVATE', () => {
  it('refuses a sensitive, non-extractable key that is not private (usable without the PIN): E_MASTER_KEY naming CKA_PRIVATE, no store made', async () => {
    await makeKey('public-key', false);
    const path = join(tempDir(), 'store.db');
    const e = await initStore(path, pkcs11({ module: hsm.module, tokenLabel: TOKEN, keyLabel: 'public-key', pin: PIN, create: true })).then(
      async (made) => void (await made.close()),
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('E_MASTER_KEY');
    expect((e as StoreError).message).toMatch(/CKA_PRIVATE/);
    expect((e as StoreError).message).toContain('"public-key"');
    expect(existsSync(path)).toBe(false);
    expect(__TESTS.loadedModules()).toBe(0);
  });

  it('accepts the same key made private', async () => {
    await makeKey('private-key', true);
    const store = await initStore(join(tempDir(), 'store.db'), pkcs11({ module: hsm.module, tokenLabel: TOKEN, keyLabel: 'private-key', pin: PIN, create: true }));
    await store.close();
    expect(__TESTS.loadedModules()).toBe(0);
  });
});
