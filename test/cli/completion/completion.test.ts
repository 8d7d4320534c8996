/**
 * `store completion bash|zsh|fish` and the hidden `store __complete names`:
 * the scripts parse in their shell, offer every command, and complete secret
 * names from a store that opens without a prompt, and nothing otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInProcess, runInProcessOk } from '../../helpers/in-process.js';
import { CLI, cleanEnv, cli, workspace } from '../run-cli.js';

let ws: ReturnType<typeof workspace>;
let scripts: Record<'bash' | 'zsh' | 'fish', string>;
/** A PATH with a `store` that runs the built CLI, as the scripts call `store` by name. */
let path: string;
/** The commands `store --help` lists: what the scripts must offer at the top. */
let commands: string[];
/** A PATH whose `store` logs its arguments to `argvLog` (one a line), then runs the built CLI. */
let loggingPath: string;
let argvLog: string;
/** Options a half-typed command line may hold that must not reach `__complete`: code to load, a file that blocks. */
let hostile: string[];

/** The program in-process (its output is what is checked); the shells below run the built CLI. */
const ok = (args: string[], input?: string) => runInProcessOk(args, { input });

/** Run `shell args...` with the `store` shim on PATH and no store settings in the environment. */
function shell(cmd: string, args: string[], env: Record<string, string> = {}): { status: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { env: cleanEnv({ PATH: path, HOME: ws.dir, ...env }), timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

beforeAll(async () => {
  ws = workspace();
  const bin = join(ws.dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'store'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(bin, 'store'), 0o755);
  path = `${bin}:${process.env.PATH}`;
  const loggingBin = join(ws.dir, 'logging-bin');
  mkdirSync(loggingBin);
  argvLog = join(ws.dir, 'argv.log');
  writeFileSync(join(loggingBin, 'store'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${argvLog}'\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(loggingBin, 'store'), 0o755);
  loggingPath = `${loggingBin}:${process.env.PATH}`;
  hostile = ['--module', '/nonexistent/evil.so', '--passphrase-file', '/dev/tty', '--pin-file', '/dev/tty'];
  await ok([...ws.base, 'init', '--master', 'keyfile']);
  for (const name of ['app/db', 'app/jwt', 'other']) await ok([...ws.base, 'set', name], 'v');
  scripts = { bash: (await ok(['completion', 'bash'])).out, zsh: (await ok(['completion', 'zsh'])).out, fish: (await ok(['completion', 'fish'])).out };
  for (const [name, text] of Object.entries(scripts)) writeFileSync(join(ws.dir, `completion.${name}`), text);
  const help = (await ok(['--help'])).out;
  commands = [...help.slice(help.indexOf('Commands:')).matchAll(/^ {2}([a-z][a-z-]*)(?:\|([a-z]+))?/gm)].flatMap((m) => m.slice(1).filter(Boolean) as string[]);
});
afterAll(() => ws.cleanup());

describe('store completion', () => {
  it('prints a script for each shell that parses in it and names every command (not the hidden one)', () => {
    expect(commands).toEqual(expect.arrayContaining(['set', 'get', 'list', 'ls', 'check', 'completion', 'policy', 'rotate-keys', 'run']));
    expect(commands).not.toContain('__complete');
    for (const text of Object.values(scripts)) for (const c of commands) expect(text).toContain(c);
    const file = (s: string) => join(ws.dir, `completion.${s}`);
    expect(shell('bash', ['-n', file('bash')])).toMatchObject({ status: 0, err: '' });
    expect(shell('zsh', ['-n', file('zsh')])).toMatchObject({ status: 0, err: '' });
    expect(shell('fish', ['--no-execute', file('fish')])).toMatchObject({ status: 0, err: '' });
  });

  it('refuses another shell (exit 2)', async () => {
    expect((await runInProcess(['completion', 'tcsh'])).status).toBe(2);
  });
});

describe('bash completion', () => {
  /** COMPREPLY after TAB with the cursor at the end of `words` (the last one is the word being completed). */
  function complete(words: string[], env: Record<string, string> = {}): string[] {
    const r = shell('bash', ['--norc', '--noprofile', '-c',
      'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _store; printf "%s\\n" "${COMPREPLY[@]}"',
      '_', join(ws.dir, 'completion.bash'), ...words], env);
    expect(r.err).toBe('');
    return r.out.split('\n').filter(Boolean).sort();
  }

  it('offers every command at the top, and subcommands, options and choices below', () => {
    const top = complete(['store', '']);
    expect(top).toEqual([...commands].sort());
    expect(complete(['store', 'se'])).toEqual(['serve', 'set']);
    expect(complete(['store', 'policy', ''])).toEqual(['help', 'set', 'show']);
    expect(complete(['store', 'check', '--re'])).toEqual(['--require', '--require-file']);
    expect(complete(['store', 'get', '--st'])).toEqual(['--store', '--strict']); // its own and the global ones
    expect(complete(['store', 'init', '--master', 'k'])).toEqual(['keyfile']);
    expect(complete(['store', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
  });

  it('completes secret names from the store the command line or the environment names', () => {
    expect(complete(['store', ...ws.base, 'get', 'ap'])).toEqual(['app/db', 'app/jwt']);
    expect(complete(['store', 'history', '--store', ws.db, '--keyfile', ws.key, ''])).toEqual(['app/db', 'app/jwt', 'other']);
    expect(complete(['store', `--store=${ws.db}`, `--keyfile=${ws.key}`, 'policy', 'set', 'o'])).toEqual(['other']);
    expect(complete(['store', '--store', '=', ws.db, '--keyfile', '=', ws.key, 'get', 'app/j'])).toEqual(['app/jwt']); // bash splits at =
    expect(complete(['store', 'check', '--require', 'app/'], { STORE_PATH: ws.db, STORE_KEYFILE: ws.key })).toEqual(['app/db', 'app/jwt']);
    // An option's value is not a name; a key-file store finds the key file it recorded at init.
    expect(complete(['store', ...ws.base, 'get', '--version', ''])).toEqual([]);
    expect(complete(['store', '--store', ws.db, 'get', ''])).toEqual(['app/db', 'app/jwt', 'other']);
  });

  it('passes on only --store, --profile and --keyfile: never --module or a passphrase or PIN file from the half-typed line', () => {
    writeFileSync(argvLog, '');
    const line = ['store', ...hostile, '--store', ws.db, `--keyfile=${ws.key}`, 'get', 'ap'];
    expect(complete(line, { PATH: loggingPath })).toEqual(['app/db', 'app/jwt']);
    expect(readFileSync(argvLog, 'utf8').split('\n').filter(Boolean)).toEqual(['--store', ws.db, '--keyfile', ws.key, '__complete', 'names', '--', 'ap']);
  });

  it('completes files and programs where those go', () => {
    expect(complete(['store', 'backup', join(ws.dir, 'completion.b')])).toEqual([join(ws.dir, 'completion.bash')]);
    expect(complete(['store', '--keyfile', join(ws.dir, 'completion.f')])).toEqual([join(ws.dir, 'completion.fish')]);
    expect(complete(['store', 'run', '--', 'bas'])).toContain('bash');
  });
});

describe('zsh and fish completion', () => {
  it('zsh: the walk finds the command, its argument and the global options; names come from the store', () => {
    const r = shell('zsh', ['-f', '-c', `compdef() { :; }; source "$1"; shift
      _store_walk "$@"; print -r -- "$_store_path|$_store_nargs|\${_store_globals[*]}"
      _store_arg "$_store_path" "$_store_nargs"; print -r -- $REPLY
      _store_names app/ "\${_store_globals[@]}"`, '_', join(ws.dir, 'completion.zsh'), '--store', ws.db, `--keyfile=${ws.key}`, 'policy', 'show']);
    expect(r.err).toBe('');
    expect(r.out).toBe(`policy show|0|--store ${ws.db} --keyfile ${ws.key}\nname\napp/db\napp/jwt\n`);
  });

  it('zsh: the walk keeps --module and a passphrase or PIN file out of the options passed on', () => {
    const r = shell('zsh', ['-f', '-c', `compdef() { :; }; source "$1"; shift
      _store_walk "$@"; print -r -- "\${_store_globals[*]}"`, '_', join(ws.dir, 'completion.zsh'), ...hostile, '--store', ws.db, '--profile=work', 'get']);
    expect(r).toMatchObject({ err: '', out: `--store ${ws.db} --profile work\n` });
  });

  it('zsh: _store offers commands, options, choices, files and names (compsys stood in for by printing)', () => {
    const complete = (...words: string[]) => {
      const out = shell('zsh', ['-f', '-c', `compdef() { :; }; source "$1"; shift
        _describe() { print -r -- "\${(@P)\${@[-1]}%%:*}"; }
        compadd() { if [[ $1 == -a ]]; then print -r -- "\${(@P)2}"; else shift; print -r -- "$*"; fi; }
        _files() { print files; }
        _command_names() { print programs; }
        words=("$@"); CURRENT=$#; PREFIX=\${words[-1]}; _store`, '_', join(ws.dir, 'completion.zsh'), ...words]);
      expect(out).toMatchObject({ status: 0, err: '' });
      return out.out.trim();
    };
    expect(complete('store', '').split(' ').sort()).toEqual([...commands].sort());
    expect(complete('store', 'policy', '')).toBe('set show help');
    expect(complete('store', 'check', '--re')).toContain('--require-file');
    expect(complete('store', 'init', '--master', '')).toBe('passphrase keyfile env pkcs11');
    expect(complete('store', ...ws.base, 'get', 'ap')).toBe('app/db app/jwt');
    expect(complete('store', 'backup', '')).toBe('files');
    expect(complete('store', 'run', '--', '')).toBe('programs');
  });

  it('fish: commands with descriptions, options, and secret names', () => {
    const complete = (line: string) => {
      const r = shell('fish', ['--no-config', '-c', `source $argv[1]; complete -C $argv[2]`, join(ws.dir, 'completion.fish'), line]);
      expect(r.err).toBe('');
      return r.out.split('\n').filter(Boolean).sort();
    };
    expect(complete('store se')).toEqual([
      'serve\tanswer the Vault HTTP API (KV v2, tokens, AppRole, policies) over this store,...', // cut to 80 characters for the menu
      'set\twrite a new version of a secret (value from stdin, --file, or a prompt)',
    ]);
    expect(complete('store check --require-')).toEqual(['--require-file\tread requirements from a file, one a line, # comments (repeatable)']);
    expect(complete(`store --store ${ws.db} --keyfile ${ws.key} get app/`)).toEqual(['app/db', 'app/jwt']);
    expect(complete(`store --store ${ws.db} get app/`)).toEqual(['app/db', 'app/jwt']); // the key file recorded at init
  });

  it('fish: passes on only --store, --profile and --keyfile', () => {
    writeFileSync(argvLog, '');
    const r = shell('fish', ['--no-config', '-c', `source $argv[1]; complete -C $argv[2]`, join(ws.dir, 'completion.fish'),
      `store ${hostile.join(' ')} --store ${ws.db} --keyfile ${ws.key} get app/`], { PATH: loggingPath });
    expect(r).toMatchObject({ err: '', out: 'app/db\napp/jwt\n' });
    expect(readFileSync(argvLog, 'utf8').split('\n').filter(Boolean)).toEqual(['--store', ws.db, '--keyfile', ws.key, '__complete', 'names', '--', 'app/']);
  });
});

describe('store __complete names', () => {
  it('prints the names under a prefix, one a line; nothing for a prefix no name can start with', async () => {
    expect((await ok([...ws.base, '__complete', 'names'])).out).toBe('app/db\napp/jwt\nother\n');
    expect((await ok([...ws.base, '__complete', 'names', '--', 'app/'])).out).toBe('app/db\napp/jwt\n');
    expect((await ok([...ws.base, '__complete', 'names', '--', 'app/*'])).out).toBe('');
  });

  it('prints nothing and exits 0 when the store is absent or needs a key it was not given (its recorded key file moved away)', async () => {
    renameSync(ws.key, `${ws.key}.away`);
    try {
      for (const args of [['--store', join(ws.dir, 'absent.db')], ['--store', ws.db]]) {
        expect(await runInProcess([...args, '__complete', 'names'])).toMatchObject({ status: 0, out: '', err: '' });
      }
    } finally {
      renameSync(`${ws.key}.away`, ws.key);
    }
  });

  it('prints nothing, without blocking, when a key, passphrase or PIN file is a FIFO or a terminal', () => {
    const fifo = join(ws.dir, 'key.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const args of [['--keyfile', fifo], ['--keyfile', ws.key, '--passphrase-file', fifo], ['--keyfile', ws.key, '--pin-file', '/dev/tty']]) {
      expect(cli(['--store', ws.db, ...args, '__complete', 'names'])).toMatchObject({ status: 0, out: '', stderr: '' });
    }
    expect(cli(['--store', ws.db, '--keyfile', fifo, '__complete', 'names'], { env: { STORE_KEYFILE: ws.key } }).out).toBe('');
    expect(cli(['__complete', 'names'], { env: { STORE_PATH: ws.db, STORE_KEYFILE: fifo } }).out).toBe('');
  });

  it('never asks for a passphrase, even on a terminal; STORE_NO_PROMPT=1 makes other commands fail instead of asking (for a key or a value)', async () => {
    const db = join(ws.dir, 'passphrase.db');
    const pass = { STORE_PASSPHRASE: 'correct horse' };
    expect((await runInProcess(['--store', db, 'init', '--master', 'passphrase', '--scrypt-log-n', '15'], { env: pass })).status).toBe(0);
    expect((await runInProcess(['--store', db, 'set', 'pw/one'], { env: pass, input: 'v' })).status).toBe(0);
    expect((await runInProcess(['--store', db, '__complete', 'names'], { env: pass })).out).toBe('pw/one\n');
    // `script` gives the command a terminal, where a prompt would wait for ever (until the timeout).
    const onTerminal = (args: string[], env: Record<string, string> = {}) =>
      shell('script', ['-qec', ['store', ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], env);
    const r = onTerminal(['--store', db, '__complete', 'names']);
    expect(r).toMatchObject({ status: 0, out: '' });
    const get = onTerminal(['--store', db, 'get', 'pw/one'], { STORE_NO_PROMPT: '1' });
    expect(get.status).toBe(6);
    expect(get.out).toContain('store: error: no passphrase given (STORE_NO_PROMPT is set, so none was asked for)');
    expect(get.out).not.toContain('Passphrase:');
    const set = onTerminal([...ws.base, 'set', 'typed/value'], { STORE_NO_PROMPT: '1' });
    expect(set.status).toBe(2);
    expect(set.out).toContain('store: error: no value given (STORE_NO_PROMPT is set, so none was asked for)');
  });
});
