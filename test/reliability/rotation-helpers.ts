// Shared setup of the rotation tests (rotation-crash, rotation-lock,
// rotation-online): the 20,000-version fixture store, copies of it, and
// real child processes whose stdout lines can be awaited.
import { expect } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cleanupTempDirs, tempDir } from '../helpers/tmp.js';
import { CLI, cleanEnv } from '../cli/run-cli.js';

export const POPULATE = resolve('test/reliability/fixtures/populate.mjs');
export const ROTATOR = resolve('test/reliability/fixtures/rotator.mjs');
export const RW_LOOP = resolve('test/reliability/fixtures/rw-loop.mjs');
export const SECRETS = 2_000;
export const VERSIONS = 10;
export const TOTAL = SECRETS * VERSIONS;

// The same derivation as fixtures/populate.mjs: values are checked, never kept.
export const nameOf = (i: number) => `app/s${String(i).padStart(5, '0')}`;
export const valueOf = (name: string, version: number) => `${name}#${version}:${'x'.repeat(8 + ((name.length * 7 + version * 13) % 40))}`;

export interface Exit {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface Proc {
  exited: Promise<Exit>;
  kill: () => void;
  /** Resolves with the first stdout line `test` accepts. */
  line: (test: (line: string) => boolean) => Promise<string>;
}

/** A child whose stdin is a pipe: lines can be sent to it. */
export interface InteractiveProc extends Proc {
  send: (line: string) => void;
  endInput: () => void;
}

function spawnNode(args: string[], timeoutMs: number, input: boolean) {
  const started = performance.now();
  const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const waiters: { test: (l: string) => boolean; done: (l: string) => void }[] = [];
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    stdout += d;
    partial += d;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const l = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      for (const w of waiters.splice(0)) {
        if (w.test(l)) w.done(l);
        else waiters.push(w);
      }
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr += d));
  if (input) child.stdin!.on('error', () => undefined); // a child that already exited: its exit status tells
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<Exit>((done, fail) => {
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
  const proc: Proc = {
    exited,
    kill: () => child.kill('SIGKILL'),
    line: (test) =>
      new Promise<string>((done, fail) => {
        waiters.push({ test, done });
        void exited.then((e) => fail(new Error(`exited (${e.status ?? e.signal}) before the awaited line; stderr: ${e.stderr}`)));
      }),
  };
  return { child, proc };
}

/** Run `node ...args` (stdin closed), SIGKILLed after `timeoutMs`. */
export function start(args: string[], timeoutMs = 120_000): Proc {
  return spawnNode(args, timeoutMs, false).proc;
}

/** As `start`, with a pipe to the child's stdin. */
export function startInteractive(args: string[], timeoutMs = 120_000): InteractiveProc {
  const { child, proc } = spawnNode(args, timeoutMs, true);
  return {
    ...proc,
    send: (l) => void child.stdin!.write(`${l}\n`),
    endInput: () => child.stdin!.end(),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Fixture {
  db: string;
  key: string;
}

/**
 * A directory for the fixture store, built once per file: on tmpfs when there
 * is one (fsync is free there; the build is not under test). Every test runs
 * on a copy (`freshCopy`) in the ordinary temp dir.
 */
export function fixtureDir(prefix: string): string {
  return mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
}

/** Build the fixture store (SECRETS × VERSIONS) in `dir` with fixtures/populate.mjs. */
export async function populate(dir: string): Promise<Fixture> {
  const fx = { db: join(dir, 'store.db'), key: join(dir, 'master.key') };
  const built = await start([POPULATE, fx.db, fx.key, String(SECRETS), String(VERSIONS)], 170_000).exited;
  expect(built.status, built.stderr).toBe(0);
  console.log(`fixture: ${TOTAL} versions built in ${(built.ms / 1000).toFixed(1)} s`);
  return fx;
}

/** Remove the fixture directory (if made) and every temp dir made outside a test. */
export function removeFixture(dir: string): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  cleanupTempDirs();
}

/** A fresh copy of the fixture store in its own directory (removed after the test). */
export function freshCopy(fx: Fixture, prefix: string): Fixture {
  const db = join(tempDir(prefix), 'store.db');
  copyFileSync(fx.db, db);
  return { db, key: fx.key };
}

/** CLI arguments for `store` on this store. */
export const cliArgs = (s: Fixture, ...args: string[]) => [CLI, '--store', s.db, '--keyfile', s.key, ...args];
