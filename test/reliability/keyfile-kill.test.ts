// A process killed while it writes a new key file (init creating one,
// rotate-master --new-keyfile) leaves nothing at the key file's path: the
// key is written under a temp name beside it and linked into place only once
// whole and fsynced (src/platform/durable-file.ts placeNewFileDurably). The
// rerun the house rules allow then works, and removes the killed run's temp
// file, which holds key material, once its process is gone. It used to leave
// an empty key file at the path, and the rerun failed with "key file … must
// hold 32 bytes in base64".
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createKeyFile, initStore, keyFile, openStore } from '../../src/index.js';
import { nodeFileOps, type FileOps } from '../../src/platform/durable-file.js';
import { removeLeftovers } from '../../src/platform/leftovers.js';
import { hostTag } from '../../src/platform/process.js';
import { tempDir } from '../helpers/tmp.js';

const KILLER = resolve('test/reliability/fixtures/keyfile-killer.mjs');
/** The temp name a key file `master.key` is written under. */
const TEMP = /^\.master\.key\.keyfile-[0-9a-f]{8}-[1-9][0-9]*-[0-9a-f]{12}\.tmp$/;

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

const temps = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

describe.each(['init', 'rotate'] as const)('%s killed while its new key file is written', (mode) => {
  it.each(['write', 'fsync'] as const)('killed at the %s step: no key file at the path; the rerun works and removes the temp file', async (step) => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const key = join(dir, 'master.key');
    if (mode === 'rotate') {
      const store = await initStore(db, keyFile(`${key}.old`, { create: true }));
      await store.put('app/db', 'the-value');
      await store.close();
    }

    const child = spawnSync(process.execPath, [KILLER, mode, db, key, step], { encoding: 'utf8', timeout: 60_000 });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(existsSync(key)).toBe(false);
    const left = temps(dir);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(TEMP);
    expect(statSync(join(dir, left[0]!)).mode & 0o777).toBe(0o600);

    if (mode === 'init') {
      expect(existsSync(db)).toBe(false);
      const store = await initStore(db, keyFile(key, { create: true }));
      await store.put('app/db', 'the-value');
      await store.close();
    } else {
      const old = await openStore(db, keyFile(`${key}.old`)); // nothing lost: the old key still opens it
      expect((await old.get('app/db')).value.text()).toBe('the-value');
      await old.rotateMaster(keyFile(key, { create: true }));
      await old.close();
    }
    expect(readFileSync(key, 'utf8')).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const reopened = await openStore(db, keyFile(key));
    expect((await reopened.get('app/db')).value.text()).toBe('the-value');
    await reopened.close();
    expect(temps(dir)).toEqual([]); // the dead run's temp file (key material) is gone too
  });
});

describe('a key file that cannot be linked into place', () => {
  const failingLink = (code: string): FileOps => ({
    ...nodeFileOps,
    link: () => {
      throw Object.assign(new Error(code), { code });
    },
  });

  it('a failed link (EIO) is E_IO, and leaves neither the key file nor its temp file', () => {
    const dir = tempDir();
    const key = join(dir, 'master.key');
    expect(() => createKeyFile(key, failingLink('EIO'))).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining('EIO') }));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a key file made at the path meanwhile is never replaced (link: EEXIST), and the temp file is removed', () => {
    const dir = tempDir();
    const key = join(dir, 'master.key');
    const ops: FileOps = {
      ...nodeFileOps,
      link: (from, to) => {
        writeFileSync(to, 'someone else\n', { mode: 0o600 }); // another process got there first
        nodeFileOps.link(from, to);
      },
    };
    expect(() => createKeyFile(key, ops)).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining('EEXIST') }));
    expect(readFileSync(key, 'utf8')).toBe('someone else\n');
    expect(readdirSync(dir)).toEqual(['master.key']);
  });
});

describe('temp key files left by killed runs', () => {
  it('the next key file made in the directory removes those of dead processes, and keeps those of live ones and anything else', () => {
    const dir = tempDir();
    const dead = `.a.key.keyfile-${hostTag()}-${deadPid()}-${'ab12'.repeat(3)}.tmp`;
    const live = `.b.key.keyfile-${hostTag()}-${process.ppid}-${'cd34'.repeat(3)}.tmp`; // the test runner: alive
    const foreignNew = `.c.key.keyfile-00000000-${deadPid()}-${'ef56'.repeat(3)}.tmp`; // another host's: its pid means nothing here
    const other = '.d.key.init-deadbeef-1-abcdefabcdef.tmp';
    for (const n of [dead, live, foreignNew, other]) writeFileSync(join(dir, n), 'k\n', { mode: 0o600 });

    createKeyFile(join(dir, 'master.key'));
    expect(readdirSync(dir).sort()).toEqual([live, foreignNew, other, 'master.key'].sort());
    // Another host's leftover goes once it is a day old.
    expect(removeLeftovers(dir, 'keyfile', Date.now() + 25 * 60 * 60 * 1000)).toEqual([foreignNew]);
  });
});
