// store audit on a big log: the table and --json are written as the entries
// are read (a page at a time), waiting for stdout to take each chunk, never
// one string of the whole log (which hit V8's string limit at ~4M entries)
// nor Math.max(...) over every row (a stack overflow above ~126k rows).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { keyFile, openStore, withAuditContext } from '../../src/index.js';
import { table } from '../../src/cli/context.js';
import type { Io, Output } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';
import { runInProcess } from '../helpers/in-process.js';
import { cleanEnv, workspace } from './run-cli.js';

/** Entries in the big log: above the ~126k rows where Math.max(...rows) overflowed the stack. */
const BIG = 150_000;

/**
 * A stdout that takes a chunk only when the test's event loop comes round to
 * it (a slow pipe), and records how the command wrote: the largest chunk,
 * and how many chunks were ever handed over before the previous was taken.
 */
function slowStdout(): { stream: Output; text: () => string; writes: () => number; largest: () => number; mostPending: () => number } {
  const chunks: Buffer[] = [];
  let pending = 0;
  let mostPending = 0;
  let largest = 0;
  const stream: Output = {
    write(data, done) {
      const b = Buffer.from(data);
      chunks.push(b);
      largest = Math.max(largest, b.length);
      mostPending = Math.max(mostPending, ++pending);
      setImmediate(() => {
        pending -= 1;
        done?.();
      });
      return false;
    },
  };
  return {
    stream,
    text: () => Buffer.concat(chunks).toString(),
    writes: () => chunks.length,
    largest: () => largest,
    mostPending: () => mostPending,
  };
}

async function runWithStdout(argv: string[], stdout: Output): Promise<{ status: number; err: string }> {
  const err: string[] = [];
  const io: Io = {
    stdin: Readable.from([]), stdout, stderr: { write: (d, done) => { err.push(String(d)); if (done) setImmediate(done); return true; } },
    env: cleanEnv(), stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
  };
  const status = await run(argv, io);
  return { status, err: err.join('') };
}

describe('table()', () => {
  it('aligns 200k rows (no spread of every row into Math.max)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => [String(i), i === 123_456 ? 'the-longest-cell' : 'x', 'last']);
    const lines = table(['N', 'WHAT', 'END'], rows).split('\n');
    expect(lines).toHaveLength(200_001);
    expect(lines[0]).toBe('N       WHAT              END');
    expect(lines[1]).toBe('0       x                 last');
    expect(lines[200_000]).toBe('199999  x                 last');
  });

  it('is unchanged for a small table: columns as wide as their widest cell, the last one not padded', () => {
    expect(table(['A', 'BB', 'C'], [['xyz', '1', 'tail'], ['q', '', '']])).toBe('A    BB  C\nxyz  1   tail\nq        ');
    expect(table(['A', 'B'], [])).toBe('A  B');
  });
});

describe('store audit on a big log', () => {
  let ws: ReturnType<typeof workspace>;
  const store = (...args: string[]) => [...ws.base, ...args];

  beforeAll(async () => {
    ws = workspace();
    expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
    expect((await runInProcess(store('set', 'app/db'), { input: 'CANARY-big-audit' })).status).toBe(0);
    // Audited reads made together share their commits (up to 1,000 entries each): ~150k entries in a few seconds.
    const s = await openStore(ws.db, keyFile(ws.key));
    try {
      for (let done = 2; done < BIG; done += 1000) {
        const n = Math.min(1000, BIG - done);
        await withAuditContext({ detail: 'bulk' }, () => Promise.all(Array.from({ length: n }, () => s.get('app/db'))));
      }
    } finally {
      await s.close();
    }
  });
  afterAll(() => ws.cleanup());

  it('--json prints every entry as one JSON array, written a chunk at a time as stdout takes it', async () => {
    const out = slowStdout();
    const r = await runWithStdout(store('audit', '--json'), out.stream);
    expect(r.status, r.err).toBe(0);
    const text = out.text();
    expect(text.endsWith(']\n')).toBe(true);
    expect(text.indexOf('\n')).toBe(text.length - 1); // one line
    const all = JSON.parse(text) as { seq: number; action: string; detail?: string }[];
    expect(all).toHaveLength(BIG);
    expect(all.every((e, i) => e.seq === i + 1)).toBe(true);
    expect(all[0]!.action).toBe('init');
    expect(all[BIG - 1]).toMatchObject({ action: 'get', detail: '[bulk]' });
    expect(text).not.toContain('CANARY');
    // Streamed: many chunks, none near the whole (~20 MB), and never a second one handed over before the first was taken.
    expect(out.writes()).toBeGreaterThan(100);
    expect(out.largest()).toBeLessThan(1 << 20);
    expect(out.mostPending()).toBe(1);
  });

  it('the table lists every entry, aligned, also written as stdout takes it', async () => {
    const out = slowStdout();
    const r = await runWithStdout(store('audit'), out.stream);
    expect(r.status, r.err).toBe(0);
    const lines = out.text().split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(BIG + 1);
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+PID\s+ACTION\s+NAME\s+VERSIONS\s+OUTCOME\s+DETAIL$/);
    // Every row's TIME starts where the header's does: one width for the whole table.
    const timeAt = lines[0]!.indexOf('TIME');
    expect(timeAt).toBe('150000'.length + 2);
    expect(lines.every((l, i) => i === 0 || /^\d{4}-\d\d-\d\dT/.test(l.slice(timeAt)))).toBe(true);
    expect(lines[1]).toMatch(/^1 {7}\d{4}-\d\d-\d\dT\S+Z {2}/);
    expect(lines[BIG]).toMatch(/^150000 {2}.* get +app\/db +1 +ok +\[bulk\]$/);
    expect(out.largest()).toBeLessThan(1 << 20);
    expect(out.mostPending()).toBe(1);
  });

  it('a filter that matches nothing prints [] with --json, and a note without', async () => {
    expect((await runInProcess(store('audit', '--since', '2999-01-01T00:00:00Z', '--json'))).out).toBe('[]\n');
    const none = await runInProcess(store('audit', '--action', 'nothing-like-it'));
    expect(none.status).toBe(0);
    expect(none.out).toBe('');
    expect(none.err).toBe('store: no audit entries match\n');
  });
});

describe('store audit on a small log: output byte for byte as before', () => {
  it('--json is JSON.stringify of the entries on one line; the table is table() of their rows', async () => {
    const ws = workspace();
    try {
      const store = (...args: string[]) => [...ws.base, ...args];
      await runInProcess(store('init', '--master', 'keyfile'));
      await runInProcess(store('set', 'app/db'), { input: 'v' });
      await runInProcess(store('get', 'app/db'));
      await runInProcess(store('get', 'app/missing'));
      const s = await openStore(ws.db, keyFile(ws.key));
      const entries = [];
      try {
        for await (const e of s.auditEntries()) entries.push(e);
      } finally {
        await s.close();
      }
      expect(entries.length).toBeGreaterThanOrEqual(4);
      expect((await runInProcess(store('audit', '--json'))).out).toBe(`${JSON.stringify(entries)}\n`);
      const rows = entries.map((e) => [String(e.seq), e.at.toISOString(), e.actor, String(e.pid), e.action, e.name ?? '-',
        e.versions?.join(',') ?? '-', e.outcome, e.detail ?? '']);
      expect((await runInProcess(store('audit'))).out)
        .toBe(`${table(['SEQ', 'TIME', 'ACTOR', 'PID', 'ACTION', 'NAME', 'VERSIONS', 'OUTCOME', 'DETAIL'], rows)}\n`);
    } finally {
      ws.cleanup();
    }
  });
});
