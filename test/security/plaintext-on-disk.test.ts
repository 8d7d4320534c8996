/**
 * Attack: read the raw files. A store holding many values that carry a
 * unique canary must not hold the canary anywhere in its .db, -wal, -shm (or
 * any journal) bytes, as UTF-8, hex or base64; and once a version is
 * destroyed or a secret purged, its ciphertext bytes must be gone from every
 * file too (secure_delete + WAL checkpoint, docs/design.md §4).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeyFile, initStore, keyFile, openStore, rawKey, type Store } from '../../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-disk-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** Every file next to the store (db, -wal, -shm, -journal, anything else SQLite left). */
function storeFiles(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isFile() && f !== 'master.key') out.set(f, readFileSync(p));
  }
  return out;
}

/** The encodings of `text` an attacker would grep for: UTF-8, hex (both cases), UTF-16LE, base64 at every alignment. */
function encodings(text: string): Buffer[] {
  const raw = Buffer.from(text, 'utf8');
  const out = [raw, Buffer.from(raw.toString('hex')), Buffer.from(raw.toString('hex').toUpperCase()), Buffer.from(text, 'utf16le')];
  for (let shift = 0; shift < 3; shift++) {
    // base64 of the canary preceded by `shift` bytes: the stable middle part, without edge characters.
    const b64 = Buffer.concat([Buffer.alloc(shift), raw]).toString('base64');
    const start = Math.ceil((shift * 4) / 3) + 1;
    out.push(Buffer.from(b64.slice(start, b64.length - 4)));
  }
  return out;
}

function findings(files: Map<string, Buffer>, needles: Buffer[]): string[] {
  const hits: string[] = [];
  for (const [f, data] of files) {
    for (const n of needles) {
      const at = data.indexOf(n);
      if (at >= 0) hits.push(`${f}@${at}: ${n.subarray(0, 12).toString('hex')}…`);
    }
  }
  return hits;
}

/** Slices of a ciphertext to look for: the whole blob if small, else 32-byte windows (overflow pages split long blobs). */
function blobPieces(blob: Buffer): Buffer[] {
  if (blob.length <= 256) return [blob];
  const pieces: Buffer[] = [];
  for (let i = 0; i + 32 <= blob.length; i += 200) pieces.push(blob.subarray(i, i + 32));
  return pieces;
}

function blobOf(db: Database.Database, name: string, version: number): Buffer {
  const b = db
    .prepare('SELECT v.ciphertext FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? AND v.version = ?')
    .pluck()
    .get(name, version) as Buffer | null | undefined;
  if (!b) throw new Error(`no ciphertext for ${name} v${version}`);
  return b;
}

describe('no plaintext on disk', () => {
  it('canary values are absent from every store file; destroyed and purged ciphertexts are erased', async () => {
    const dir = mkdtempSync(join(base, 'store-'));
    const kf = join(dir, 'master.key');
    createKeyFile(kf);
    const path = join(dir, 'store.db');
    const canary = `CANARY-${randomBytes(16).toString('hex')}`;
    const needles = encodings(canary);

    let store: Store = await initStore(path, keyFile(kf));
    const db = new Database(path, { fileMustExist: true, readonly: true });
    try {
      // Small, embedded, repeated and large values, several versions each.
      await store.put('app/small', canary);
      await store.put('app/small', `${canary}\n`);
      await store.put('app/embedded', Buffer.concat([randomBytes(100), Buffer.from(canary), randomBytes(100)]));
      await store.put('app/json', JSON.stringify({ password: canary, user: 'x' }));
      await store.put('app/large', Buffer.from(canary.repeat(Math.ceil(600_000 / canary.length))));
      for (let i = 0; i < 30; i++) await store.put(`many/${i}`, `${i}:${canary}:${i}`);

      // A version that will be destroyed and a secret that will be purged, each small and large.
      await store.put('doomed/small', `destroy-me ${canary}`);
      await store.put('doomed/small', `keep-me ${canary}`);
      await store.put('doomed/large', Buffer.from(`${canary}#`.repeat(20_000)));
      await store.put('doomed/large', 'the large one replaced');
      await store.put('purged/one', `purge-me ${canary}`);
      await store.put('purged/one', Buffer.from(`${canary}%`.repeat(15_000)));
      await store.rollback('app/small', 1);
      await store.delete('app/json');

      // While the store is open: WAL frames present, nothing in plaintext anywhere.
      expect(findings(storeFiles(dir), needles)).toEqual([]);

      // Positive control: the ciphertexts we will erase are in the files now.
      const doomed = [blobOf(db, 'doomed/small', 1), blobOf(db, 'doomed/large', 1), blobOf(db, 'purged/one', 1), blobOf(db, 'purged/one', 2)];
      const doomedPieces = doomed.flatMap(blobPieces);
      for (const blob of doomed) {
        expect(findings(storeFiles(dir), blobPieces(blob)).length, 'ciphertext present before erase').toBeGreaterThan(0);
      }
      // The canary as the DB shows it is encrypted (no plaintext column anywhere).
      expect(JSON.stringify(db.prepare('SELECT * FROM versions').all())).not.toContain(canary);

      await store.destroy('doomed/small', [1]);
      await store.destroy('doomed/large', [1]);
      await store.purge('purged/one');
      await expect(store.get('doomed/small', { version: 1 })).rejects.toMatchObject({ code: 'E_DESTROYED' });
      expect((await store.get('doomed/small')).value.text()).toBe(`keep-me ${canary}`);

      // Right after the erase (store still open), and again after close and reopen.
      expect(findings(storeFiles(dir), doomedPieces)).toEqual([]);
      expect(findings(storeFiles(dir), needles)).toEqual([]);

      db.close();
      await store.close();
      expect(findings(storeFiles(dir), doomedPieces)).toEqual([]);
      expect(findings(storeFiles(dir), needles)).toEqual([]);

      store = await openStore(path, keyFile(kf));
      expect((await store.get('app/small', { version: 1 })).value.text()).toBe(canary);
      await store.put('after/reopen', canary);
      expect(findings(storeFiles(dir), needles)).toEqual([]);
    } finally {
      if (db.open) db.close();
      await store.close();
    }
    expect(findings(storeFiles(dir), needles)).toEqual([]);
  });

  it('a destroy that ran while another connection held a read snapshot is completed by the next write', async () => {
    // docs/design.md §4: destroy checkpoints the WAL "so no old page lingers"; store.ts #scrub says a
    // reader's open snapshot can delay that "until it ends" and "the next one completes it".
    const dir = mkdtempSync(join(base, 'store-'));
    const path = join(dir, 'store.db');
    const store = await initStore(path, rawKey(new Uint8Array(randomBytes(32))));
    const reader = new Database(path, { fileMustExist: true });
    try {
      await store.put('x', `CANARY-${randomBytes(8).toString('hex')}`);
      await store.put('other', 'v1');
      const blob = blobOf(reader, 'x', 1);
      expect(findings(storeFiles(dir), [blob]).length, 'ciphertext present before destroy').toBeGreaterThan(0);

      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM versions').get(); // holds a snapshot that still sees the ciphertext
      await store.destroy('x', [1]); // its checkpoint cannot finish while the snapshot is open
      reader.exec('COMMIT'); // the snapshot ends; the reader stays connected, as another process would

      await store.put('other', 'v2'); // the next write
      expect(findings(storeFiles(dir), [blob]), 'destroyed ciphertext still in the store files').toEqual([]);
    } finally {
      reader.close();
      await store.close();
    }
  });

  it('the key file holds the master key only: no canary, no data key, and the store holds no master key', async () => {
    const dir = mkdtempSync(join(base, 'store-'));
    const kf = join(dir, 'master.key');
    createKeyFile(kf);
    const path = join(dir, 'store.db');
    const store = await initStore(path, keyFile(kf));
    await store.put('k', `CANARY-${randomBytes(8).toString('hex')}`);
    await store.close();
    const master = Buffer.from(readFileSync(kf, 'latin1').trim(), 'base64');
    expect(master.length).toBe(32);
    // Neither the raw master key nor its base64 text is anywhere in the store files.
    expect(findings(storeFiles(dir), [master, Buffer.from(master.toString('base64'))])).toEqual([]);
  });
});
