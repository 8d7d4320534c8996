// store audit / audit verify / config through the built CLI.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { userInfo } from 'node:os';
import { cli, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(() => {
  ws = workspace();
  expect(cli(store('init', '--master', 'keyfile')).status).toBe(0);
  cli(store('set', 'app/db'), { input: 'CANARY-audit-value' });
  cli(store('get', 'app/db'));
  cli(store('get', 'app/missing'));
});
afterEach(() => ws.cleanup());

describe('store audit', () => {
  it('lists entries with filters, as a table and as JSON, never a value', () => {
    const all = JSON.parse(cli(store('audit', '--json')).out);
    expect(all.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`))
      .toEqual(['init:ok', 'put:ok', 'get:ok', 'get:E_NOT_FOUND']);
    expect(all[1]).toMatchObject({ seq: 2, name: 'app/db', versions: [1], actor: userInfo().username });
    expect(JSON.parse(cli(store('audit', '--name', 'app/db', '--action', 'get', '--json')).out)).toHaveLength(1);
    expect(JSON.parse(cli(store('audit', '--since', '2999-01-01T00:00:00Z', '--json')).out)).toEqual([]);
    const text = cli(store('audit'));
    expect(text.out).toMatch(/^SEQ\s+TIME\s+ACTOR/);
    expect(text.out + JSON.stringify(all)).not.toContain('CANARY');
    expect(cli(store('audit', '--since', 'last tuesday')).status).toBe(2);
  });

  it('audit verify: exit 0 when intact, exit 5 naming the first bad entry after an edit', () => {
    const ok = cli(store('audit', 'verify'));
    expect(ok.status).toBe(0);
    expect(ok.out).toMatch(/intact: 4 entries/);
    const db = new Database(ws.db);
    db.prepare("UPDATE audit SET outcome = 'ok' WHERE seq = 4").run();
    db.close();
    const bad = cli(store('audit', 'verify'));
    expect(bad.status).toBe(5);
    expect(bad.stderr).toMatch(/audit log broken at entry 4/);
    expect(JSON.parse(cli(store('audit', 'verify', '--json')).out)).toMatchObject({ ok: false, firstProblem: { seq: 4 } });
  });
});

describe('store config', () => {
  it('audit.reads false stops logging reads', () => {
    expect(cli(store('config', 'get', 'audit.reads')).out.trim()).toBe('true');
    expect(cli(store('config', 'set', 'audit.reads', 'false')).status).toBe(0);
    cli(store('get', 'app/db'));
    const actions = JSON.parse(cli(store('audit', '--json')).out).map((e: { action: string }) => e.action);
    expect(actions.slice(-1)).toEqual(['config.set']);
    expect(JSON.parse(cli(store('config', 'list', '--json')).out)).toEqual({ 'audit.reads': 'false' });
    expect(cli(store('config', 'set', 'nope', 'x')).status).toBe(2);
    expect(cli(store('config', 'set', 'audit.reads', 'perhaps')).status).toBe(2);
  });
});
