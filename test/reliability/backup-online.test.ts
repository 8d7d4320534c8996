// An online backup: `store backup` runs while two other processes write the
// store continuously. It finishes, the backup opens and passes verify --deep,
// and it holds every write acknowledged before the backup began. Both ways
// of copying: a small store is copied whole while writers are held off for
// the copy; one over 64 MiB goes through SQLite's backup API, which restarts
// whenever the writers commit between its steps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initStore, keyFile, openStore } from '../../src/index.js';
import { CLI, cleanEnv, workspace } from '../cli/run-cli.js';

const WRITER = resolve('test/reliability/fixtures/backup-writer.mjs');

const CASES = [
  // Larger than one step of the backup API (1024 pages of 4 KiB), should it come to that.
  { label: 'a 6 MiB store (copied whole)', versions: 1500, bytes: 3000, minSize: 1024 * 4096 },
  // Over the 64 MiB held-copy limit: the backup API.
  { label: 'a 70 MiB store (backup API)', versions: 70, bytes: 1_000_000, minSize: 64 * 1024 * 1024 },
];

interface Ack { name: string; version: number; value: string; at: number }
interface WriterResult { acks: Ack[]; failures: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Writer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly result: Promise<WriterResult>;
  acked = 0;

  constructor(db: string, key: string, id: number) {
    this.child = spawn(process.execPath, [WRITER, db, key, String(id)], { env: cleanEnv() });
    let pending = '';
    let last = '';
    let err = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (d: string) => {
      pending += d;
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.startsWith('acked ')) this.acked = Number(line.slice(6));
        else last = line;
      }
    });
    this.child.stderr.on('data', (d) => (err += d));
    this.result = new Promise((done, fail) => {
      this.child.on('close', (code) => {
        if (code === 0 && last.startsWith('{')) done(JSON.parse(last) as WriterResult);
        else fail(new Error(`writer ${id} exited ${code}: ${err}`));
      });
    });
  }

  async until(acks: number, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.acked < acks) {
      if (Date.now() > end) throw new Error(`writer stuck at ${this.acked} acks`);
      await sleep(20);
    }
  }

  stop(): Promise<WriterResult> {
    this.child.stdin.write('stop\n');
    return this.result;
  }
}

function runCli(args: string[]): Promise<{ status: number; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv() });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => done({ status: code ?? -1, out, err }));
  });
}

describe.each(CASES)('online backup of $label', ({ versions, bytes, minSize }) => {
  const ws = workspace();
  beforeAll(async () => {
    const store = await initStore(ws.db, keyFile(ws.key, { create: true }));
    const big = 'x'.repeat(bytes);
    for (let i = 0; i < versions; i++) await store.put(`fill/s${i % 30}`, `${i}:${big}`);
    await store.close();
  });
  afterAll(() => ws.cleanup());

  it('taken while 2 processes write continuously: verified, and holds every write acknowledged before it began', async () => {
    expect(statSync(ws.db).size).toBeGreaterThan(minSize);
    const writers = [new Writer(ws.db, ws.key, 0), new Writer(ws.db, ws.key, 1)];
    let results: WriterResult[];
    const file = join(ws.dir, 'online.db');
    let backup: { status: number; out: string; err: string };
    let began: number;
    let ended: number;
    try {
      await Promise.all(writers.map((w) => w.until(40)));
      began = Date.now();
      backup = await runCli([...ws.base, 'backup', file, '--verify', '--json']);
      ended = Date.now();
      const after = writers.map((w) => w.acked);
      await Promise.all(writers.map((w, i) => w.until(after[i]! + 20))); // still writing afterwards
    } finally {
      results = await Promise.all(writers.map((w) => w.stop()));
    }
    expect(backup.err).toBe('');
    expect(backup.status).toBe(0);
    expect(JSON.parse(backup.out).verified).toMatchObject({ ok: true, deep: true, problems: [] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    for (const r of results) expect(r.failures).toEqual([]);

    const acks = results.flatMap((r) => r.acks);
    const before = acks.filter((a) => a.at < began);
    expect(before.length).toBeGreaterThanOrEqual(80);
    // The writers were not held off while the backup ran.
    expect(acks.filter((a) => a.at > began && a.at < ended).length).toBeGreaterThan(0);

    const verify = await runCli(['--store', file, '--keyfile', ws.key, 'verify', '--deep', '--json']);
    expect(verify.status).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, problems: [] });

    const copy = await openStore(file, keyFile(ws.key));
    try {
      for (const a of before) {
        const got = await copy.get(a.name, { version: a.version });
        expect(got.value.text()).toBe(a.value);
      }
      expect((await copy.status()).versions).toBeGreaterThanOrEqual(versions + before.length);
    } finally {
      await copy.close();
    }
  });
});
