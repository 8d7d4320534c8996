/**
 * A real `store serve` child process on a free loopback port, over a new
 * key-file store in a temp dir, with a root token written by
 * --init-root-token. Stopped (SIGTERM, then waited for) when the test file
 * ends. Options serve other stores (a passphrase store opened through the
 * unlock agent), other listen addresses, and a server that starts sealed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createKeyFile, initStore, keyFile } from '../../src/index.js';
import { CLI, cleanEnv } from '../cli/run-cli.js';
import { tempDir } from '../helpers/tmp.js';

export interface ServeChild {
  /** VAULT_ADDR: http://127.0.0.1:<port> (https://…, unix:PATH with other options) */
  addr: string;
  /** The token --init-root-token wrote; '' when the server started sealed or without one. */
  rootToken: string;
  /** Whether the server said it started sealed. */
  sealed: boolean;
  /** Where --init-root-token writes, '' when not given. */
  tokenFile: string;
  storePath: string;
  /** '' for a store opened without a key file. */
  keyPath: string;
  dir: string;
  child: ChildProcessWithoutNullStreams;
  /** What the server wrote on stderr so far. */
  stderr(): string;
  /** What the server wrote on stdout so far (its first line is the listening address). */
  stdout(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** The exit code once the process has ended. */
  exited: Promise<number | null>;
}

export interface ServeChildOptions {
  /** --listen (default 127.0.0.1:0). */
  listen?: string;
  /** Added to the child's environment (store variables are cleared first). */
  env?: Record<string, string | undefined>;
  /** Pass --init-root-token (default true). */
  rootToken?: boolean;
}

/** An existing store; without keyPath the server is given no key file (a passphrase store). */
export interface ServeStore {
  storePath: string;
  keyPath?: string;
  dir: string;
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

export async function startServe(extraArgs: string[] = [], existing?: ServeStore, options: ServeChildOptions = {}): Promise<ServeChild> {
  const { storePath, keyPath, dir } = existing ?? await newKeyfileStore(tempDir());
  const tokenFile = options.rootToken === false ? '' : join(dir, `root-token-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const args = [
    CLI, '--store', storePath, ...(keyPath ? ['--keyfile', keyPath] : []),
    'serve', '--listen', options.listen ?? '127.0.0.1:0', '--json', ...(tokenFile ? ['--init-root-token', tokenFile] : []), ...extraArgs,
  ];
  const child = spawn(process.execPath, args, { env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
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
  const { address, sealed } = JSON.parse(first) as { address: string; sealed: boolean };
  return {
    addr: address,
    rootToken: tokenFile && !sealed ? readFileSync(tokenFile, 'utf8').trim() : '',
    sealed,
    tokenFile,
    storePath,
    keyPath: keyPath ?? '',
    dir,
    child,
    stderr: () => err,
    stdout: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    exited,
  };
}
