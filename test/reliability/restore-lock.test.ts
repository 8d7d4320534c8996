// A `store restore` killed as it takes the store's exclusive lock: the next
// exclusive operation must not be refused (or wait 15 s for the lock to go
// stale) because the dead holder had not yet recorded itself as the owner.
// Real child processes, really SIGKILLed (or SIGSTOPped) while holding the lock.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { initStore, keyFile } from '../../src/index.js';
import { CLI, cleanEnv, cli, cliOk } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

/** A key-file store big enough that a restore's verify pass takes a while, and a backup of it. */
async function storeWithBackup() {
  const dir = tempDir('strongbox-restore-lock-');
  const db = join(dir, 'store.db');
  const key = join(dir, 'master.key');
  const store = await initStore(db, keyFile(key, { create: true }));
  const value = new Uint8Array(64 * 1024).fill(3);
  for (let i = 0; i < 200; i++) await store.put(`big/${i}`, value);
  await store.close();
  const backup = join(dir, 'backup.db');
  const base = ['--store', db, '--keyfile', key];
  cliOk([...base, 'backup', backup]);
  return { db, key, backup, base };
}

/** Start `store restore`, and send `signal` to it the moment its `<store>.lock` appears. */
async function restoreSignalledAtLock(base: string[], db: string, backup: string, signal: NodeJS.Signals): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, ...base, 'restore', backup], { env: cleanEnv(), stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(dirname(db), () => {
      if (!existsSync(`${db}.lock`)) return;
      child.kill(signal);
      watcher.close();
      resolve();
    });
    void exited.then(() => {
      watcher.close();
      reject(new Error('restore finished before its lock was seen'));
    });
  });
  if (signal === 'SIGKILL') await exited;
  return child;
}

/**
 * What a restore killed between taking the lock and recording its owner (or
 * between removing the record and releasing) leaves: the lock directory and
 * no owner record. SIGKILL rarely lands in that instant by itself, so the
 * record, if it was written, is removed here.
 */
function forgetOwner(db: string): void {
  rmSync(`${db}.lock-owner`, { force: true });
}

describe('a restore killed while it holds the exclusive lock', () => {
  it('leaves no lock that blocks the next exclusive operation, owner recorded or not', async () => {
    const s = await storeWithBackup();
    await restoreSignalledAtLock(s.base, s.db, s.backup, 'SIGKILL');
    expect(existsSync(`${s.db}.lock`)).toBe(true); // the dead holder's lock is there
    forgetOwner(s.db);

    const started = Date.now();
    const r = cli([...s.base, 'rotate-keys']); // no --wait: a lock held by anyone alive would be exit 75
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000); // not the 15 s stale period
    // And the restore itself can be run again.
    cliOk([...s.base, 'restore', s.backup]);
    expect(existsSync(`${s.db}.lock`)).toBe(false);
    expect(readdirSync(dirname(s.db)).filter((f) => f.startsWith(`${basename(s.db)}.lock-claim-`))).toEqual([]); // dead claims cleared
  });

  it('a live holder whose owner is not recorded yet is never taken over, even under an old dead owner record', async () => {
    const s = await storeWithBackup();
    const child = await restoreSignalledAtLock(s.base, s.db, s.backup, 'SIGSTOP'); // alive, lock held
    try {
      forgetOwner(s.db);
      let r = cli([...s.base, 'rotate-keys']);
      expect(r.status, r.stderr).toBe(75); // E_LOCKED
      // The record an earlier, killed holder left (its pid is gone) does not name this holder.
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
      writeFileSync(`${s.db}.lock-owner`, JSON.stringify({ host: hostname(), pid: dead }));
      r = cli([...s.base, 'rotate-keys']);
      expect(r.status, r.stderr).toBe(75);
      expect(existsSync(`${s.db}.lock`)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
    }
    expect(cli([...s.base, 'rotate-keys']).status).toBe(0); // now dead: taken over at once
  });
});
