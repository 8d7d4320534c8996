/**
 * --json for log shippers: every command prints one JSON document on one
 * line; the reports of operations start with `time` (RFC 3339, UTC), what data
 * commands print keeps its shape. In-process through run(argv, io).
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { jsonLine, stamped } from '../../src/cli/json-output.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];

const store = (args: string[], input = '') => runInProcess([...base, ...args], { input });

/** Run a command that must succeed (or exit `status`) and return its one JSON line, parsed. */
async function oneLine(args: string[], status = 0): Promise<unknown> {
  const r = await store(args);
  expect(r.status, r.err).toBe(status);
  expect(r.out.endsWith('\n'), r.out).toBe(true);
  expect(r.out.slice(0, -1), 'a single line').not.toContain('\n');
  return JSON.parse(r.out);
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
  expect((await store(['set', 'app/db'], 'first\nline')).status).toBe(0);
  expect((await store(['set', 'app/db'], 'second')).status).toBe(0);
  expect((await store(['policy', 'set', 'app/db', '--rotate-every', '1s'])).status).toBe(0);
});

describe('--json output', () => {
  it('reports of operations are one line whose first field is the time it was printed', async () => {
    const reports: [string[], number?][] = [
      [['status', '--json']],
      [['stats', '--json']],
      [['stats', '--format', 'json']],
      [['verify', '--json']],
      [['doctor', '--json']],
      [['check', '--require', 'app/db', '--json']],
      [['check', '--require', 'app/missing', '--json'], 10],
      [['audit', 'verify', '--json']],
      [['audit', 'prune', '--before', '2000-01-01T00:00:00Z', '--json']],
      [['backup', join(dir, 'b1.db'), '--json']],
      [['export', join(dir, 'x.bundle'), '--recipient-keyfile', join(dir, 'bundle.key'), '--json']],
      [['import', join(dir, 'x.bundle'), '--recipient-keyfile', join(dir, 'bundle.key'), '--json']],
      [['rotate-keys', '--json']],
      [['rotate-master', '--to', 'keyfile', '--new-keyfile', join(dir, 'master2.key'), '--json']],
    ];
    for (const [args, status] of reports) {
      const before = Date.now();
      const r = (await oneLine(args, status)) as Record<string, unknown>;
      expect(Object.keys(r)[0], args.join(' ')).toBe('time');
      expect(r.time).toMatch(RFC3339_UTC);
      const t = Date.parse(r.time as string);
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(Date.now());
      if (args[0] === 'rotate-master') base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master2.key')];
    }
  });

  it('data keeps its shape (lists stay lists, no time added), on one line even when a value holds a newline', async () => {
    expect(await oneLine(['get', 'app/db', '--version', '1', '--json'])).toMatchObject({ name: 'app/db', version: 1, value: 'first\nline' });
    expect(await oneLine(['get', 'app/db', '--json'])).not.toHaveProperty('time');
    const list = await oneLine(['list', '--json']);
    expect(Array.isArray(list) && list.map((s: { name: string }) => s.name)).toEqual(['app/db']);
    expect(await oneLine(['history', 'app/db', '--json'])).toMatchObject({ name: 'app/db', versions: [{ version: 1 }, { version: 2 }] });
    expect(Array.isArray(await oneLine(['audit', '--json']))).toBe(true);
    expect(Array.isArray(await oneLine(['keys', '--json']))).toBe(true);
    expect(await oneLine(['env', '--only', 'app/db', '--json'])).toEqual({ APP_DB: 'second' });
    await new Promise((r) => setTimeout(r, 1100)); // the 1s rotation policy falls due
    const due = await oneLine(['due', '--json'], 10);
    expect(Array.isArray(due) && due.map((d: { name: string }) => d.name)).toEqual(['app/db']);
  });
});

describe('json-output', () => {
  it('jsonLine is compact with one newline; stamped puts time first and keeps every field', () => {
    expect(jsonLine({ a: [1, { b: 'x\ny' }] })).toBe('{"a":[1,{"b":"x\\ny"}]}\n');
    expect(jsonLine(undefined)).toBe('null\n');
    const at = new Date(Date.UTC(2026, 11, 6, 23, 51, 7, 5));
    expect(jsonLine(stamped({ ok: true, n: 2 }, at))).toBe('{"time":"2026-12-06T23:51:07.005Z","ok":true,"n":2}\n');
  });
});
