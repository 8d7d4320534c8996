/**
 * `store run` and signals, with the built CLI (dist/bin/store.js) as a real
 * process, as env(1) or exec would behave in its place:
 * - Ctrl-C (SIGINT to the whole foreground process group) and Ctrl-\
 *   (SIGQUIT) reach the command once: store does not pass on what the
 *   terminal already delivered, and is not killed by them itself;
 * - a command that dies of a signal makes store die of it too, so a shell
 *   loop over `store run` stops at Ctrl-C as it would over the command;
 * - SIGTERM and SIGHUP sent to store alone are passed on; a terminal hangup,
 *   which the shell passes to the whole job, reaches the command once (store
 *   on a pseudo-terminal made by `script`, installed by scripts/install-shells.sh).
 * Each test's processes run in a process group of their own (detached), so a
 * signal to the group reaches nothing else.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, cliOk, workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const started: ChildProcess[] = [];

beforeEach(() => {
  ws = workspace();
  cliOk([...ws.base, 'init', '--master', 'keyfile']);
  cliOk([...ws.base, 'set', 'app/token'], { input: 'token-SECRET' });
});
afterEach(() => {
  for (const p of started.splice(0)) {
    try {
      if (p.pid) process.kill(-p.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  ws.cleanup();
});

/**
 * A child script (node) that writes its pid to `<out>.ready`, counts the
 * signals `handled` it is sent, and 1.5 s after the first (or 3 s after it
 * started, if none came) writes the count to `out` and exits 0. Other
 * signals have their default effect.
 */
function counter(out: string, handled: string[]): string {
  const script = join(ws.dir, `counter-${handled.join('-') || 'none'}.js`);
  writeFileSync(script, `const fs = require('fs'); let n = 0;
const end = () => { fs.writeFileSync(${JSON.stringify(out)}, String(n)); process.exit(0); };
const none = ${handled.length > 0 ? 'setTimeout(end, 3000)' : 'undefined'};
for (const sig of ${JSON.stringify(handled)}) process.on(sig, () => { if (n++ === 0) { clearTimeout(none); setTimeout(end, 1500); } });
fs.writeFileSync(${JSON.stringify(`${out}.ready`)}, String(process.pid));
setInterval(() => {}, 1000);
`);
  return script;
}

/**
 * Send `sig` to `target` (a negative pid: a process group) ROUNDS times, 250 ms apart. Signals
 * of one kind that arrive while one is pending count once: a single one sent twice (by the
 * terminal and by store) may be counted once, but hardly all ROUNDS of them.
 */
const ROUNDS = 4;
async function send(target: number, sig: NodeJS.Signals): Promise<void> {
  for (let i = 0; i < ROUNDS; i++) {
    process.kill(target, sig);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function waitFor(file: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!existsSync(file) || readFileSync(file, 'utf8') === '') {
    if (Date.now() > deadline) throw new Error(`${file} never appeared`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Spawn in a new process group (and session: no controlling terminal); its exit. */
function spawnGroup(argv: string[], env: NodeJS.ProcessEnv = cleanEnv()) {
  const p = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  started.push(p);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }>((resolve) => {
    p.once('exit', (code, signal) => resolve({ code, signal, err }));
  });
  return { pid: p.pid!, exit };
}

const storeRun = (...cmd: string[]) => [process.execPath, CLI, ...ws.base, 'run', '--env', 'TOKEN=app/token', '--', ...cmd];

describe('store run: signals from the terminal reach the command once', () => {
  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    it(`${sig} to the whole process group: the command gets each once, store waits for it and exits with its status`, async () => {
      const out = join(ws.dir, 'count');
      const { pid, exit } = spawnGroup(storeRun(process.execPath, counter(out, [sig])));
      await waitFor(`${out}.ready`);
      await send(-pid, sig);
      const { code, signal, err } = await exit;
      expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
      expect(readFileSync(out, 'utf8')).toBe(String(ROUNDS));
    }, 60_000);
  }

  for (const sig of ['SIGINT', 'SIGQUIT'] as const) {
    it(`${sig} to store's pid alone is not passed on (a terminal sends it to the command too), and does not end store`, async () => {
      const out = join(ws.dir, 'count');
      const { pid, exit } = spawnGroup(storeRun(process.execPath, counter(out, [sig])));
      await waitFor(`${out}.ready`);
      await send(pid, sig);
      expect(await exit).toMatchObject({ code: 0, signal: null });
      expect(readFileSync(out, 'utf8')).toBe('0');
    }, 60_000);
  }

  it('a command killed by SIGINT: store dies of SIGINT too, not exit 130', async () => {
    const out = join(ws.dir, 'none');
    const { pid, exit } = spawnGroup(storeRun(process.execPath, counter(out, [])));
    await waitFor(`${out}.ready`);
    process.kill(-pid, 'SIGINT');
    expect(await exit).toMatchObject({ code: null, signal: 'SIGINT' });
  }, 60_000);

  it('so a bash loop over store run stops at the first Ctrl-C, as over the command itself', async () => {
    const log = join(ws.dir, 'loop.log');
    const ready = join(ws.dir, 'none');
    const runs = storeRun(process.execPath, counter(ready, [])).map((a) => `'${a}'`).join(' ');
    const { pid, exit } = spawnGroup(['bash', '--norc', '--noprofile', '-c', `for i in 1 2 3; do ${runs}; echo "after $i" >> '${log}'; done; echo finished >> '${log}'`]);
    await waitFor(`${ready}.ready`);
    process.kill(-pid, 'SIGINT');
    const stillRunning = new Promise((resolve) => setTimeout(() => resolve('the loop went on'), 15_000));
    expect(await Promise.race([exit, stillRunning])).toMatchObject({ code: null, signal: 'SIGINT' });
    expect(existsSync(log) ? readFileSync(log, 'utf8') : '').toBe('');
  }, 60_000);

  it('other statuses are as before: 42 is 42, SIGKILL ends store by SIGKILL, 127 and 126 for a command that cannot start', async () => {
    expect(await spawnGroup(storeRun(process.execPath, '-e', 'process.exit(42)')).exit).toMatchObject({ code: 42, signal: null });
    expect(await spawnGroup(storeRun(process.execPath, '-e', "process.kill(process.pid, 'SIGKILL')")).exit).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(await spawnGroup(storeRun(join(ws.dir, 'no-such-program'))).exit).toMatchObject({ code: 127, signal: null });
    const notExecutable = join(ws.dir, 'not-executable');
    writeFileSync(notExecutable, '#!/bin/sh\n', { mode: 0o644 });
    expect(await spawnGroup(storeRun(notExecutable)).exit).toMatchObject({ code: 126, signal: null });
  }, 60_000);
});

describe('store run: SIGTERM and SIGHUP sent to store alone are passed on', () => {
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} to store's pid: the command gets each`, async () => {
      const out = join(ws.dir, 'count');
      const { pid, exit } = spawnGroup(storeRun(process.execPath, counter(out, [sig])));
      await waitFor(`${out}.ready`);
      await send(pid, sig);
      expect(await exit).toMatchObject({ code: 0, signal: null });
      expect(readFileSync(out, 'utf8')).toBe(String(ROUNDS));
    }, 60_000);
  }
});

describe('store run: a terminal hangup reaches the command once', () => {
  /** `shellCommand` run by bash on a new pseudo-terminal (script); the terminal then hung up by killing script. */
  async function hangUp(shellCommand: string, out: string): Promise<string> {
    const { pid } = spawnGroup(['script', '-qec', shellCommand, '/dev/null'], cleanEnv({ SHELL: '/bin/bash' }));
    await waitFor(`${out}.ready`);
    process.kill(pid, 'SIGKILL'); // the terminal's master side closes: the kernel hangs the terminal up
    await waitFor(out);
    return readFileSync(out, 'utf8');
  }

  // A background job: the shell sends each job SIGHUP when the terminal hangs up; the foreground
  // job gets a second one from the kernel as the shell (the session leader) exits, which would
  // make the count 1 or 2 whatever store does.
  it('store as a job of an interactive shell: the shell sends the job SIGHUP, store does not send it again', async () => {
    const out = join(ws.dir, 'count');
    const runs = storeRun(process.execPath, counter(out, ['SIGHUP'])).map((a) => `"${a}"`).join(' ');
    expect(await hangUp(`bash --norc --noprofile -i -c '${runs} & wait'`, out)).toBe('1');
  }, 60_000);

  it('store leading the session (the kernel sends SIGHUP to it alone): store passes it on', async () => {
    const out = join(ws.dir, 'count');
    const runs = storeRun(process.execPath, counter(out, ['SIGHUP'])).map((a) => `"${a}"`).join(' ');
    expect(await hangUp(`exec ${runs}`, out)).toBe('1');
  }, 60_000);
});
