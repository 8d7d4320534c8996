// A full disk, a read-only mount and a missing write permission are named
// for what they are, never "not a Strongbox store" (which sent people to
// restore healthy stores from old backups): a full disk is E_IO, a store
// this user cannot write opens read-only (E_READ_ONLY for what it refuses:
// test/store/read-only.test.ts, test/cli/read-only.test.ts). Real faults: a
// tiny tmpfs filled to the last byte, a read-only bind mount, the CLI run as
// another user (see test/helpers/mounts.ts: root only, as CI runs).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { keyFile, openStore } from '../../src/index.js';
import { CLI, cleanEnv, cli, cliOk } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';
import { asNobody, fillDisk, mountReadOnly, mountTmpfs, NOBODY, unmount } from '../helpers/mounts.js';

const mounted: string[] = [];
afterAll(() => {
  for (const dir of mounted.reverse()) unmount(dir);
});

/** A fresh tmpfs of `size`, unmounted after all tests. */
function tinyDisk(size: string): string {
  const dir = join(tempDir('strongbox-fault-'), 'disk');
  mkdirSync(dir);
  mountTmpfs(dir, size);
  mounted.push(dir);
  return dir;
}

const NOT_A_STORE = /not a Strongbox store/;

describe('a full disk', () => {
  let disk: string;
  let db: string;
  let key: string;
  let filler = '';
  const base = () => ['--store', db, '--keyfile', key];

  beforeAll(() => {
    disk = tinyDisk('256k');
    db = join(disk, 'store.db');
    key = join(tempDir('strongbox-fault-key-'), 'master.key');
  });
  afterEach(() => {
    if (filler) rmSync(filler, { force: true });
    filler = '';
  });

  it('opening a store on it is E_IO "disk is full", and the store is sound once space is freed', async () => {
    cliOk([...base(), 'init', '--master', 'keyfile']);
    cliOk([...base(), 'set', 'app/db'], { input: 'hunter2' });
    filler = fillDisk(disk);

    for (const args of [['get', 'app/db'], ['set', 'app/other'], ['list']]) {
      const r = cli([...base(), ...args], { input: 'x' });
      expect(r.status, r.stderr).toBe(1); // E_IO, not 7
      expect(r.stderr).not.toMatch(NOT_A_STORE);
      expect(r.stderr).toMatch(/disk is full/);
      expect(r.stderr).toMatch(/hint: free some space/);
    }
    await expect(openStore(db, keyFile(key))).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/disk is full/) });
    const doctor = cli([...base(), 'doctor']);
    expect(doctor.out).toMatch(/disk is full/);
    expect(doctor.out).not.toMatch(/if the store was damaged/);

    rmSync(filler);
    filler = '';
    expect(cliOk([...base(), 'get', 'app/db']).out).toBe('hunter2');
  });

  it('store backup onto it is E_IO "disk is full" (not an internal ENOSPC), leaving no temp file', () => {
    const home = tempDir('strongbox-fault-src-');
    const src = ['--store', join(home, 'store.db'), '--keyfile', join(home, 'master.key')];
    cliOk([...src, 'init', '--master', 'keyfile']);
    // Bigger than the whole tmpfs.
    for (let i = 0; i < 8; i++) cliOk([...src, 'set', `big/${i}`], { input: 'v'.repeat(60_000) });
    const r = cli([...src, 'backup', join(disk, 'backup.db')]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.stderr).toMatch(/cannot write the backup .*backup\.db: the disk is full/);
    expect(readdirSync(disk).filter((f) => f.includes('backup'))).toEqual([]);
  });
});

describe('a store the process may not write', () => {
  it('on a read-only mount: read-only, saying why, not "not a store"', async () => {
    const home = tempDir('strongbox-fault-ro-');
    const rw = join(home, 'rw');
    const ro = join(home, 'ro');
    mkdirSync(rw);
    mkdirSync(ro);
    const key = join(home, 'master.key');
    cliOk(['--store', join(rw, 'store.db'), '--keyfile', key, 'init', '--master', 'keyfile']);
    cliOk(['--store', join(rw, 'store.db'), '--keyfile', key, 'set', 'a'], { input: 'v' });
    mountReadOnly(rw, ro);
    try {
      // The store audits reads (the default), and its log cannot be written here.
      const r = cli(['--store', join(ro, 'store.db'), '--keyfile', key, 'get', 'a']);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(NOT_A_STORE);
      expect(r.stderr).toMatch(/file system holding .*ro is read-only/);
      expect(r.stderr).toMatch(/hint: to let read-only consumers read it, turn read auditing off/);
      // Asked to open it for writing, as before: E_IO naming the cause.
      await expect(openStore(join(ro, 'store.db'), keyFile(key), { readOnly: false })).rejects.toMatchObject({
        code: 'E_IO', message: expect.stringMatching(/file system holding .*ro is read-only/), hints: [expect.stringMatching(/remount it read-write/)],
      });
    } finally {
      unmount(ro); // before the temp dir under it is removed
    }
  });

  /** The built CLI run as `nobody` (root writes anything, whatever the modes say). */
  function cliAsNobody(args: string[], home: string) {
    // A config home of its own that does not exist: the shared one may have been made by root, unreadable to nobody.
    const env = cleanEnv({ XDG_CONFIG_HOME: join(home, 'no-config') });
    const r = spawnSync(asNobody()[0]!, [...asNobody().slice(1), process.execPath, CLI, ...args], { env, input: '' });
    return { status: r.status ?? -1, stderr: r.stderr.toString(), out: r.stdout.toString() };
  }

  it('without read permission: E_IO "permission denied"; without write permission on the directory: read-only, saying why', () => {
    const home = tempDir('strongbox-fault-perm-');
    chmodSync(home, 0o755); // nobody may enter, not write
    const db = join(home, 'store.db');
    const key = join(home, 'master.key');
    cliOk(['--store', db, '--keyfile', key, 'init', '--master', 'keyfile']);
    cliOk(['--store', db, '--keyfile', key, 'set', 'a'], { input: 'v' });
    chownSync(key, NOBODY, NOBODY); // the key is theirs: only the store is out of reach

    // The file is root's, 0600.
    let r = cliAsNobody(['--store', db, '--keyfile', key, 'get', 'a'], home);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(NOT_A_STORE);
    expect(r.stderr).toMatch(/permission denied on .*store\.db/);

    expect(r.stderr).toMatch(/hint: run as the user who owns the store/);

    // Readable, but SQLite cannot create its -wal and -shm in the directory: read-only, and it audits reads.
    const copy = join(home, 'copy.db');
    copyFileSync(db, copy);
    chmodSync(copy, 0o644);
    r = cliAsNobody(['--store', copy, '--keyfile', key, 'get', 'a'], home);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(NOT_A_STORE);
    expect(r.stderr).toMatch(/it is open read-only here \(this user may not write .*strongbox-fault-perm-[^/]*\)/);
  });
});

describe('store import of a directory', () => {
  it('is E_USAGE (exit 2) saying it is a directory, not an internal EISDIR', () => {
    const home = tempDir('strongbox-import-dir-');
    const base = ['--store', join(home, 'store.db'), '--keyfile', join(home, 'master.key')];
    cliOk([...base, 'init', '--master', 'keyfile']);
    const r = cli([...base, 'import', home]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/is a directory/);
    expect(r.stderr).not.toMatch(/internal error/);
  });
});
