/**
 * The file an export writes takes its name only once it is whole: it is
 * written under `.<name>.export-<host>-<pid>-<hex>.tmp` beside it and linked
 * into place. An export that fails or is stopped leaves neither; one killed
 * outright leaves the temp file, which the next export into the directory
 * removes (sparing a run in progress).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostTag } from '../../../src/platform/process.js';
import { rejectionError as caught } from '../../helpers/errors.js';
import { freshStore } from '../../helpers/store.js';
import { tempDir } from '../../helpers/tmp.js';

const KEY = { key: new Uint8Array(32).fill(9) };

async function storeOf(secrets: number) {
  const { store } = await freshStore();
  for (let i = 0; i < secrets; i++) await store.put(`APP_S${String(i).padStart(4, '0')}`, `value-${i}`); // .env names: no "/"
  return store;
}

describe('the files an export writes', () => {
  it('an export stopped by its signal writes nothing: no file under its name, no temp file beside it', async () => {
    const store = await storeOf(600);
    const out = tempDir();
    const stopped = new AbortController();
    stopped.abort();
    const cases = [
      () => store.exportBundle(join(out, 'all.sbx'), { key: KEY, signal: stopped.signal }),
      () => store.exportPlain(join(out, 'all.env'), { format: 'env', signal: stopped.signal }),
      () => store.exportBundle(join(out, 'all.age'), { recipients: ['age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'], signal: stopped.signal }),
    ];
    for (const run of cases) {
      const e = await caught(run());
      expect(e.code).toBe('E_INTERRUPTED');
      expect(e.message).toMatch(/^the export to \S+ was interrupted: nothing was written$/);
    }
    expect(readdirSync(out)).toEqual([]);
    // Not aborted: the same exports finish, and only the files asked for are left.
    await store.exportBundle(join(out, 'all.sbx'), { key: KEY, signal: new AbortController().signal });
    await store.exportPlain(join(out, 'all.env'), { format: 'env' });
    expect(readdirSync(out).sort()).toEqual(['all.env', 'all.sbx']);
  });

  it('an export refused half-way (a value .env cannot hold) leaves no temp file', async () => {
    const { store } = await freshStore();
    await store.put('fine', 'x');
    await store.put('bad', new Uint8Array([0xff, 0xfe]));
    const out = tempDir();
    expect((await caught(store.exportPlain(join(out, 'all.env'), { format: 'env' }))).code).toBe('E_INVALID_VALUE');
    expect(readdirSync(out)).toEqual([]);
  });

  it('never writes over a file, even one that appears while it runs', async () => {
    const store = await storeOf(3);
    const out = tempDir();
    writeFileSync(join(out, 'taken.sbx'), 'mine');
    const e = await caught(store.exportBundle(join(out, 'taken.sbx'), { key: KEY }));
    expect([e.code, e.message]).toEqual(['E_USAGE', `${join(out, 'taken.sbx')} already exists; export never overwrites a file`]);
    expect(readdirSync(out)).toEqual(['taken.sbx']);
  });

  it('the next export into a directory removes what a killed one left there, and spares a run in progress', async () => {
    const store = await storeOf(3);
    const out = tempDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    const leftover = `.all.env.export-${hostTag()}-${dead}-0123456789ab.tmp`;
    const running = `.all.env.export-${hostTag()}-${process.pid}-0123456789ab.tmp`;
    const backup = `.nightly.db.backup-${hostTag()}-${dead}-0123456789ab.tmp`;
    for (const f of [leftover, running, backup]) writeFileSync(join(out, f), 'API_KEY=leaked\n', { mode: 0o600 });
    await store.exportPlain(join(out, 'other.env'), { format: 'env' });
    expect(existsSync(join(out, leftover))).toBe(false);
    expect(readdirSync(out).sort()).toEqual([backup, running, 'other.env'].sort());
  });
});
