/**
 * README: no error quotes a name, pattern or option that holds '=', since
 * what follows '=' may be a value (`--cas abc=hunter2`, `store list
 * FOO=hunter2`). Refused option values and list patterns that hold '=' are
 * left out of messages and of the audit log; those without are still shown.
 * In-process through run(argv, io).
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { withoutOptionValues } from '../../src/cli/error-report.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let base: string[];
const store = (args: string[], input = 'v-SECRET') => runInProcess([...base, ...args], { input });

beforeEach(async () => {
  const dir = tempDir();
  base = ['--store', join(dir, 's.db'), '--keyfile', join(dir, 'k.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
  expect((await store(['set', 'x'])).status).toBe(0);
});

describe('an option value that holds =', () => {
  const cases: [string[], RegExp][] = [
    [['set', 'x', '--cas', 'abc=hunter2'], /--cas takes a whole number/],
    [['get', 'x', '--version', 'v=hunter2'], /--version takes a whole number/],
    [['get', 'x', '--at', 'x=hunter2'], /--at takes an ISO 8601 time/],
    [['meta', 'x', '--set', '=hunter2'], /--set takes KEY=VALUE/],
    [['meta', 'x', '--max-versions', 'a=hunter2'], /--max-versions takes a whole number/],
    [['unlock', '--for', 'x=hunter2'], /a duration is a number and a unit/],
    [['audit', '--since', 'x=hunter2'], /--since takes an ISO 8601 time/],
    [['audit', 'prune', '--before', 'x=hunter2'], /--before takes an ISO 8601 time/],
    [['env', '--all', '--format', 'x=hunter2'], /--format is dotenv, json, shell or fish/],
    [['stats', '--format', 'x=hunter2'], /--format is text, json, prometheus/],
    [['policy', 'set', 'x', '--rotate-every', 'x=hunter2'], /a duration is a number and a unit/],
    [['get', 'x', '--clip-seconds', 'x=hunter2'], /--clip-seconds takes a whole number/],
    [['serve', '--listen', 'x=hunter2'], /--listen takes HOST:PORT/],
    [['init', '--master', 'x=hunter2'], /argument '…' is invalid/],
    [['--profile', 'x=hunter2', 'list'], /--profile \(a name holding '=', not shown\)/],
  ];
  it.each(cases)('%j: a usage error that does not quote it', async (argv, message) => {
    const r = await store(argv);
    expect(r.status, r.err).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err + r.out).not.toContain('hunter2');
  });

  it('a refused value without = is still quoted', async () => {
    expect((await store(['set', 'x', '--cas', 'abc'])).err).toContain('--cas takes a whole number from 0 up, not "abc"');
    expect((await store(['get', 'x', '--at', 'yesterday'])).err).toContain('not "yesterday"');
    expect((await store(['meta', 'x', '--set', 'novalue'])).err).toContain('--set takes KEY=VALUE, not "novalue"');
    expect((await store(['unlock', '--for', '30d'])).err).toContain('--for takes 1s up to 7d, not "30d"');
    expect((await store(['init', '--master', 'bogus'])).err).toContain("argument 'bogus' is invalid");
  });

  it("withoutOptionValues cuts a quoted argument holding '=' from commander's messages", () => {
    expect(withoutOptionValues("error: option '--master <kind>' argument 'x=hunter2' is invalid.")).toBe("error: option '--master <kind>' argument '…' is invalid.");
    expect(withoutOptionValues("error: unknown option '--pw=hunter2'")).toBe("error: unknown option '--pw=…'");
  });
});

describe('store list PATTERN', () => {
  it('no match: the pattern is quoted unless it holds =; the audit log leaves such a pattern out', async () => {
    let r = await store(['list', 'FOO=hunter2']);
    expect(r.status, r.err).toBe(0);
    expect(r.err).toBe('store: no secrets match the pattern\n');
    r = await store(['list', 'nothing/*']);
    expect(r.err).toBe('store: no secrets match the pattern "nothing/*"\n');

    const audit = JSON.parse((await store(['audit', '--action', 'list', '--json'])).out) as { detail?: string }[];
    const details = audit.map((e) => e.detail);
    expect(details).toContain('nothing/*');
    expect(details).toContain("(a pattern holding '=', not recorded)");
    expect(JSON.stringify(audit)).not.toContain('hunter2');
  });
});
