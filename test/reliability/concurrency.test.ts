// Several processes write one store at once: no lost write, gap-free
// version numbers, every acknowledged value reads back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { keyFile, openStore, initStore } from '../../src/index.js';
import { workspace } from '../cli/run-cli.js';

const WRITER = resolve('test/reliability/fixtures/writer.mjs');
const WORKERS = 5;
const WRITES = 60;

interface Ack { name: string; version: number; value: string }

function runWriter(db: string, key: string, id: number): Promise<Ack[]> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [WRITER, db, key, String(id), String(WRITES)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? done(JSON.parse(out) as Ack[]) : fail(new Error(`writer ${id} exited ${code}: ${err}`))));
  });
}

describe('concurrent writers', () => {
  const ws = workspace();
  beforeAll(async () => {
    await (await initStore(ws.db, keyFile(ws.key, { create: true }))).close();
  });
  afterAll(() => ws.cleanup());

  it(`${WORKERS} processes × ${WRITES} writes to shared and own names`, async () => {
    const acks = (await Promise.all(Array.from({ length: WORKERS }, (_, i) => runWriter(ws.db, ws.key, i)))).flat();
    const store = await openStore(ws.db, keyFile(ws.key));
    try {
      const shared = acks.filter((a) => a.name === 'shared/counter');
      expect(shared).toHaveLength(WORKERS * WRITES);
      // Every version number handed out once, with no gaps.
      expect(shared.map((a) => a.version).sort((a, b) => a - b)).toEqual(Array.from({ length: WORKERS * WRITES }, (_, i) => i + 1));
      const history = await store.history('shared/counter');
      expect(history.map((h) => h.version)).toEqual(Array.from({ length: WORKERS * WRITES }, (_, i) => i + 1));
      for (const a of acks) {
        const got = await store.get(a.name, { version: a.version });
        expect(got.value.text()).toBe(a.value);
      }
      for (let w = 0; w < WORKERS; w++) {
        const own = await store.get(`own/w${w}`);
        expect(own.version).toBe(WRITES);
        expect(own.value.text()).toBe(`w${w}-${WRITES - 1}`);
      }
    } finally {
      await store.close();
    }
  });
});
