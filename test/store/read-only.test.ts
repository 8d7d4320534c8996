/**
 * Read-only consumers (issue 11): a store this process cannot write opens
 * read-only. It reads when it does not audit reads, and otherwise refuses
 * every read before reading (a read that cannot be logged is refused); it
 * refuses every change and every always-logged operation.
 *
 * The store is really unwritable: it is seen through a read-only bind mount
 * (test/helpers/mounts.ts: root only, as CI runs), which root cannot write
 * either. Both ways SQLite can be read there are covered: a clean store (its
 * last writer closed it: no -wal or -shm, which cannot be made there, so it
 * is read as a snapshot in memory) and one with a live -wal (read through it).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, type Store } from '../../src/index.js';
import { openStoreFile } from '../../src/storage/sqlite/open.js';
import { mountReadOnly } from '../helpers/mounts.js';
import { tempDir } from '../helpers/tmp.js';

const KEY = new Uint8Array(32).fill(0x42);
const SECRET = 'hunter2-READONLY-VALUE';

interface Place {
  /** The writer's view of the store (read-write). */
  rw: string;
  /** The same file seen through a read-only bind mount. */
  ro: string;
  /** Where a writable copy may be put (outside the mount). */
  home: string;
}

/**
 * A directory seen through a read-only bind mount for the duration of `fn`.
 * Unmounted afterwards, which fails if a connection was left open there.
 */
async function withReadOnlyView<T>(fn: (p: Place) => Promise<T>, prepare?: (dir: string) => Promise<void>): Promise<T> {
  const home = tempDir('strongbox-ro-');
  const dir = join(home, 'rw');
  const view = join(home, 'ro');
  mkdirSync(dir);
  mkdirSync(view);
  await prepare?.(dir);
  mountReadOnly(dir, view);
  try {
    return await fn({ rw: join(dir, 'store.db'), ro: join(view, 'store.db'), home });
  } finally {
    execFileSync('umount', [view]);
  }
}

/** A store with one secret at `<dir>/store.db`, closed (clean: no -wal, no -shm). */
async function makeStore(dir: string, auditReads: boolean): Promise<void> {
  const s = await initStore(join(dir, 'store.db'), rawKey(KEY));
  try {
    await s.put('app/db', SECRET);
    if (!auditReads) await s.setConfig('audit.reads', 'false');
  } finally {
    await s.close();
  }
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

async function entries(path: string): Promise<number> {
  const s = await openStore(path, rawKey(KEY));
  try {
    return (await s.verifyAudit()).entries;
  } finally {
    await s.close();
  }
}

describe('a clean store on a read-only mount', () => {
  it('that audits reads (the default): opens read-only, refuses every read and every change before touching anything', async () => {
    await withReadOnlyView(async ({ rw, ro, home }) => {
      const logged = await entries(rw);
      const before = readFileSync(rw);
      const store = await openStore(ro, rawKey(KEY));
      try {
        expect(store.readOnly).toBe(true);
        expect((await store.status()).readOnly).toMatch(/the file system holding .*ro is read-only/);
        for (const read of [store.get('app/db'), store.list(), store.history('app/db'), store.getMetadata('app/db'), store.get('app/db', { version: 1 })]) {
          const e = await read.then(() => undefined, (x: unknown) => x as Error & { code: string; hints: string[] });
          expect(e?.code).toBe('E_READ_ONLY');
          expect(e?.message).toMatch(/audits reads, and it is open read-only here \(the file system holding .* is read-only\): a read that cannot be logged is refused/);
          expect(e?.hints.join('\n')).toContain('store config set audit.reads false');
          expect(e?.message).not.toContain(SECRET);
        }
        // Not audited reads still work: the store's facts, its log.
        expect((await store.status()).secrets).toBe(1);
        expect(await store.verifyAudit()).toMatchObject({ ok: true });
        expect(await store.getConfig('audit.reads')).toBe('true');

        await expect(store.put('app/db', 'new')).rejects.toMatchObject({ code: 'E_READ_ONLY', message: expect.stringMatching(/cannot change the store .*: it is open read-only here/) });
        for (const change of [
          store.delete('app/db'), store.destroy('app/db', [1]), store.purge('app/db'), store.rollback('app/db', 1),
          store.setMetadata('app/db', { maxVersions: 2 }), store.rotateKeys(), store.setConfig('audit.reads', 'false'),
          store.pruneAudit({ before: Date.now() }),
        ]) {
          expect(await code(change)).toBe('E_READ_ONLY');
        }
        for (const logged of [
          store.backup(join(home, 'backup.db')), store.verify(), store.exportPlain(join(home, 'out.env'), { format: 'env' }),
          store.exportBundle(join(home, 'out.sbx'), { key: { passphrase: 'export-passphrase' } }),
        ]) {
          await expect(logged).rejects.toMatchObject({ code: 'E_READ_ONLY', message: expect.stringMatching(/is always recorded in the audit log/) });
        }
        expect(readdirSync(home).sort()).toEqual(['ro', 'rw']); // no backup or export file was left
      } finally {
        await store.close();
      }
      // The writer sees the same file, the same log: nothing was written, not even a failure entry.
      expect(readFileSync(rw).equals(before)).toBe(true);
      expect(await entries(rw)).toBe(logged);
    }, (dir) => makeStore(dir, true));
  });

  it('that does not audit reads: reads as a snapshot, and follows later writes without reopening', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      const store = await openStore(ro, rawKey(KEY));
      try {
        expect((await store.get('app/db')).value.text()).toBe(SECRET);
        expect((await store.list()).map((s) => s.name)).toEqual(['app/db']);
        expect((await store.history('app/db')).map((h) => h.version)).toEqual([1]);
        expect(readdirSync(join(rw, '..'))).toEqual(['store.db']); // SQLite could make no -wal or -shm here

        // A writer elsewhere commits and closes (the store is clean again): the reader sees it.
        const writer = await openStore(rw, rawKey(KEY));
        await writer.put('app/db', 'second');
        await writer.put('app/other', 'x');
        await writer.close();
        expect(existsSync(`${rw}-wal`)).toBe(false);
        expect((await store.get('app/db')).value.text()).toBe('second');
        expect((await store.get('app/db', { version: 1 })).value.text()).toBe(SECRET);
        expect((await store.list()).map((s) => s.name)).toEqual(['app/db', 'app/other']);

        await expect(store.put('app/db', 'x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });

        // The file taken away (as by a move): said so, not a raw ENOENT.
        renameSync(rw, `${rw}.moved`);
        await expect(store.get('app/db')).rejects.toMatchObject({ code: 'E_NO_STORE' });
      } finally {
        await store.close();
      }
    }, (dir) => makeStore(dir, false));
  });

  it('a writer that keeps the store open meanwhile: the reader switches to reading through its -wal', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      const store = await openStore(ro, rawKey(KEY));
      const writer = await openStore(rw, rawKey(KEY));
      try {
        expect((await store.get('app/db')).value.text()).toBe(SECRET);
        await writer.put('app/db', 'while open');
        expect(statSync(`${rw}-wal`).size).toBeGreaterThan(0); // the commit is in the -wal only
        expect((await store.get('app/db')).value.text()).toBe('while open');
        await writer.put('app/db', 'and again');
        expect((await store.get('app/db')).value.text()).toBe('and again');
      } finally {
        await writer.close();
        await store.close();
      }
    }, (dir) => makeStore(dir, false));
  });
});

describe('a store with a -wal on a read-only mount', () => {
  it('a live writer\'s commits still in the -wal are read through it', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      const writer = await openStore(rw, rawKey(KEY));
      try {
        await writer.put('app/db', 'only in the wal');
        expect(statSync(`${rw}-wal`).size).toBeGreaterThan(0);
        const store = await openStore(ro, rawKey(KEY));
        try {
          expect(store.readOnly).toBe(true);
          expect((await store.get('app/db')).value.text()).toBe('only in the wal');
          await writer.put('app/db', 'later');
          expect((await store.get('app/db')).value.text()).toBe('later');
          await expect(store.put('app/db', 'x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
          // The writer comes and goes; the reader's connection keeps up.
          await writer.close();
          expect((await store.get('app/db')).value.text()).toBe('later');
          const next = await openStore(rw, rawKey(KEY));
          await next.put('app/db', 'third');
          await next.close();
          expect((await store.get('app/db')).value.text()).toBe('third');
        } finally {
          await store.close();
        }
      } finally {
        await writer.close();
      }
    }, (dir) => makeStore(dir, false));
  });

  it('a -wal and -shm left by a writer that is gone (a crash): read, the -wal\'s commits included', async () => {
    await withReadOnlyView(async ({ ro }) => {
      const store = await openStore(ro, rawKey(KEY));
      try {
        expect((await store.get('app/db')).value.text()).toBe('crashed before checkpoint');
      } finally {
        await store.close();
      }
    }, async (dir) => {
      // Copies of a live store's three files, as a crash leaves them.
      const live = join(tempDir(), 'store.db');
      await makeStore(join(live, '..'), false);
      const writer = await openStore(live, rawKey(KEY));
      try {
        await writer.put('app/db', 'crashed before checkpoint');
        for (const suffix of ['', '-wal', '-shm']) copyFileSync(`${live}${suffix}`, join(dir, `store.db${suffix}`));
      } finally {
        await writer.close();
      }
      expect(statSync(join(dir, 'store.db-wal')).size).toBeGreaterThan(0);
    });
  });

  it('a -wal with commits but no -shm, which cannot be made here: E_IO saying so, never the file without them', async () => {
    await withReadOnlyView(async ({ ro }) => {
      await expect(openStore(ro, rawKey(KEY))).rejects.toMatchObject({
        code: 'E_IO', message: expect.stringMatching(/-wal holds changes not yet in the store file, and SQLite needs a .*-shm beside it/),
      });
    }, async (dir) => {
      const live = join(tempDir(), 'store.db');
      await makeStore(join(live, '..'), false);
      const writer = await openStore(live, rawKey(KEY));
      try {
        await writer.put('app/db', 'in the wal');
        for (const suffix of ['', '-wal']) copyFileSync(`${live}${suffix}`, join(dir, `store.db${suffix}`));
      } finally {
        await writer.close();
      }
    });
  });
});

describe('choosing read-only explicitly', () => {
  it('readOnly: true on a writable store refuses changes and audited reads, and leaves the file as it was', async () => {
    const dir = tempDir();
    await makeStore(dir, true);
    const path = join(dir, 'store.db');
    const before = readFileSync(path);
    let store: Store = await openStore(path, rawKey(KEY), { readOnly: true });
    try {
      expect((await store.status()).readOnly).toBe('it was opened read-only on request');
      await expect(store.get('app/db')).rejects.toMatchObject({ code: 'E_READ_ONLY', message: expect.stringMatching(/audits reads/) });
      await expect(store.put('app/db', 'x')).rejects.toMatchObject({ code: 'E_READ_ONLY', message: expect.stringMatching(/opened read-only on request/) });
    } finally {
      await store.close();
    }
    expect(readFileSync(path).equals(before)).toBe(true);

    store = await openStore(path, rawKey(KEY));
    expect(store.readOnly).toBe(false);
    await store.setConfig('audit.reads', 'false');
    await store.close();
    store = await openStore(path, rawKey(KEY), { readOnly: true });
    try {
      expect((await store.get('app/db')).value.text()).toBe(SECRET);
      expect(readdirSync(dir)).toEqual(['store.db']); // a reader makes no -wal or -shm, even where it could
    } finally {
      await store.close();
    }
  });

  it('readOnly: false on a read-only mount fails at open as before (E_IO naming the cause); a bad value is E_USAGE', async () => {
    await withReadOnlyView(async ({ ro }) => {
      await expect(openStore(ro, rawKey(KEY), { readOnly: false })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/is read-only/) });
      await expect(openStore(ro, rawKey(KEY), { readOnly: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'E_USAGE' });
    }, (dir) => makeStore(dir, false));
  });
});

describe('an older store on a read-only mount', () => {
  it('of an older schema: E_READ_ONLY saying to open it once as a writer; then it reads', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      await expect(openStore(ro, rawKey(new Uint8Array(32).fill(0x5a)))).rejects.toMatchObject({
        code: 'E_READ_ONLY', message: expect.stringMatching(/written by an older version of Strongbox and must be upgraded .* it is open read-only here/),
        hints: [expect.stringMatching(/open it once as a user who can write it/)],
      });
      (await openStore(rw, rawKey(new Uint8Array(32).fill(0x5a)))).close();
      const store = await openStore(ro, rawKey(new Uint8Array(32).fill(0x5a)));
      try {
        expect((await store.get('app/db-password')).value.text()).toBe('v2-password-2'); // the fixture does not audit reads
      } finally {
        await store.close();
      }
    }, async (dir) => {
      copyFileSync('test/fixtures/store-schema2.db', join(dir, 'store.db'));
    });
  });

  it('migrated but not yet sealed (its rows not yet authenticated): E_READ_ONLY, nothing written', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      const before = readFileSync(rw);
      await expect(openStore(ro, rawKey(new Uint8Array(32).fill(0x5a)))).rejects.toMatchObject({
        code: 'E_READ_ONLY', message: expect.stringMatching(/must be upgraded \(authenticated rows\)/),
      });
      expect(readFileSync(rw).equals(before)).toBe(true);
    }, async (dir) => {
      const path = join(dir, 'store.db');
      copyFileSync('test/fixtures/store-schema2.db', path);
      (await openStoreFile(path)).close(); // the schema migration alone, as an open interrupted before sealing leaves it
    });
  });
});

describe('a writer that keeps committing and closing', () => {
  it('a reader on the read-only mount, opening again and again as the writer comes and goes (through the -wal or as a snapshot), reads a value written each time, never one older than it read before', async () => {
    await withReadOnlyView(async ({ rw, ro }) => {
      const writer = spawn(process.execPath, ['test/store/fixtures/reopening-writer.mjs', rw, Buffer.from(KEY).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      writer.stdout.setEncoding('utf8');
      const ready = new Promise<void>((resolve) => writer.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('ready\n')) resolve();
      }));
      const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));
      try {
        await ready;
        let last = 0;
        let reads = 0;
        const until = Date.now() + 1500;
        while (Date.now() < until) {
          // A new open each time: snapshots and reads through the -wal, as the writer comes and goes.
          const store = await openStore(ro, rawKey(KEY));
          try {
            const got = await store.get('app/db');
            const n = got.value.text() === SECRET ? 0 : Number(/^v(\d+)$/.exec(got.value.text())?.[1]);
            expect(n, got.value.text()).toBeGreaterThanOrEqual(last);
            last = n;
            reads++;
          } finally {
            await store.close();
          }
        }
        expect(reads).toBeGreaterThan(10);
        expect(last).toBeGreaterThan(0);
      } finally {
        writer.stdin.end('stop\n');
        expect(await exited).toBe(0);
      }
      expect(Number(out.split('\n')[1])).toBeGreaterThan(1);
    }, (dir) => makeStore(dir, false));
  });
});
