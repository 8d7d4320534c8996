// Runs the built CLI (dist/bin/store.js) as a child process, as a user would.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

export const CLI = resolve('dist/bin/store.js');

/**
 * A config directory that does not exist (no profiles file), inside the run's
 * private scratch directory (test/global-setup.ts), removed when the run ends:
 * not a shared fixed path in /tmp that a test could create and leave behind.
 */
const NO_CONFIG_HOME = join(process.env.STRONGBOX_TEST_SCRATCH ?? tempDir('strongbox-tests-config-'), 'no-config-home');

export interface CliResult {
  status: number;
  stdout: Buffer;
  stderr: string;
  out: string;
}

export interface CliOptions {
  input?: string | Uint8Array;
  env?: Record<string, string | undefined>;
}

/** Environment without the caller's store settings, so tests cannot pick up a real store. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('STORE_')) delete env[k];
  env.XDG_CONFIG_HOME = NO_CONFIG_HOME; // nor the caller's profiles (tests that want some set their own)
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export function cli(args: string[], options: CliOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: options.input ?? '',
    env: cleanEnv(options.env),
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString(), out: r.stdout.toString() };
}

/** Run the CLI and fail the test unless it exits 0 (showing its stderr). */
export function cliOk(args: string[], options: CliOptions = {}): CliResult {
  const r = cli(args, options);
  expect(r.status, r.stderr).toBe(0);
  return r;
}

/** A temp dir with a store path and a key file path inside, removed by `cleanup`. */
export function workspace(): { dir: string; db: string; key: string; base: string[]; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'strongbox-cli-'));
  const db = join(dir, 'store.db');
  const key = join(dir, 'master.key');
  return { dir, db, key, base: ['--store', db, '--keyfile', key], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** How a CLI process started by startCli ended. */
export interface Exit { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** The built CLI as a child process, not waited for (a test signals it), with cleanEnv(`env`): its process and how it ends (killed after a minute). */
export function startCli(args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const exited = new Promise<Exit>((done) => child.on('close', (status, signal) => {
    clearTimeout(timer);
    done({ status, signal, stdout, stderr });
  }));
  return { child, exited };
}
