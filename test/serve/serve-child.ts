/**
 * A real `store serve` child process on a free loopback port, over a new
 * key-file store in a temp dir, with a root token written by
 * --init-root-token. Stopped (SIGTERM, then waited for) when the test file
 * ends.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createKeyFile, initStore, keyFile } from '../../src/index.js';
import { CLI, cleanEnv } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

export interface ServeChild {
  /** VAULT_ADDR: http://127.0.0.1:<port> */
  addr: string;
  rootToken: string;
  storePath: string;
  keyPath: string;
  dir: string;
  child: ChildProcessWithoutNullStreams;
  /** What the server wrote on stderr so far. */
  stderr(): string;
  /** What the server wrote on stdout so far (its first line is the listening address). */
  stdout(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** A new store (key file) in `dir`, closed again: the server and other processes open it themselves. */
export async function newKeyfileStore(dir = tempDir()): Promise<{ storePath: string; keyPath: string; dir: string }> {
  const storePath = join(dir, 'store.db');
  const keyPath = join(dir, 'master.key');
  createKeyFile(keyPath);
  const store = await initStore(storePath, keyFile(keyPath));
  await store.close();
  return { storePath, keyPath, dir };
}

export async function startServe(extraArgs: string[] = [], existing?: { storePath: string; keyPath: string; dir: string }): Promise<ServeChild> {
  const { storePath, keyPath, dir } = existing ?? await newKeyfileStore(tempDir());
  const tokenFile = join(dir, `root-token-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const child = spawn(process.execPath, [CLI, '--store', storePath, '--keyfile', keyPath, 'serve', '--listen', '127.0.0.1:0', '--json', '--init-root-token', tokenFile, ...extraArgs], {
    env: cleanEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    void exited.then((code) => reject(new Error(`store serve exited (${code}) before listening: ${err}`)));
  });
  const { address } = JSON.parse(first) as { address: string };
  return {
    addr: address,
    rootToken: readFileSync(tokenFile, 'utf8').trim(),
    storePath,
    keyPath,
    dir,
    child,
    stderr: () => err,
    stdout: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
