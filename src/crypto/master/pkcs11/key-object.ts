/**
 * The master key object inside the token: found by label, or generated at
 * create as AES-256, private, sensitive, never extractable, encrypt/decrypt
 * only; a key found is refused unless it meets that same policy.
 *
 * Searching and generating are two calls, and a token has no way to make a
 * label unique: two processes creating one label at once both find nothing
 * and both generate. So a key just generated is looked for again, and when
 * the label names another key too, the one made here is destroyed before
 * anything uses it and the create fails (E_LOCKED: run again). On one host,
 * creations of a label also take turns (create-lock.ts), since a token's view
 * of another process's new key may lag while both write.
 */
import type * as Pkcs11Js from 'pkcs11js';
import { StoreError } from '../../../errors.js';
import { masterKeyMissing } from '../master-key.js';
import { ckrOf, type Handle, type P11 } from './module.js';
import type { TokenSession } from './session.js';
import { withCreateLock } from './create-lock.js';

const KEY_BYTES = 32;

function keyTemplate(p11: P11, keyLabel: string): Pkcs11Js.Template {
  return [
    { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
    { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
    { type: p11.CKA_TOKEN, value: true },
    { type: p11.CKA_LABEL, value: keyLabel },
  ];
}

/** The AES key objects labelled `keyLabel` (at most 2: enough to see an ambiguity). */
function findKeys(t: TokenSession, keyLabel: string): Handle[] {
  const { lib, p11 } = t.module;
  try {
    lib.C_FindObjectsInit(t.session, keyTemplate(p11, keyLabel));
    try {
      return lib.C_FindObjects(t.session, 2);
    } finally {
      lib.C_FindObjectsFinal(t.session);
    }
  } catch (e) {
    throw masterKeyMissing(`cannot search token ${JSON.stringify(t.tokenLabel)} for keys: ${ckrOf(e)}`);
  }
}

/** Make the master key inside the token: AES-256, sensitive, never extractable, encrypt/decrypt only. */
function generateKey(t: TokenSession, keyLabel: string): Handle {
  const { lib, p11 } = t.module;
  try {
    return lib.C_GenerateKey(t.session, { mechanism: p11.CKM_AES_KEY_GEN }, [
      ...keyTemplate(p11, keyLabel),
      { type: p11.CKA_VALUE_LEN, value: KEY_BYTES },
      { type: p11.CKA_PRIVATE, value: true },
      { type: p11.CKA_SENSITIVE, value: true },
      { type: p11.CKA_EXTRACTABLE, value: false },
      { type: p11.CKA_ENCRYPT, value: true },
      { type: p11.CKA_DECRYPT, value: true },
      // Least privilege: the key wraps through AES-GCM encrypt/decrypt only.
      { type: p11.CKA_WRAP, value: false },
      { type: p11.CKA_UNWRAP, value: false },
      { type: p11.CKA_SIGN, value: false },
      { type: p11.CKA_VERIFY, value: false },
      { type: p11.CKA_DERIVE, value: false },
    ]);
  } catch (e) {
    throw masterKeyMissing(`cannot generate key ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}: ${ckrOf(e)}`);
  }
}

function attrBool(v: Buffer | undefined): boolean | undefined {
  return v && v.length > 0 ? v[0] !== 0 : undefined;
}

/** A CK_ULONG as the platform lays it out (little-endian here), small values only. */
function attrULong(v: Buffer | undefined): number | undefined {
  return v && v.length > 0 ? v.readUIntLE(0, Math.min(v.length, 6)) : undefined;
}

/** Refuse a key Strongbox would not have made: extractable, not sensitive, public, not AES-256, or unable to encrypt. */
function checkKeyPolicy(t: TokenSession, key: Handle, keyLabel: string): void {
  const { lib, p11 } = t.module;
  let values: Map<number, Buffer>;
  try {
    const got = lib.C_GetAttributeValue(t.session, key, [
      { type: p11.CKA_SENSITIVE },
      { type: p11.CKA_EXTRACTABLE },
      { type: p11.CKA_PRIVATE },
      { type: p11.CKA_VALUE_LEN },
      { type: p11.CKA_ENCRYPT },
      { type: p11.CKA_DECRYPT },
    ]);
    values = new Map(got.map((a) => [a.type, a.value]));
  } catch (e) {
    throw masterKeyMissing(`cannot read the attributes of key ${JSON.stringify(keyLabel)}: ${ckrOf(e)}`);
  }
  const where = `PKCS#11 key ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}`;
  if (attrBool(values.get(p11.CKA_SENSITIVE)) !== true || attrBool(values.get(p11.CKA_EXTRACTABLE)) !== false) {
    throw masterKeyMissing(`${where} can be extracted from the token (it must be sensitive and non-extractable)`, [
      'use another key label: init with create generates a suitable key',
    ]);
  }
  if (attrBool(values.get(p11.CKA_PRIVATE)) !== true) {
    // A public object can be used in a session that never logged in: anyone able to open one could unwrap without the PIN.
    throw masterKeyMissing(`${where} is not private (CKA_PRIVATE is false): it can be used without logging in, so without the PIN`, [
      'use another key label: init with create generates a suitable key',
    ]);
  }
  if (attrULong(values.get(p11.CKA_VALUE_LEN)) !== KEY_BYTES) {
    throw masterKeyMissing(`${where} is not an AES-256 key`);
  }
  if (attrBool(values.get(p11.CKA_ENCRYPT)) !== true || attrBool(values.get(p11.CKA_DECRYPT)) !== true) {
    throw masterKeyMissing(`${where} is not allowed to encrypt and decrypt (CKA_ENCRYPT, CKA_DECRYPT)`);
  }
}

/** Destroy a key this process generated; false when the token refused (the key is then left). */
function destroyKey(t: TokenSession, key: Handle): boolean {
  try {
    t.module.lib.C_DestroyObject(t.session, key);
    return true;
  } catch {
    return false;
  }
}

/**
 * After generating `mine`: if the label names another key as well (another
 * process generated one at the same moment), destroy `mine` and fail, so that
 * the label is left to the other key and nothing of this process uses either.
 * @throws E_LOCKED (run again), E_MASTER_KEY when the token cannot be searched
 */
function keepIfAlone(t: TokenSession, keyLabel: string, mine: Handle): void {
  let found: Handle[];
  try {
    found = findKeys(t, keyLabel);
  } catch (e) {
    destroyKey(t, mine);
    throw e;
  }
  if (found.length === 1 && found[0]!.equals(mine)) return;
  const destroyed = destroyKey(t, mine);
  const token = JSON.stringify(t.tokenLabel);
  throw new StoreError('E_LOCKED', `another process created a key labelled ${JSON.stringify(keyLabel)} on token ${token} at the same moment; run again`, destroyed
    ? ['nothing was made with the key this process generated, and it was removed from the token']
    : [`the key this process generated could not be removed: the label now names several keys; delete one of them from token ${token} (with the token's tools) before running again`]);
}

/**
 * The store's key object on the token; with `create`, made when there is none.
 * `opening`: for a store that exists (its key was there when it was made),
 * so that a missing key is one that was deleted, not one to create.
 */
export function findOrCreateKey(t: TokenSession, keyLabel: string, create: boolean, opening = false): Handle {
  // Creating: one at a time on this host (create-lock.ts), so a second creator searches after the first is done.
  return create ? withCreateLock(t.tokenLabel, keyLabel, () => findOrMake(t, keyLabel, create, opening)) : findOrMake(t, keyLabel, create, opening);
}

function findOrMake(t: TokenSession, keyLabel: string, create: boolean, opening: boolean): Handle {
  const found = findKeys(t, keyLabel);
  if (found.length > 1) {
    throw masterKeyMissing(`several AES keys on token ${JSON.stringify(t.tokenLabel)} are labelled ${JSON.stringify(keyLabel)}`, [
      'give the master key a label of its own',
      ...(create ? ['if another process is creating a key under this label right now, it removes its own when it sees this one: run again'] : []),
    ]);
  }
  let key = found[0];
  if (!key) {
    if (!create) {
      throw masterKeyMissing(`no AES key labelled ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}`, opening
        ? [
          'the store was made with this key, and the token no longer holds it (deleted, or the token was re-initialised): without it the store cannot be opened',
          'restore the token (or the key object) from its backup, or restore the store from a backup made under a master key you still have (store restore FILE)',
        ]
        : ['check the key label; to make a new key at init, ask for it to be created (store init creates it; the library: pkcs11({ ..., create: true }))']);
    }
    key = generateKey(t, keyLabel);
    keepIfAlone(t, keyLabel, key);
  }
  checkKeyPolicy(t, key, keyLabel);
  return key;
}
