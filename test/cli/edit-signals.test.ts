/**
 * `store edit` sent SIGTERM or SIGHUP while the editor runs (the built CLI,
 * a real process): the signal reaches the editor itself, not only the
 * `sh -c` wrapper it is started through, so no editor is left running with
 * the value after store has exited. The editor here is a shell script that
 * traps nothing and waits (as an editor waits for keys), after writing its
 * own pid to a file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';
import { startCli } from './run-cli.js';

let dir: string;
let runtime: string;
let base: string[];
let pidFile: string;

async function ok(args: string[], input = '') {
  const r = await runInProcess([...base, ...args], { input, env: { XDG_RUNTIME_DIR: runtime, VISUAL: '' } });
  expect(r.status, r.err).toBe(0);
  return r;
}

/** Whether process `pid` exists (a zombie counts as gone: it holds nothing any more). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  dir = tempDir();
  runtime = join(dir, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  pidFile = join(dir, 'editor.pid');
  await ok(['init', '--master', 'keyfile']);
  await ok(['set', 'app/db'], 'old-value');
});

afterEach(() => {
  // An editor a failing run left behind is this test's own: end it.
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
  }
});

describe('store edit: SIGTERM and SIGHUP reach the editor', () => {
  for (const [sig, status] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(`${sig} to store: the editor is ended too, nothing written, the scratch directory gone, exit ${status}`, async () => {
      // Traps nothing; loops on short sleeps, so that once it is gone nothing of it lingers.
      const ed = join(dir, 'editor.sh');
      writeFileSync(ed, `#!/bin/sh\necho $$ > "${pidFile}.tmp" && mv "${pidFile}.tmp" "${pidFile}"\nwhile :; do sleep 0.1; done\n`);
      chmodSync(ed, 0o755);
      const run = startCli([...base, 'edit', 'app/db'], { XDG_RUNTIME_DIR: runtime, EDITOR: ed, VISUAL: undefined });
      for (let i = 0; i < 400 && !existsSync(pidFile); i++) await sleep(25);
      expect(existsSync(pidFile), 'the editor started').toBe(true);
      const editorPid = Number(readFileSync(pidFile, 'utf8'));
      expect(alive(editorPid)).toBe(true);
      expect(readdirSync(runtime)).toHaveLength(1);

      run.child.kill(sig);
      const end = await run.exited;
      expect(end.status, end.stderr).toBe(status);
      expect(end.stderr).toContain(`edit aborted by ${sig}: nothing written`);
      // store waited for the editor: it is gone by the time store has exited (a moment for the kernel to reap it).
      for (let i = 0; i < 20 && alive(editorPid); i++) await sleep(25);
      expect(alive(editorPid), 'the editor outlived store').toBe(false);
      expect(readdirSync(runtime)).toEqual([]);
      expect((await ok(['get', 'app/db'])).out).toBe('old-value');
    });
  }
});
