/** --json on the commands that lacked it: config get / config set, and env (the same as --format json). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(() => {
  ws = workspace();
  expect(cli(store('init', '--master', 'keyfile')).status).toBe(0);
  expect(cli(store('set', 'app/db-password'), { input: 'hunter2' }).status).toBe(0);
});
afterEach(() => ws.cleanup());

describe('--json', () => {
  it('config get and config set print {"key": "value"}', () => {
    expect(JSON.parse(cli(store('config', 'get', 'audit.reads', '--json')).out)).toEqual({ 'audit.reads': 'true' });
    const set = cli(store('config', 'set', 'audit.reads', 'false', '--json'));
    expect(set.status, set.stderr).toBe(0);
    expect(JSON.parse(set.out)).toEqual({ 'audit.reads': 'false' });
    expect(cli(store('config', 'get', 'audit.reads')).out).toBe('false\n');
  });

  it('env --json is env --format json; with another --format it is a usage error', () => {
    const r = cli(store('env', '--prefix', 'app/', '--json'));
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ DB_PASSWORD: 'hunter2' });
    expect(r.out).toBe(cli(store('env', '--prefix', 'app/', '--format', 'json')).out);
    expect(cli(store('env', '--prefix', 'app/', '--json', '--format', 'json')).status).toBe(0);
    expect(cli(store('env', '--prefix', 'app/', '--json', '--format', 'shell')).status).toBe(2);
  });
});
