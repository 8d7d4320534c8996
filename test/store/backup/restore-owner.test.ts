/**
 * A restore keeps the replaced store file's owner, group and mode: the
 * restored store is used by whoever used the old one (an app user that
 * reads it through its group, a service user that owns it while root
 * restores). Never looser than the old file.
 */
import { chmodSync, chownSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rawKey, restoreStore } from '../../../src/index.js';
import { freshStore, reopenStore } from '../../helpers/store.js';

const isRoot = process.getuid?.() === 0;

/** A store with a backup beside it, closed: the store's path, the backup and the key. */
async function backedUp(): Promise<{ path: string; file: string; key: Uint8Array }> {
  const { store, path, dir, key } = await freshStore();
  await store.put('a/x', 'v1');
  const file = join(dir, 'backup.db');
  await store.backup(file);
  await store.close();
  return { path, file, key };
}

describe('restore keeps the store file\'s owner and mode', () => {
  it('a store of mode 0640 stays 0640 after a restore', async () => {
    const { path, file, key } = await backedUp();
    chmodSync(path, 0o640);
    await restoreStore(path, file, rawKey(key));
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect((await (await reopenStore(path, key)).get('a/x')).value.text()).toBe('v1');
  });

  it.runIf(isRoot)('a store owned by another user and group (restored by root) keeps its owner, group and mode', async () => {
    const { path, file, key } = await backedUp();
    chownSync(path, 65534, 65533);
    chmodSync(path, 0o640);
    await restoreStore(path, file, rawKey(key));
    const st = statSync(path);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ uid: 65534, gid: 65533, mode: 0o640 });
  });

  it('a store of mode 0600 stays 0600 (nothing looser)', async () => {
    const { path, file, key } = await backedUp();
    chmodSync(path, 0o600);
    await restoreStore(path, file, rawKey(key));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
