/** NO_COLOR (https://no-color.org), TERM=dumb and pipes: colour only for a terminal that wants it. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { colorAllowed, palette } from '../../src/cli/color.js';
import { progressBar } from '../../src/cli/progress.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { workspace } from './run-cli.js';
import { runInProcess } from '../helpers/in-process.js';
import { sink } from '../helpers/sink.js';

const ESC = '\x1b';


function fakeIo(env: Record<string, string | undefined>, tty: boolean): { io: Io; out: () => string; err: () => string } {
  const out = sink();
  const err = sink();
  return {
    io: { stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env, stdinIsTTY: false, stdoutIsTTY: tty, stderrIsTTY: tty },
    out: out.text,
    err: err.text,
  };
}

describe('colorAllowed', () => {
  it.each([
    [true, {}, true],
    [true, { TERM: 'xterm-256color' }, true],
    [true, { NO_COLOR: '' }, true], // present but empty: no effect, as no-color.org says
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: 'false' }, false], // any non-empty value
    [true, { TERM: 'dumb' }, false],
    [false, {}, false],
    [false, { TERM: 'xterm-256color' }, false],
  ] as [boolean, Record<string, string>, boolean][])('tty %s, env %j: %s', (tty, env, expected) => {
    expect(colorAllowed(tty, env)).toBe(expected);
  });

  it('a disabled palette returns the text unchanged; an enabled one wraps it in SGR codes that reset', () => {
    const off = palette(false);
    for (const paint of Object.values(off)) expect(paint('FAIL')).toBe('FAIL');
    const on = palette(true);
    expect(on.red('FAIL')).toBe('\x1b[31mFAIL\x1b[39m');
    expect(on.dim('skip')).toBe('\x1b[2mskip\x1b[22m');
  });
});

describe('store doctor colour', () => {
  let ws: ReturnType<typeof workspace>;
  beforeEach(async () => {
    ws = workspace();
    expect((await runInProcess([...ws.base, 'init', '--master', 'keyfile'])).status).toBe(0);
  });
  afterEach(() => ws.cleanup());

  async function doctorOn(env: Record<string, string | undefined>, tty: boolean): Promise<string> {
    const f = fakeIo(env, tty);
    const status = await run([...ws.base, 'doctor'], f.io);
    expect(status, f.err()).toBe(0);
    return f.out();
  }

  it('colours the markers on a terminal, and not with NO_COLOR, TERM=dumb or without a terminal', async () => {
    const coloured = await doctorOn({ TERM: 'xterm' }, true);
    expect(coloured).toContain(`${ESC}[32mok  ${ESC}[39m  store-file`);
    const plain = await doctorOn({ TERM: 'xterm', NO_COLOR: '1' }, true);
    expect(plain).not.toContain(ESC);
    // The same report once the colour is taken out (each run's verify adds an audit entry).
    const entries = (t: string) => t.replace(/intact: \d+ entries/, 'intact: N entries');
    expect(entries(coloured.replace(/\x1b\[\d+m/g, ''))).toBe(entries(plain));
    expect(await doctorOn({ TERM: 'dumb' }, true)).not.toContain(ESC);
    expect(await doctorOn({ TERM: 'xterm' }, false)).not.toContain(ESC);
    expect(await doctorOn({ TERM: 'xterm', NO_COLOR: '' }, true)).toContain(ESC);
  });
});

describe('the progress bar', () => {
  it('draws without colour codes on a terminal with NO_COLOR set (and without: it has none)', () => {
    for (const env of [{ NO_COLOR: '1' }, {}]) {
      const f = fakeIo(env, true);
      const bar = progressBar(f.io, 'rewrap');
      bar.update(5, 10);
      bar.update(10, 10);
      bar.end();
      expect(f.err()).toContain('10/10 100%');
      expect(f.err()).not.toContain(ESC);
    }
  });
});
