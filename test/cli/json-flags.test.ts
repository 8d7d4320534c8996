/** --json on the commands that lacked it: config get / config set, and env (the same as --format json). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

beforeEach(async () => {
  ws = workspace();
  expect((await runInProcess(store('init', '--master', 'keyfile'))).status).toBe(0);
  expect((await runInProcess(store('set', 'app/db-password'), { input: 'hunter2' })).status).toBe(0);
});
afterEach(() => ws.cleanup());

describe('--json', () => {
  it('config get and config set print {"key": "value"}', async () => {
    expect(JSON.parse((await runInProcess(store('config', 'get', 'audit.reads', '--json'))).out)).toEqual({ 'audit.reads': 'true' });
    const set = await runInProcess(store('config', 'set', 'audit.reads', 'false', '--json'));
    expect(set.status, set.err).toBe(0);
    expect(JSON.parse(set.out)).toEqual({ 'audit.reads': 'false' });
    expect((await runInProcess(store('config', 'get', 'audit.reads'))).out).toBe('false\n');
  });

  it('env --json is env --format json; with another --format it is a usage error', async () => {
    const r = await runInProcess(store('env', '--prefix', 'app/', '--json'));
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ DB_PASSWORD: 'hunter2' });
    expect(r.out).toBe((await runInProcess(store('env', '--prefix', 'app/', '--format', 'json'))).out);
    expect((await runInProcess(store('env', '--prefix', 'app/', '--json', '--format', 'json'))).status).toBe(0);
    expect((await runInProcess(store('env', '--prefix', 'app/', '--json', '--format', 'shell'))).status).toBe(2);
  });
});
