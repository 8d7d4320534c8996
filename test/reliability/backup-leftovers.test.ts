// A `store backup` killed mid-copy leaves `.<name>.backup-<host>-<pid>-<hex>.tmp`
// (a whole copy of the store) beside the destination; the next backup into
// that directory removes it, and spares what a run in progress could own.
// A real child process, really SIGKILLed while its temp copy exists.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readdirSync, utimesSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initStore, keyFile } from '../../src/index.js';
import { hostTag } from '../../src/platform/process.js';
import { CLI, cleanEnv, cliOk } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

const temps = (dir: string) => readdirSync(dir).filter((f) => f.includes('.backup-') && f.includes('.tmp'));

/** Start `store backup --verify` into `dir` and SIGKILL it as soon as its temp copy appears there. */
async function killedBackup(base: string[], dir: string): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...base, 'backup', '--verify', join(dir, 'nightly.db')], { env: cleanEnv(), stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const watcher = watch(dir, () => {
    if (temps(dir).length > 0) child.kill('SIGKILL');
  });
  try {
    expect(await exited).toBe('SIGKILL'); // killed, not finished
  } finally {
    watcher.close();
  }
}

describe('leftovers of a killed store backup', () => {
  it('the next backup into the directory removes them, and only them', async () => {
    const home = tempDir('strongbox-leftover-');
    const db = join(home, 'store.db');
    const key = join(home, 'master.key');
    const base = ['--store', db, '--keyfile', key];
    const store = await initStore(db, keyFile(key, { create: true }));
    const value = new Uint8Array(64 * 1024).fill(7);
    for (let i = 0; i < 200; i++) await store.put(`big/${i}`, value); // ~13 MiB: the verify pass takes a while
    await store.close();

    const out = tempDir('strongbox-leftover-out-');
    await killedBackup(base, out);
    const left = temps(out);
    expect(left.length).toBeGreaterThan(0);
    expect(left[0]).toMatch(new RegExp(`^\\.nightly\\.db\\.backup-${hostTag()}-\\d+-[0-9a-f]{12}\\.tmp`));

    // What the next run must leave alone: a live process's temp (ours), a fresh
    // one of another host or of the old naming, and files that only look alike.
    const spared = [
      `.other.db.backup-${hostTag()}-${process.pid}-0123456789ab.tmp`,
      '.other.db.backup-00000000-4242-0123456789ab.tmp',
      '.other.db.backup-0123456789ab.tmp',
      '.other.db.restore-0123456789ab.tmp',
      'backup-0123456789ab.tmp',
      '.notes.tmp',
    ];
    for (const f of spared) writeFileSync(join(out, f), 'x');
    // A day-old one of the old naming is a leftover.
    const old = '.old.db.backup-fedcba987654.tmp';
    writeFileSync(join(out, old), 'x');
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    utimesSync(join(out, old), dayAgo, dayAgo);

    cliOk([...base, 'backup', join(out, 'nightly.db')]);
    expect(readdirSync(out).sort()).toEqual([...spared, 'nightly.db'].sort());
  });
});
