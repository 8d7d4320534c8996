/**
 * store init builds the new store file under a temporary name beside its
 * path and links it into place only once its header has committed: an init
 * that fails (or is killed) half way leaves nothing at the path, and the
 * next init into that directory removes what a killed one left.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey } from '../../src/index.js';
import { hostTag } from '../../src/platform/process.js';
import { tempDir } from '../helpers/tmp.js';

function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('init places a whole store, or nothing', () => {
  it('an init that fails after its file was made leaves no file at the path, and the next init works', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const key = new Uint8Array(randomBytes(32));
    let calls = 0;
    // The clock fails once the store file exists (its first audit entry asks for the time).
    const now = () => {
      if (++calls > 1) throw new Error('clock broke');
      return Date.now();
    };
    await expect(initStore(path, rawKey(key), { now })).rejects.toThrow(/clock broke/);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);

    const store = await initStore(path, rawKey(key));
    await store.put('a/x', 'v1');
    await store.close();
    const again = await openStore(path, rawKey(key));
    try {
      expect((await again.get('a/x')).value.text()).toBe('v1');
    } finally {
      await again.close();
    }
  });

  it('a killed init\'s temp file (a dead pid) is removed by the next init into that directory', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const left = join(dir, `.store.db.init-${hostTag()}-${deadPid()}-${'ab12'.repeat(3)}.tmp`);
    writeFileSync(left, 'half a store');
    writeFileSync(`${left}-wal`, 'its wal');
    const store = await initStore(path, rawKey(new Uint8Array(randomBytes(32))));
    await store.close();
    expect(readdirSync(dir).sort()).toEqual(['store.db']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('a live init\'s temp file (this process) is left alone', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    const busy = join(dir, `.other.db.init-${hostTag()}-${process.pid}-${'cd34'.repeat(3)}.tmp`);
    writeFileSync(busy, 'in progress');
    const store = await initStore(path, rawKey(new Uint8Array(randomBytes(32))));
    await store.close();
    expect(existsSync(busy)).toBe(true);
  });

  it('an existing file at the path is refused before anything is made, and left as it was', async () => {
    const dir = tempDir();
    const path = join(dir, 'store.db');
    writeFileSync(path, 'not mine');
    await expect(initStore(path, rawKey(new Uint8Array(randomBytes(32))))).rejects.toMatchObject({ code: 'E_STORE_EXISTS' });
    expect(readdirSync(dir)).toEqual(['store.db']);
  });
});
