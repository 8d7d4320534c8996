/**
 * Writing secrets: put (a new value) and rollback (a new version holding an
 * old one's value). Both append through the one rule of a new version
 * (../versions.ts) inside a sealingWrite, with their audit entry in the same
 * transaction.
 */
import { StoreError } from '../../errors.js';
import { openValue } from '../../crypto/envelope.js';
import { SecretBytes } from '../../crypto/secret.js';
import { wipe } from '../../crypto/bytes.js';
import { reloadKeyset, sealingWrite, withFreshKeyset } from '../keys.js';
import { appendVersion } from '../versions.js';
import { checkVersionNumber, liveVersion, usage } from './checks.js';
import { checkJsonObject, checkJsonOption } from '../content.js';
import type { StoreContext } from '../context.js';
import type { StorageOps } from '../../storage/storage.js';
import type { PutOptions, WriteResult } from '../types.js';

/** A put's check-and-set, checked before the store is touched. */
export function checkCas(cas: number | undefined): void {
  if (cas !== undefined && (!Number.isSafeInteger(cas) || cas < 0)) throw usage('cas must be a whole number from 0 up');
}

/** Write a new version of `name` holding `value` (with `options.json`, the text of a JSON object). */
export function putSecret(c: StoreContext, name: string, value: Uint8Array | string | SecretBytes, options: PutOptions): Promise<WriteResult> {
  const json = checkJsonOption(options.json);
  const secret = valueBytes(c, value, options.allowEmpty ?? false, json);
  return sealingWriteFresh(c, async (tx) => {
    const r = await append(c, tx, name, secret.expose(), json, options.cas);
    await c.audit.append(tx, { action: 'put', name, versions: [r.version], outcome: 'ok' });
    return r;
  });
}

/** Write a new version of `name` whose value is version `version`'s, JSON or bytes as that one is. */
export async function rollbackSecret(c: StoreContext, name: string, version: number, cas: number | undefined): Promise<WriteResult> {
  checkVersionNumber(version);
  // Make sure every key the old version may name is loaded before the sync transaction.
  const probe = liveVersion(name, await c.storage.readVersion(name, version), `version ${version}`);
  if (probe.keyId !== null && !c.keyset.byId(probe.keyId)) await reloadKeyset(c);
  return sealingWriteFresh(c, async (tx) => {
    const v = liveVersion(name, await tx.readVersion(name, version), `version ${version}`);
    const plaintext = openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext);
    try {
      const r = await append(c, tx, name, plaintext, v.json, cas);
      await c.audit.append(tx, { action: 'rollback', name, versions: [r.version], outcome: 'ok', detail: `value of version ${version}` });
      return r;
    } finally {
      wipe(plaintext);
    }
  });
}

function valueBytes(c: StoreContext, value: Uint8Array | string | SecretBytes, allowEmpty: boolean, json: boolean): SecretBytes {
  if (!(typeof value === 'string' || value instanceof Uint8Array || value instanceof SecretBytes)) {
    throw new StoreError('E_INVALID_VALUE', 'a value must be bytes (Uint8Array), a string or SecretBytes');
  }
  const secret = SecretBytes.from(value);
  const limit = c.header.maxValueBytes;
  if (secret.length > limit) {
    throw new StoreError('E_VALUE_TOO_LARGE', `the value is ${secret.length} bytes; this store takes at most ${limit}`);
  }
  // A JSON secret is never empty; its own check says what it must be instead.
  if (json) checkJsonObject(secret.expose());
  else if (secret.length === 0 && !allowEmpty) {
    throw new StoreError('E_INVALID_VALUE', 'the value is empty', ['pass allowEmpty (CLI: --allow-empty) to store an empty value']);
  }
  return secret;
}

/** Run a write that seals values; if another process rotated keys meanwhile, reload and run it again. */
function sealingWriteFresh<T>(c: StoreContext, fn: (tx: StorageOps) => Promise<T>): Promise<T> {
  return withFreshKeyset(c, () => sealingWrite(c, fn));
}

/** Append version n+1 of `name` (../versions.ts); inside a sealingWrite. */
async function append(c: StoreContext, tx: StorageOps, name: string, plaintext: Uint8Array, json: boolean, cas: number | undefined): Promise<WriteResult> {
  const now = c.now();
  const secret = await tx.findSecret(name) ?? await tx.insertSecret(name, now);
  const { version } = await appendVersion(tx, c, secret, plaintext, json, now, cas);
  return { name, version, createdAt: new Date(now), custom: secret.custom };
}
