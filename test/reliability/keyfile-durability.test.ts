// A new key file is on disk — its bytes fsynced, then its name (the
// directory fsynced) — before the store commit that makes it the only key,
// at `init` and at `rotate-master`. The key file is written through a FileOps
// (src/platform/durable-file.ts), under a temp name beside it, and linked to
// its name only once whole and fsynced (test/reliability/keyfile-kill.test.ts:
// a kill on the way leaves nothing at the name); here the real node:fs calls
// are recorded in order, and at the directory's fsync the store file is read
// to show that the commit depending on the key has not happened yet.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { initStore, keyFile, openStore } from '../../src/index.js';
import { nodeFileOps, type FileOps } from '../../src/platform/durable-file.js';
import { tempDir } from '../helpers/tmp.js';

/** The temp name the key file `name` is written under before it is linked to its name. */
const TEMP_OF = (name: string) => new RegExp(`/\\.${name.replace('.', '\\.')}\\.keyfile-[0-9a-f]{8}-${process.pid}-[0-9a-f]{12}\\.tmp$`);

interface Call {
  op: string;
  path?: string;
  /** Taken when the key file's directory is fsynced: what the store file holds then. */
  store?: string;
}

/** node:fs, with every call written down (fds mapped back to the paths they were opened from). */
function recording(onDirSync: () => string): { ops: FileOps; calls: Call[] } {
  const calls: Call[] = [];
  const paths = new Map<number, string>();
  const ops: FileOps = {
    mkdirs: (dir, mode) => {
      const first = nodeFileOps.mkdirs(dir, mode);
      calls.push({ op: 'mkdirs', path: dir });
      return first;
    },
    createExclusive: (path, mode) => {
      const fd = nodeFileOps.createExclusive(path, mode);
      paths.set(fd, path);
      calls.push({ op: 'create', path });
      return fd;
    },
    writeAll: (fd, data) => {
      nodeFileOps.writeAll(fd, data);
      calls.push({ op: 'write', path: paths.get(fd) });
    },
    fsync: (fd) => {
      nodeFileOps.fsync(fd);
      calls.push({ op: 'fsync', path: paths.get(fd) });
    },
    close: (fd) => {
      nodeFileOps.close(fd);
      calls.push({ op: 'close', path: paths.get(fd) });
    },
    syncDir: (dir) => {
      nodeFileOps.syncDir(dir);
      calls.push({ op: 'syncDir', path: dir, store: onDirSync() });
    },
    unlink: (path) => {
      nodeFileOps.unlink(path);
      calls.push({ op: 'unlink', path });
    },
    link: (existing, path) => {
      nodeFileOps.link(existing, path);
      calls.push({ op: `link ${existing}`, path });
    },
  };
  return { ops, calls };
}

/** The store's master check as committed now, read through a connection of its own; 'no store' when there is no file. */
function committedMasterCheck(db: string): string {
  if (!existsSync(db)) return 'no store';
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return String(conn.prepare("SELECT value FROM meta WHERE key = 'master_check'").pluck().get() ?? 'no header');
  } finally {
    conn.close();
  }
}

describe('a new key file is durable before the store depends on it', () => {
  it('init: create, write, fsync, close of the temp file, link to the key file\'s name, fsync(dir), all before the store file exists', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const key = join(dir, 'keys', 'deep', 'master.key'); // directories created too: their names are synced
    const { ops, calls } = recording(() => committedMasterCheck(db));
    const store = await initStore(db, keyFile(key, { create: true, fileOps: ops }));
    await store.close();

    const tmp = calls[3]!.path!;
    expect(tmp).toMatch(TEMP_OF('master.key'));
    expect(dirname(tmp)).toBe(dirname(key));
    expect(calls).toEqual([
      { op: 'mkdirs', path: dirname(key) },
      { op: 'syncDir', path: dir, store: 'no store' }, // "keys" is new: its name is in dir
      { op: 'syncDir', path: join(dir, 'keys'), store: 'no store' }, // "deep"
      { op: 'create', path: tmp },
      { op: 'write', path: tmp },
      { op: 'fsync', path: tmp }, // the whole key on disk before it has its name
      { op: 'close', path: tmp },
      { op: `link ${tmp}`, path: key },
      { op: 'unlink', path: tmp },
      { op: 'syncDir', path: dirname(key), store: 'no store' }, // the name on disk (and the temp name gone)
    ]);
    expect(existsSync(tmp)).toBe(false);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(key, 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    (await openStore(db, keyFile(key))).close();
  });

  it('rotate-master: the new key file is fsynced and its directory too while the store still holds the old master check', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const oldKey = join(dir, 'old.key');
    const newKey = join(dir, 'new.key');
    const store = await initStore(db, keyFile(oldKey, { create: true }));
    await store.put('app/db', new TextEncoder().encode('hunter2'));
    const before = committedMasterCheck(db);

    const { ops, calls } = recording(() => committedMasterCheck(db));
    await store.rotateMaster(keyFile(newKey, { create: true, fileOps: ops }));
    await store.close();

    const tmp = calls[1]!.path!;
    expect(tmp).toMatch(TEMP_OF('new.key'));
    expect(calls).toEqual([
      { op: 'mkdirs', path: dir },
      { op: 'create', path: tmp },
      { op: 'write', path: tmp },
      { op: 'fsync', path: tmp },
      { op: 'close', path: tmp },
      { op: `link ${tmp}`, path: newKey },
      { op: 'unlink', path: tmp },
      { op: 'syncDir', path: dir, store: before }, // durable, and not yet the key of record
    ]);
    expect(committedMasterCheck(db)).not.toBe(before); // then the commit
    const reopened = await openStore(db, keyFile(newKey));
    expect((await reopened.get('app/db')).value.text()).toBe('hunter2');
    await reopened.close();
    await expect(openStore(db, keyFile(oldKey))).rejects.toMatchObject({ code: 'E_WRONG_MASTER_KEY' });
  });

  it('a key file that cannot be written whole is removed (its temp file), and nothing is at its name', () => {
    const dir = tempDir();
    const key = join(dir, 'master.key');
    const failing: FileOps = { ...nodeFileOps, fsync: () => { throw Object.assign(new Error('EIO'), { code: 'EIO' }); } };
    return keyFile(key, { create: true, fileOps: failing }).create(new Uint8Array(16)).then(
      () => expect.unreachable(),
      (e) => {
        expect(e).toMatchObject({ code: 'E_IO' });
        expect(existsSync(key)).toBe(false);
        expect(readdirSync(dir)).toEqual([]);
      },
    );
  });
});
