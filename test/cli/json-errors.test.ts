/**
 * Errors as JSON (issue 11): under --json a failing command writes one line
 * {"error":{"code","message","hints","exit"}} to stderr instead of the
 * `store: error:` lines, for a store error and for a command line commander
 * refuses alike; without --json the text stays. In-process through run(argv, io).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];
const store = (args: string[], input = '') => runInProcess([...base, ...args], { input });

interface JsonError {
  error: { code: string; message: string; hints: string[]; exit: number; stack?: string };
}

/** stderr as the one JSON line it must be, checked against the exit status. */
function jsonError(r: { status: number; out: string; err: string }): JsonError['error'] {
  expect(r.err.endsWith('\n'), r.err).toBe(true);
  expect(r.err.trimEnd().split('\n'), r.err).toHaveLength(1);
  const parsed = JSON.parse(r.err) as JsonError;
  expect(Object.keys(parsed)).toEqual(['error']);
  expect(parsed.error.exit).toBe(r.status);
  expect(Array.isArray(parsed.error.hints)).toBe(true);
  expect(r.out).toBe('');
  return parsed.error;
}

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
  expect((await store(['set', 'app/db'], 'hunter2-VALUE')).status).toBe(0);
});

describe('a store error', () => {
  it('not found: one JSON line with --json, text lines without', async () => {
    const r = await store(['get', 'app/nope', '--json']);
    expect(r.status).toBe(3);
    expect(jsonError(r)).toEqual({ code: 'E_NOT_FOUND', message: 'no secret named app/nope', hints: [], exit: 3 });

    const text = await store(['get', 'app/nope']);
    expect(text.status).toBe(3);
    expect(text.err).toBe('store: error: no secret named app/nope\n');
  });

  it('a deleted version keeps its hints in the JSON', async () => {
    expect((await store(['delete', 'app/db'])).status).toBe(0);
    const e = jsonError(await store(['get', 'app/db', '--json']));
    expect(e.code).toBe('E_DELETED');
    expect(e.hints.join('\n')).toContain('store undelete app/db');
    expect(JSON.stringify(e)).not.toContain('hunter2');
  });

  it('wrong master key: exit 5 as JSON, text without --json', async () => {
    const other = join(dir, 'other.key');
    writeFileSync(other, `${Buffer.alloc(32, 7).toString('base64')}\n`, { mode: 0o600 });
    const wrong = ['--store', join(dir, 'store.db'), '--keyfile', other];
    const r = await runInProcess([...wrong, 'list', '--json']);
    expect(r.status).toBe(5);
    const e = jsonError(r);
    expect(e.code).toBe('E_WRONG_MASTER_KEY');
    expect(e.message).toBe('the master key does not open this store');

    const text = await runInProcess([...wrong, 'list']);
    expect(text.status).toBe(5);
    expect(text.err).toMatch(/^store: error: the master key does not open this store\nstore: hint: /);
  });

  it('--debug adds the stack to the JSON object, still one line', async () => {
    const e = jsonError(await store(['--debug', 'get', 'app/nope', '--json']));
    expect(e.stack).toMatch(/^StoreError: no secret named app\/nope\n\s+at /);
  });

  it('an invalid name holding "=" is not quoted back in the JSON either', async () => {
    const r = await store(['set', 'PASSWORD=hunter2', '--json'], 'x');
    expect(r.status).toBe(2);
    const e = jsonError(r);
    expect(e.code).toBe('E_INVALID_NAME');
    expect(r.err).not.toContain('hunter2');
  });
});

describe('a usage error', () => {
  it('missing argument: E_USAGE with the command in the hint; commander\'s text without --json', async () => {
    const r = await store(['get', '--json']);
    expect(r.status).toBe(2);
    expect(jsonError(r)).toEqual({
      code: 'E_USAGE', message: "missing required argument 'name'", hints: ['run store get --help for usage'], exit: 2,
    });

    const text = await store(['get']);
    expect(text.status).toBe(2);
    expect(text.err).toBe("store: error: missing required argument 'name'\n(run store --help for usage)\n");
  });

  it('unknown option: its suggestion becomes a hint; a value after "=" is cut, as in the text', async () => {
    const r = await store(['get', 'app/db', '--jsn', '--json']);
    expect(jsonError(r)).toMatchObject({ code: 'E_USAGE', message: "unknown option '--jsn'", hints: ['Did you mean --json?', 'run store get --help for usage'] });

    for (const json of [['--json'], []]) {
      const leak = await store(['get', 'app/db', '--password=hunter2', ...json]);
      expect(leak.status).toBe(2);
      expect(leak.err).toContain("'--password=…'");
      expect(leak.err).not.toContain('hunter2');
    }
  });

  it('a subcommand: the JSON follows the command reached (config takes no --json, config get does)', async () => {
    expect(jsonError(await store(['config', 'get', 'no.such.key', '--json']))).toMatchObject({ code: 'E_USAGE', exit: 2 });
    const bad = jsonError(await store(['audit', 'prune', '--json']));
    expect(bad).toMatchObject({ code: 'E_USAGE', message: "required option '--before <time>' not specified", hints: ['run store audit prune --help for usage'] });
  });

  it('an unknown command with --json is told as JSON, with the suggestion', async () => {
    const r = await store(['gett', 'app/db', '--json']);
    expect(r.status).toBe(2);
    expect(jsonError(r)).toMatchObject({ code: 'E_USAGE', message: "unknown command 'gett'", hints: ['Did you mean get?', 'run store --help for usage'] });
  });

  it('--json that is not the command\'s own stays text: after --, or to a command without --json', async () => {
    // After -- it is the child's word: store run fails (nothing under the prefix) as text.
    const run = await store(['run', '--prefix', 'none/', '--', 'true', '--json']);
    expect(run.status).toBe(3);
    expect(run.err).toMatch(/^store: error: no live secret is under the prefix "none\/"/);
    // inject takes no --json: the unknown option is told as commander's text.
    const inject = await store(['inject', '--json']);
    expect(inject.status).toBe(2);
    expect(inject.err).toMatch(/^store: error: unknown option '--json'/);
  });
});
