// Other processes opening the store while rotate-master runs from cron, over
// and over: each open reads the header, then the integrity key, then the
// data keys; a rotation that commits in between mixed the old with the new,
// and the open failed with a false E_TAMPERED (or E_WRONG_MASTER_KEY for the
// key the store names). Each open must see the store as of before or after.
// Real processes (the built library), one rotating in this one.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { initStore, keyFile } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';

/** Opens (with the key file the header names) and gets, until `stop` exists; prints its outcomes as JSON. */
const READER = `
const { existsSync } = await import('node:fs');
const { openStore, keyFile } = await import(process.env.LIB);
const outcomes = {};
while (!existsSync(process.env.STOP)) {
  const outcome = await openStore(process.env.DB, (p) => keyFile(p.keyfile)).then(async (s) => {
    try { return (await s.get('db/password')).value.text(); } finally { await s.close(); }
  }, (e) => e.code + ': ' + e.message);
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}
console.log(JSON.stringify(outcomes));
`;

describe('opening while rotate-master runs in another process', () => {
  it('every open in three reader processes answers the value, through 80 rotations', async () => {
    const dir = tempDir();
    const db = join(dir, 'store.db');
    const files = [join(dir, 'a.key'), join(dir, 'b.key')];
    const stop = join(dir, 'stop');
    const store = await initStore(db, keyFile(files[0]!, { create: true }));
    await store.put('db/password', 'hunter2');
    await store.rotateMaster(keyFile(files[1]!, { create: true }));
    const env = { ...process.env, LIB: pathToFileURL(resolve('dist/index.js')).href, DB: db, STOP: stop };
    const readers = Array.from({ length: 3 }, () => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', READER], { env, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      return new Promise<Record<string, number>>((done, fail) => child.on('close', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(`reader exited ${code}`)))));
    });
    try {
      for (let i = 0; i < 80; i++) {
        await store.rotateMaster(keyFile(files[i % 2]!));
        await new Promise((r) => setTimeout(r, 3)); // back to back, but not one commit on the next: a cron job's never are
      }
    } finally {
      writeFileSync(stop, '');
      await store.close();
    }
    const tallies = await Promise.all(readers);
    for (const t of tallies) {
      expect(Object.keys(t)).toEqual(['hunter2']);
      expect(t.hunter2).toBeGreaterThan(5);
    }
  }, 120_000);
});
