// store audit / audit verify / config in-process through run(argv, io).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { userInfo } from 'node:os';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(async () => {
  ws = workspace();
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  await runInProcess(store('set', 'app/db'), { input: 'CANARY-audit-value' });
  await runInProcess(store('get', 'app/db'));
  await runInProcess(store('get', 'app/missing'));
});
afterEach(() => ws.cleanup());

describe('store audit', () => {
  it('lists entries with filters, as a table and as JSON, never a value', async () => {
    const all = JSON.parse((await runInProcess(store('audit', '--json'))).out);
    expect(all.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`))
      .toEqual(['init:ok', 'put:ok', 'get:ok', 'get:E_NOT_FOUND']);
    expect(all[1]).toMatchObject({ seq: 2, name: 'app/db', versions: [1], actor: userInfo().username });
    expect(JSON.parse((await runInProcess(store('audit', '--name', 'app/db', '--action', 'get', '--json'))).out)).toHaveLength(1);
    expect(JSON.parse((await runInProcess(store('audit', '--since', '2999-01-01T00:00:00Z', '--json'))).out)).toEqual([]);
    const text = await runInProcess(store('audit'));
    expect(text.out).toMatch(/^SEQ\s+TIME\s+ACTOR/);
    expect(text.out + JSON.stringify(all)).not.toContain('CANARY');
    expect((await runInProcess(store('audit', '--since', 'last tuesday'))).status).toBe(2);
  });

  it('audit verify: exit 0 when intact, exit 5 naming the first bad entry after an edit', async () => {
    const ok = await runInProcess(store('audit', 'verify'));
    expect(ok.status).toBe(0);
    expect(ok.out).toMatch(/intact: 4 entries/);
    const db = new Database(ws.db);
    db.prepare("UPDATE audit SET outcome = 'ok' WHERE seq = 4").run();
    db.close();
    const bad = await runInProcess(store('audit', 'verify'));
    expect(bad.status).toBe(5);
    expect(bad.err).toMatch(/audit log broken at entry 4/);
    expect(JSON.parse((await runInProcess(store('audit', 'verify', '--json'))).out)).toMatchObject({ ok: false, firstProblem: { seq: 4 } });
  });
});

describe('store config', () => {
  it('audit.reads false stops logging reads', async () => {
    expect((await runInProcess(store('config', 'get', 'audit.reads'))).out.trim()).toBe('true');
    expect((await runInProcess(store('config', 'set', 'audit.reads', 'false'))).status).toBe(0);
    await runInProcess(store('get', 'app/db'));
    const actions = JSON.parse((await runInProcess(store('audit', '--json'))).out).map((e: { action: string }) => e.action);
    expect(actions.slice(-1)).toEqual(['config.set']);
    expect(JSON.parse((await runInProcess(store('config', 'list', '--json'))).out)).toEqual({ 'audit.reads': 'false' });
    expect((await runInProcess(store('config', 'set', 'nope', 'x'))).status).toBe(2);
    expect((await runInProcess(store('config', 'set', 'audit.reads', 'perhaps'))).status).toBe(2);
  });
});
