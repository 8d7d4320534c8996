/**
 * SIGTERM and SIGHUP during an export or a backup, which write a temp file
 * beside their target (a plaintext export's in clear text): they stop the
 * work as Ctrl-C does, so that file is removed, and the CLI exits 143 or 129.
 * The signal handling itself with a fake signal source; then real signals
 * sent to the built CLI.
 */
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interruptible, type SignalSource, type StopSignal } from '../../src/cli/interrupt.js';
import type { Io } from '../../src/cli/io.js';
import { randomBytes } from '../../src/crypto/random.js';
import { sink } from '../helpers/sink.js';
import { runInProcessOk } from '../helpers/in-process.js';
import { startCli, workspace } from './run-cli.js';

function fakeSource(): SignalSource & { listening: () => StopSignal[]; killed: string[]; fire: (sig: StopSignal) => void } {
  const listeners: [StopSignal, () => void][] = [];
  const killed: string[] = [];
  return {
    pid: 4242,
    killed,
    listening: () => listeners.map(([sig]) => sig),
    on: (sig, fn) => listeners.push([sig, fn]),
    off: (sig, fn) => {
      const at = listeners.findIndex(([s, f]) => s === sig && f === fn);
      if (at >= 0) listeners.splice(at, 1);
    },
    kill: (pid, sig) => killed.push(`${pid} ${sig}`),
    fire: (sig) => listeners.filter(([s]) => s === sig).forEach(([, fn]) => fn()),
  };
}

function io(): { io: Io; err: () => string } {
  const err = sink();
  return { io: { stdin: Readable.from([]), stdout: sink().stream, stderr: err.stream, env: {}, stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false }, err: err.text };
}

describe('interruptible with termination', () => {
  it('SIGTERM (or SIGHUP) aborts as Ctrl-C does and is named; a second stop signal re-raises itself with every handler gone', () => {
    const src = fakeSource();
    const t = io();
    const i = interruptible(t.io, 'stopping the export', src, { termination: true });
    expect(src.listening().sort()).toEqual(['SIGHUP', 'SIGINT', 'SIGTERM']);
    src.fire('SIGTERM');
    expect(i.signal.aborted).toBe(true);
    expect(i.received).toBe('SIGTERM');
    expect(t.err()).toBe('store: SIGTERM: stopping the export\n');
    expect(src.killed).toEqual([]);
    src.fire('SIGHUP');
    expect(i.received, 'the first signal is the one that stopped the work').toBe('SIGTERM');
    expect(src.listening()).toEqual([]);
    expect(src.killed).toEqual(['4242 SIGHUP']);
  });

  it('without it only SIGINT is caught, as before; dispose lets go of every signal', () => {
    const src = fakeSource();
    const plain = interruptible(io().io, 'stopping', src);
    expect(src.listening()).toEqual(['SIGINT']);
    plain.dispose();
    const t = io();
    const i = interruptible(t.io, 'stopping', src, { termination: true });
    src.fire('SIGINT');
    expect(i.received).toBe('SIGINT');
    expect(t.err()).toBe('store: stopping (Ctrl-C again to stop at once)\n');
    i.dispose();
    expect(src.listening()).toEqual([]);
  });
});

// ---- the built CLI under real signals ----------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A temp file of `label` (export, backup) in `dir` that has started to fill. */
const filling = (dir: string, label: string) => () => {
  const tmp = readdirSync(dir).find((f) => f.includes(`.${label}-`) && f.endsWith('.tmp'));
  try {
    return tmp && statSync(join(dir, tmp)).size > 0 ? tmp : undefined;
  } catch {
    return undefined; // gone meanwhile
  }
};

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
const ok = (args: string[], input?: string) => runInProcessOk(store(...args), { input });

describe('SIGTERM and SIGHUP during an export', () => {
  beforeAll(async () => {
    ws = workspace();
    await ok(['init', '--master', 'keyfile']);
    const values = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`APP_S${i}`, `value-${i}-${'x'.repeat(200)}`]));
    const plain = join(ws.dir, 'many.json');
    writeFileSync(plain, JSON.stringify(values), { mode: 0o600 });
    await ok(['import', plain]);
  });
  afterAll(() => ws.cleanup());

  // The export's arguments, given its file and (for the key file) a directory outside the one watched.
  const cases: { sig: NodeJS.Signals; status: number; args: (file: string, dir: string) => string[]; json?: boolean }[] = [
    { sig: 'SIGTERM', status: 143, args: (f) => ['export', '--plaintext', '--format', 'env', f] },
    { sig: 'SIGHUP', status: 129, args: (f) => ['export', '--plaintext', '--format', 'json', f, '--json'], json: true },
    { sig: 'SIGTERM', status: 143, args: (f, d) => ['export', f, '--recipient-keyfile', join(d, 'bundle.key')] },
  ];
  for (const [n, c] of cases.entries()) {
    it(`${c.sig} to store ${c.args('FILE', 'DIR').join(' ')}: stops between records, no temp file left, exit ${c.status}`, async () => {
      const out = join(ws.dir, `out-${n}`);
      mkdirSync(out);
      const file = join(out, 'all.out');
      const run = startCli(store(...c.args(file, ws.dir)));
      // Once its temp file holds something the export is under way, its handlers in place: then the signal.
      await until('the export to write', filling(out, 'export'));
      run.child.kill(c.sig);
      const r = await run.exited;
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(c.status);
      expect(r.stderr).toContain(`store: ${c.sig}: stopping the export: nothing will be written\n`);
      const message = `the export to ${file} was interrupted: nothing was written`;
      if (c.json) {
        const last = JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: Record<string, unknown> };
        expect(last.error).toEqual({ code: 'E_INTERRUPTED', message, hints: ['run it again: it starts from the beginning'], exit: c.status });
      } else {
        expect(r.stderr).toContain(`store: error: ${message}\n`);
      }
      expect(r.stdout).toBe('');
      expect(readdirSync(out), 'neither the file nor its temp file').toEqual([]);
    });
  }
});

describe('SIGTERM during a backup', () => {
  beforeAll(async () => {
    ws = workspace();
    await ok(['init', '--master', 'keyfile']);
    // More than 64 MiB of store file: copied by SQLite's backup API, step by step, not in one held copy.
    for (let i = 0; i < 72; i++) await ok(['set', `big/v${i}`], Buffer.from(randomBytes(720_000)).toString('base64'));
  });
  afterAll(() => ws.cleanup());

  it('stops between two steps of the copy: the temp copy removed, no backup, exit 143; the next backup is whole', async () => {
    expect(statSync(ws.db).size).toBeGreaterThan(64 * 1024 * 1024);
    const out = join(ws.dir, 'backups');
    mkdirSync(out);
    const file = join(out, 'store.bak');
    const run = startCli(store('backup', file));
    await until('the backup to write', filling(out, 'backup'));
    run.child.kill('SIGTERM');
    const r = await run.exited;
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(143);
    expect(r.stderr).toContain('store: SIGTERM: stopping the backup: nothing will be kept\n');
    expect(r.stderr).toContain(`store: error: the backup to ${file} was interrupted: nothing was kept\n`);
    expect(readdirSync(out)).toEqual([]);
    await ok(['backup', file]);
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse((await runInProcessOk(['--store', file, '--keyfile', ws.key, 'verify', '--json'])).out)).toMatchObject({ ok: true, secrets: 72 });
  });
});
