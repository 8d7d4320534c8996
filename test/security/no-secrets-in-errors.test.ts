/**
 * A secret value never appears in an error (docs/design.md §6 and §7): for every error path that can be reached with a canary value or
 * passphrase around, the canary is absent from message, stack, hints,
 * String(err), JSON.stringify(err), util.inspect(err) and the whole cause
 * chain, in UTF-8, hex, base64 and the byte-list forms inspect prints.
 * And a get result prints its value redacted (SecretBytes). On each driver
 * (a SQLite file, a PostgreSQL database: test/helpers/drivers.ts), so a
 * database error in the cause chain is held to the same rule.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  SecretBytes, createKeyFile, envKey, initStore, isStoreError, keyFile, openStore, passphrase, rawKey, type Store,
} from '../../src/index.js';
import { DRIVERS, withRaw, type StoreDriver } from '../helpers/drivers.js';
import { tempDir } from '../helpers/tmp.js';

const FAST = { scrypt: { logN: 15 } };

function newCanary(): string {
  return `CANARY-${randomBytes(12).toString('hex')}`;
}

/** The forms a leaked canary would take in text. */
function forms(canary: string): string[] {
  const raw = Buffer.from(canary, 'utf8');
  const tail = raw.subarray(7, 19); // the random part: bytes that only the canary holds
  return [
    canary,
    canary.slice(7), // the random part alone
    raw.toString('hex'),
    raw.toString('hex').toUpperCase(),
    raw.toString('base64'),
    raw.toString('base64url'),
    [...tail].join(', '), // util.inspect of a Uint8Array
    [...tail].map((b) => b.toString(16).padStart(2, '0')).join(' '), // <Buffer 2a 3b …>
    JSON.stringify([...tail]).slice(1, -1), // JSON of an array of bytes
  ];
}

/** Every text an error can surface through, over its whole cause chain. */
function errorTexts(err: unknown): string[] {
  const texts: string[] = [];
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e !== undefined && e !== null && !seen.has(e)) {
    seen.add(e);
    const x = e as Error & { hints?: readonly string[] };
    texts.push(String(x.message), String(x.stack), String(e), JSON.stringify(e) ?? '', inspect(e, { depth: Infinity, showHidden: true }));
    texts.push(format('%o', e), format('%j', e));
    if (x.hints) texts.push(...x.hints);
    for (const k of Object.getOwnPropertyNames(e)) {
      try {
        texts.push(inspect((e as Record<string, unknown>)[k], { depth: Infinity }));
      } catch {
        // a throwing getter shows nothing
      }
    }
    e = x.cause;
  }
  return texts;
}

function assertClean(err: unknown, canaries: string[]): void {
  const texts = errorTexts(err);
  const all = texts.join('\n');
  for (const c of canaries) {
    for (const f of forms(c)) expect(all, `error text contains ${JSON.stringify(f)}`).not.toContain(f);
  }
}

/** Run `fn`, expect a StoreError with `code`, and check that it carries none of the canaries. */
async function expectCleanError(fn: () => Promise<unknown>, code: string, canaries: string[]): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeDefined();
  expect(isStoreError(caught) ? caught.code : `not a StoreError: ${String(caught)}`).toBe(code);
  assertClean(caught, canaries);
}

/** A store on `driver` with a random raw key (its path or URL in `path`); the caller closes it. */
async function rawStore(driver: StoreDriver, options: { maxValueBytes?: number } = {}): Promise<{ store: Store; path: string; key: Uint8Array }> {
  const { locator: path } = await driver.place();
  const key = new Uint8Array(randomBytes(32));
  return { store: await initStore(path, rawKey(key), options), path, key };
}

async function blobUpdate(driver: StoreDriver, path: string, fn: (blob: Buffer) => Buffer): Promise<void> {
  await withRaw(driver, path, async (db) => {
    const blob = await db.value<Buffer>('SELECT ciphertext FROM versions WHERE version = 1');
    await db.run('UPDATE versions SET ciphertext = ? WHERE version = 1', fn(Buffer.from(blob)));
  });
}

it('the helper sees a canary when one leaks (control)', () => {
  const c = newCanary();
  const leaky = new Error('boom', { cause: { detail: Buffer.from(c) } });
  expect(() => assertClean(leaky, [c])).toThrow();
  expect(() => assertClean(new Error(`x ${Buffer.from(c).toString('base64')}`), [c])).toThrow();
  expect(() => assertClean(new Error('x'), [c])).not.toThrow();
});

describe.each(DRIVERS)('on $name', (driver) => {
  describe('errors carry no secret', () => {
    it('E_CAS_MISMATCH with a canary value', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver);
      try {
        await store.put('db/password', `old ${c}`);
        await expectCleanError(() => store.put('db/password', c, { cas: 0 }), 'E_CAS_MISMATCH', [c]);
        await expectCleanError(() => store.put('db/password', new TextEncoder().encode(c), { cas: 7 }), 'E_CAS_MISMATCH', [c]);
        await expectCleanError(() => store.rollback('db/password', 1, { cas: 5 }), 'E_CAS_MISMATCH', [c]);
      } finally {
        await store.close();
      }
    });

    it('E_VALUE_TOO_LARGE with the canary in the value (string, bytes, SecretBytes)', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver, { maxValueBytes: 64 });
      try {
        const big = `${c}|${c}|${c}`;
        await expectCleanError(() => store.put('x', big), 'E_VALUE_TOO_LARGE', [c]);
        await expectCleanError(() => store.put('x', Buffer.from(big)), 'E_VALUE_TOO_LARGE', [c]);
        await expectCleanError(() => store.put('x', SecretBytes.from(big)), 'E_VALUE_TOO_LARGE', [c]);
      } finally {
        await store.close();
      }
    });

    it('E_USAGE with a canary value around (bad cas, bad version)', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver);
      try {
        await store.put('x', c);
        await expectCleanError(() => store.put('x', c, { cas: -1 }), 'E_USAGE', [c]);
        await expectCleanError(() => store.put('x', c, { cas: 1.5 }), 'E_USAGE', [c]);
        await expectCleanError(() => store.get('x', { version: 0 }), 'E_USAGE', [c]);
        await expectCleanError(() => store.destroy('x', []), 'E_USAGE', [c]);
      } finally {
        await store.close();
      }
    });

    it('E_DELETED and E_DESTROYED on canary-valued versions', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver);
      try {
        await store.put('x', c);
        await store.put('x', `second ${c}`);
        await store.delete('x');
        await expectCleanError(() => store.get('x'), 'E_DELETED', [c]);
        await expectCleanError(() => store.rollback('x', 2), 'E_DELETED', [c]);
        await store.destroy('x', [1]);
        await expectCleanError(() => store.get('x', { version: 1 }), 'E_DESTROYED', [c]);
        await expectCleanError(() => store.rollback('x', 1), 'E_DESTROYED', [c]);
      } finally {
        await store.close();
      }
    });

    it('E_TAMPERED on a canary-valued version whose tag or format byte changed (message names no ciphertext either)', async () => {
      const c = newCanary();
      const { store, path } = await rawStore(driver);
      try {
        await store.put('x', c);
        const blob = await withRaw(driver, path, (db) => db.value<Buffer>('SELECT ciphertext FROM versions WHERE version = 1'));
        await blobUpdate(driver, path, (b) => {
          b[b.length - 1]! ^= 1;
          return b;
        });
        // The ciphertext itself (its random nonce) must not be echoed either.
        const nonce = blob.subarray(5, 29);
        const [nonceHex, nonceB64] = [nonce.toString('hex'), nonce.toString('base64')];
        await expectCleanError(() => store.get('x'), 'E_TAMPERED', [c, nonceHex, nonceB64]);
        await expectCleanError(() => store.rollback('x', 1), 'E_TAMPERED', [c, nonceHex, nonceB64]);
        await blobUpdate(driver, path, (b) => {
          b[b.length - 1]! ^= 1;
          b[0] = 0x7f;
          return b;
        });
        // The format byte is in the head the row's MAC covers (schema 8): tampered, not a format this program lacks.
        await expectCleanError(() => store.get('x'), 'E_TAMPERED', [c, nonceHex, nonceB64]);
      } finally {
        await store.close();
      }
    });

    it('E_WRONG_MASTER_KEY with the canary as the wrong passphrase (and as the right one)', async () => {
      const right = newCanary();
      const wrong = newCanary();
      const dir = tempDir();
      const { locator: path } = await driver.place();
      const s = await initStore(path, passphrase(right, FAST));
      await s.put('x', right);
      await s.close();
      await expectCleanError(() => openStore(path, passphrase(wrong, FAST)), 'E_WRONG_MASTER_KEY', [right, wrong]);
      await expectCleanError(() => openStore(path, passphrase(new TextEncoder().encode(wrong), FAST)), 'E_WRONG_MASTER_KEY', [right, wrong]);
      const kf = join(dir, 'k.key');
      createKeyFile(kf);
      await expectCleanError(() => openStore(path, keyFile(kf)), 'E_WRONG_MASTER_KEY', [right, wrong]);
    });

    it('E_WRONG_MASTER_KEY never shows either key; E_MASTER_KEY never shows a malformed key file or variable', async () => {
      const dir = tempDir();
      const right = join(dir, 'right.key');
      createKeyFile(right);
      const { locator: path } = await driver.place();
      await (await initStore(path, keyFile(right))).close();

      const wrongKey = randomBytes(32);
      const wrongText = wrongKey.toString('base64');
      const wrongFile = join(dir, 'wrong.key');
      writeFileSync(wrongFile, `${wrongText}\n`, { mode: 0o600 });
      await expectCleanError(() => openStore(path, keyFile(wrongFile)), 'E_WRONG_MASTER_KEY', [wrongText, wrongKey.toString('hex')]);
      await expectCleanError(() => openStore(path, rawKey(new Uint8Array(wrongKey))), 'E_WRONG_MASTER_KEY', [wrongText]);

      const c = newCanary();
      const badFile = join(dir, 'bad.key');
      writeFileSync(badFile, `${c}\n`, { mode: 0o600 });
      await expectCleanError(() => openStore(path, keyFile(badFile)), 'E_MASTER_KEY', [c]);
      const b64ish = Buffer.from(c).toString('base64'); // valid base64, wrong length
      writeFileSync(badFile, `${b64ish}\n`);
      await expectCleanError(() => openStore(path, keyFile(badFile)), 'E_MASTER_KEY', [c, b64ish]);
      await expectCleanError(() => openStore(path, envKey('SBX_TEST_KEY', { SBX_TEST_KEY: c })), 'E_MASTER_KEY', [c]);
      await expectCleanError(() => openStore(path, envKey('SBX_TEST_KEY', { SBX_TEST_KEY: wrongText })), 'E_WRONG_MASTER_KEY', [wrongText]);
      const insecure = join(dir, 'insecure.key');
      writeFileSync(insecure, `${wrongText}\n`, { mode: 0o644 });
      await expectCleanError(() => openStore(path, keyFile(insecure)), 'E_INSECURE_KEYFILE', [wrongText]);
    });

    it('E_CLOSED and E_NOT_FOUND with canaries around', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver);
      await store.put('x', c);
      await expectCleanError(() => store.get('x', { version: 9 }), 'E_NOT_FOUND', [c]);
      await store.close();
      await expectCleanError(() => store.get('x'), 'E_CLOSED', [c]);
      await expectCleanError(() => store.put('x', c), 'E_CLOSED', [c]);
    });
  });

  describe('results print no secret', () => {
    it('util.inspect, JSON.stringify, String and format of a get result show the value redacted', async () => {
      const c = newCanary();
      const { store } = await rawStore(driver);
      try {
        await store.put('x', c);
        const got = await store.get('x');
        expect(got.value.text()).toBe(c); // control: the value is there, behind expose()/text()
        const shown = [
          inspect(got, { depth: Infinity, showHidden: true }),
          inspect(got.value, { showHidden: true }),
          JSON.stringify(got),
          JSON.stringify(got.value),
          String(got.value),
          `${got.value}`,
          format('%s %o %O %j', got.value, got, got, got),
        ].join('\n');
        for (const f of forms(c)) expect(shown).not.toContain(f);
        expect(String(got.value)).toBe(`[redacted ${Buffer.byteLength(c)} bytes]`);
        expect(JSON.parse(JSON.stringify(got)).value).toBe(`[redacted ${Buffer.byteLength(c)} bytes]`);
        // Metadata calls never carry values.
        const meta = inspect([await store.history('x'), await store.list(), await store.getMetadata('x'), await store.status()], { depth: Infinity });
        for (const f of forms(c)) expect(meta).not.toContain(f);
      } finally {
        await store.close();
      }
    });
  });
});
