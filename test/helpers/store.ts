/**
 * Store setup shared by the library tests: a fresh store in a temp dir
 * (closed when the test finishes), reopening, reading every value back,
 * and tampering with a stored value.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { onTestFinished } from 'vitest';
import { initStore, openStore, rawKey, type InitOptions, type MasterKeySource, type Store } from '../../src/index.js';
import { tempDir } from './tmp.js';

const masters = new WeakMap<Store, MasterKeySource>();

/** The master key freshStore or reopenStore opened `store` with, for helpers that open its file again (dump). */
export function masterOf(store: Store): MasterKeySource {
  const master = masters.get(store);
  if (!master) throw new Error('not a store of freshStore or reopenStore: pass its master key');
  return master;
}

/** Record the master key `store` was opened with, for masterOf (stores opened by other helpers: test/helpers/drivers.ts). */
export function rememberMaster(store: Store, master: MasterKeySource): void {
  masters.set(store, master);
}

/** A new store (random raw key) at `<dir>/store.db`, closed when the test finishes. */
export async function freshStore(
  options: InitOptions = {},
  dir = tempDir(),
): Promise<{ store: Store; dir: string; path: string; key: Uint8Array }> {
  const path = join(dir, 'store.db');
  const key = new Uint8Array(randomBytes(32));
  const store = await initStore(path, rawKey(key), options);
  onTestFinished(() => store.close());
  masters.set(store, rawKey(key));
  return { store, dir, path, key };
}

/** Open the store at `path` with a raw key, closed when the test finishes. */
export async function reopenStore(path: string, key: Uint8Array): Promise<Store> {
  const store = await openStore(path, rawKey(key));
  onTestFinished(() => store.close());
  masters.set(store, rawKey(key));
  return store;
}

/** Every live version's value, by name@version. */
export async function everyValue(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of await store.list()) {
    for (const h of await store.history(s.name)) {
      if (h.state === 'live') out.set(`${s.name}@${h.version}`, (await store.get(s.name, { version: h.version })).value.text());
    }
  }
  return out;
}

/** Flip one bit in the AEAD tag of a stored value, as an attacker with write access to the file could. */
export function flipValue(path: string, name: string, version: number): void {
  const db = new Database(path);
  try {
    const row = db.prepare(`SELECT v.secret_id AS id, v.ciphertext AS c FROM versions v JOIN secrets s ON s.id = v.secret_id
      WHERE s.name = ? AND v.version = ?`).get(name, version) as { id: number; c: Buffer };
    row.c[row.c.length - 1]! ^= 0x01;
    db.prepare('UPDATE versions SET ciphertext = ? WHERE secret_id = ? AND version = ?').run(row.c, row.id, version);
  } finally {
    db.close();
  }
}
