/**
 * Ctrl-C during long work. The SIGINT handling itself with a fake signal
 * source; then real SIGINTs sent to the built CLI: rotate-keys stops between
 * two batches, says how far it got, exits 130 and `--resume` finishes; an
 * import stopped before its write says nothing was imported; an export
 * stopped leaves no file; a second Ctrl-C ends the process at once.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { interruptible, type SignalSource } from '../../src/cli/interrupt.js';
import type { Io } from '../../src/cli/io.js';
import { keyFile, openStore } from '../../src/index.js';
import { sink } from '../helpers/sink.js';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { CLI, startCli, workspace, type Exit } from './run-cli.js';

function fakeSource(): SignalSource & { listeners: (() => void)[]; killed: string[]; fire: () => void } {
  const listeners: (() => void)[] = [];
  const killed: string[] = [];
  return {
    pid: 4242,
    listeners,
    killed,
    on: (_sig, fn) => listeners.push(fn),
    off: (_sig, fn) => listeners.splice(listeners.indexOf(fn), 1),
    kill: (pid, sig) => killed.push(`${pid} ${sig}`),
    fire: () => [...listeners].forEach((fn) => fn()),
  };
}

function io(tty: boolean): { io: Io; err: () => string } {
  const err = sink();
  return { io: { stdin: Readable.from([]), stdout: sink().stream, stderr: err.stream, env: {}, stdinIsTTY: false, stdoutIsTTY: tty, stderrIsTTY: tty }, err: err.text };
}

describe('interruptible', () => {
  it('the first SIGINT aborts the signal and says what happens now; the second re-raises SIGINT with the handler gone', () => {
    const src = fakeSource();
    const t = io(false);
    const i = interruptible(t.io, 'stopping after the current batch', src);
    expect(src.listeners.length).toBe(1);
    expect(i.signal.aborted).toBe(false);
    src.fire();
    expect(i.signal.aborted).toBe(true);
    expect(t.err()).toBe('store: stopping after the current batch (Ctrl-C again to stop at once)\n');
    expect(src.killed).toEqual([]);
    src.fire();
    expect(src.listeners.length).toBe(0);
    expect(src.killed).toEqual(['4242 SIGINT']);
  });

  it('settle counts a real SIGINT that came while JavaScript was busy (as during a transaction)', async () => {
    const t = io(false);
    const i = interruptible(t.io, 'stopping');
    try {
      process.kill(process.pid, 'SIGINT');
      const until = Date.now() + 50;
      while (Date.now() < until) {
        // synchronous work: the signal waits in libuv for the event loop
      }
      await Promise.resolve();
      expect(i.signal.aborted, 'not yet: the handler needs a turn of the event loop').toBe(false);
      expect(await i.settle()).toBe(true);
      expect(t.err()).toBe('store: stopping (Ctrl-C again to stop at once)\n');
    } finally {
      i.dispose();
    }
  });

  it('on a terminal the note starts a line of its own (the bar is on the current one); dispose gives SIGINT back', () => {
    const src = fakeSource();
    const t = io(true);
    const i = interruptible(t.io, 'stopping', src);
    src.fire();
    expect(t.err()).toBe('\nstore: stopping (Ctrl-C again to stop at once)\n');
    i.dispose();
    expect(src.listeners.length).toBe(0);
  });
});

// ---- the built CLI under real signals ----------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];

/** The commands around the interrupted one run in-process; the interrupted one is a real process (startCli). */
const ok = (args: string[], input?: string) => runInProcessOk(store(...args), { input });

beforeEach(async () => {
  ws = workspace();
  await ok(['init', '--master', 'keyfile']);
});
afterEach(() => ws.cleanup());

describe('Ctrl-C during rotate-keys', () => {
  const SECRETS = 2000;
  const BATCH = 4;

  it('stops between two batches, says how far it got, exits 130; --resume finishes and verify passes', async () => {
    const values = Object.fromEntries(Array.from({ length: SECRETS }, (_, i) => [`app/s${i}`, `value-${i}`]));
    const file = join(ws.dir, 'many.json');
    writeFileSync(file, JSON.stringify(values), { mode: 0o600 });
    await ok(['import', file]);

    const run = startCli(store('rotate-keys', '--batch', String(BATCH), '--json'));
    // Once the new key seals some versions the rewrap is under way: then Ctrl-C.
    const watcher = await openStore(ws.db, keyFile(ws.key));
    try {
      await until('the rewrap to start', async () => ((await watcher.keys()).find((k) => k.version === 2)?.versions ?? 0) > 0 || undefined);
    } finally {
      await watcher.close();
    }
    run.child.kill('SIGINT');
    const r = await run.exited;

    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('store: stopping after the current batch (Ctrl-C again to stop at once)\n');
    const m = /store: interrupted: made primary data key 2, rewrapped (\d+) of 2000 version\(s\) to primary data key 2; the other (\d+) stay under older keys, which still open them; run store rotate-keys --resume to finish\n/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![1]);
    expect(done + Number(m![2])).toBe(SECRETS);
    expect(done % BATCH, 'whole batches only').toBe(0);
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(SECRETS);
    expect(r.stdout.split('\n')).toHaveLength(2); // one JSON line
    expect(JSON.parse(r.stdout)).toMatchObject({ rotated: true, primaryVersion: 2, rewrapped: done, toRewrap: SECRETS, interrupted: true });
    const keys = JSON.parse((await ok(['keys', '--json'])).out) as { version: number; status: string; versions: number }[];
    expect(keys.map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'active', SECRETS - done], [2, 'primary', done]]);

    const resumed = JSON.parse((await ok(['rotate-keys', '--resume', '--json'])).out) as Record<string, unknown>;
    expect(resumed).toMatchObject({ rotated: false, primaryVersion: 2, rewrapped: SECRETS - done, interrupted: false, retired: [1] });
    expect(JSON.parse((await ok(['verify', '--deep', '--json'])).out)).toMatchObject({ ok: true, decrypted: SECRETS });
    expect((await ok(['get', 'app/s1234'])).out).toBe('value-1234');
    expect((await runInProcess(store('rotate-keys', '--resume', '--if-older-than', '1d'))).status).toBe(2);
  });
});

describe('Ctrl-C during an import', () => {
  /**
   * A bundle sealed with a passphrase, and the import started with the
   * passphrase file a FIFO: the CLI waits in it (its SIGINT handler already
   * in place) until the test has sent its Ctrl-C(s) and then the passphrase.
   */
  async function importWaitingOnPassphrase(signals: number): Promise<Exit> {
    const plain = join(ws.dir, 'many.json');
    writeFileSync(plain, JSON.stringify(Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`app/s${i}`, `value-${i}`]))), { mode: 0o600 });
    await ok(['import', plain]);
    const pwFile = join(ws.dir, 'bundle.pw');
    writeFileSync(pwFile, 'bundle passphrase\n', { mode: 0o600 });
    const bundle = join(ws.dir, 'all.sbx');
    await ok(['export', bundle, '--export-passphrase-file', pwFile, '--scrypt-log-n', '15']);
    const target = ['--store', join(ws.dir, 'target.db'), '--keyfile', join(ws.dir, 'target.key')];
    expect((await runInProcess([...target, 'init', '--master', 'keyfile'])).status).toBe(0);

    const fifo = join(ws.dir, 'pw.fifo');
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    const run = startCli([...target, 'import', bundle, '--export-passphrase-file', fifo]);
    // A FIFO opens for writing without blocking only once a reader has it open: the CLI is waiting in it.
    const fd = await until('the import to read the passphrase', () => {
      try {
        return openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENXIO') return undefined;
        throw e;
      }
    });
    for (let i = 0; i < signals; i++) {
      run.child.kill('SIGINT');
      await sleep(50);
    }
    try {
      writeSync(fd, 'bundle passphrase\n');
    } catch {
      // a process already gone: its exit tells
    }
    closeSync(fd);
    const r = await run.exited;

    const imported = await runInProcess([...target, 'list', '--json']);
    expect(imported.status, imported.err).toBe(0);
    expect(JSON.parse(imported.out), 'nothing was imported').toEqual([]);
    const again = await runInProcess([...target, 'import', bundle, '--export-passphrase-file', pwFile]);
    expect(again.status, again.err).toBe(0);
    expect(again.out).toMatch(/^imported 300 secret\(s\)/);
    return r;
  }

  it('stops before writing: exit 130, "nothing was imported", and a rerun imports everything', async () => {
    const r = await importWaitingOnPassphrase(1);
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('store: stopping the import before it writes (once writing, it finishes) (Ctrl-C again to stop at once)\n');
    expect(r.stderr).toMatch(/store: error: the import of \S+all\.sbx was interrupted before anything was written: nothing was imported\n/);
    expect(r.stderr).toContain('store: hint: run it again: it starts from the beginning');
    expect(r.stdout).toBe('');
  });

  it('a second Ctrl-C ends the process at once, by SIGINT', async () => {
    const r = await importWaitingOnPassphrase(2);
    expect(r.signal).toBe('SIGINT');
    expect(r.stderr).not.toContain('store: error');
  });
});

describe('Ctrl-C during an export', () => {
  it('stops between records: exit 130, no file under the name asked for, no temp file beside it', async () => {
    const values = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`APP_S${i}`, `value-${i}-${'x'.repeat(200)}`]));
    const plain = join(ws.dir, 'many.json');
    writeFileSync(plain, JSON.stringify(values), { mode: 0o600 });
    await ok(['import', plain]);
    const out = join(ws.dir, 'out');
    mkdirSync(out);
    const run = startCli(store('export', '--plaintext', '--format', 'env', join(out, 'all.env')));
    // Once its temp file exists the export is under way, its Ctrl-C handler in place: then Ctrl-C.
    await until('the export to start', () => (readdirSync(out).some((f) => f.includes('.export-')) ? true : undefined));
    run.child.kill('SIGINT');
    const r = await run.exited;
    expect(r.status, r.stderr).toBe(130);
    expect(r.stderr).toContain('store: stopping the export: nothing will be written (Ctrl-C again to stop at once)\n');
    expect(r.stderr).toMatch(/store: error: the export to \S+all\.env was interrupted: nothing was written\n/);
    expect(readdirSync(out)).toEqual([]);
  });
});
