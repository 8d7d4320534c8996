/**
 * `store get` as a whole process, against `node -e 0` (the floor: what any
 * Node CLI pays before its first line runs) and, when `pass` is installed,
 * against `pass show`. Runs alternate between the commands (the order rotates
 * each round), so a slow spell hits all of them; median and p90 wall time.
 * NODE_EXTRA_CA_CERTS is removed from the children's environment (it makes
 * every Node start-up parse a CA bundle), and so are the STORE_* variables:
 * the CLI sees only its flags.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyFile } from '../src/index.js';
import { check, median, now, percentile, removeDir, scratchDir, size, type Row } from './harness.js';

const TARGET_TIME_RATIO = 2.0;
/** `store get` on a passphrase store unlocked in the agent, against a key-file store. */
const TARGET_AGENT_RATIO = 1.2;
const AGENT_PASSPHRASE = 'bench passphrase';
export const CLI_MISSING = 'CLI: dist/bin/store.js missing, run npm run build';
const SECRET_NAME = 'bench/db-password';
const SECRET_VALUE = 'correct-horse-battery-staple-0123456789';

interface Command {
  label: string;
  file: string;
  args: string[];
  options: SpawnSyncOptions;
  /** Checks one run's output; throws when it is wrong. */
  verify: (stdout: string) => void;
}

export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  for (const k of Object.keys(env)) if (k.startsWith('STORE_')) delete env[k];
  return env;
}

function run(file: string, args: string[], options: SpawnSyncOptions): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: 'utf8', maxBuffer: 1 << 20, ...options });
  if (r.error) throw r.error;
  return { status: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

function mustRun(what: string, file: string, args: string[], options: SpawnSyncOptions): string {
  const r = run(file, args, options);
  check(r.status === 0, `${what} exited ${r.status}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  return r.stdout;
}

/** The value printed, allowing the one trailing newline a CLI may add. */
function printedValue(what: string): (stdout: string) => void {
  return (stdout) => check(stdout === SECRET_VALUE || stdout === `${SECRET_VALUE}\n`, `${what} prints the value that was set`);
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * A throwaway password store for `pass show`, with its own GNUPGHOME and a
 * passphrase-less key. Returns the command, or why it cannot be set up.
 */
function setUpPass(dir: string, env: NodeJS.ProcessEnv): { command?: Command; cleanup: () => void; why?: string } {
  const gnupg = join(dir, 'gnupg');
  mkdirSync(gnupg, { mode: 0o700 });
  const passEnv: NodeJS.ProcessEnv = { ...env, GNUPGHOME: gnupg, PASSWORD_STORE_DIR: join(dir, 'pass') };
  const cleanup = () => {
    spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: passEnv, stdio: 'ignore' });
  };
  try {
    if (!hasCommand('gpg')) return { cleanup, why: 'pass is installed but gpg is not' };
    const uid = 'strongbox-bench <bench@strongbox.invalid>';
    mustRun('gpg --quick-gen-key', 'gpg', ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', uid, 'default', 'default', 'never'], { env: passEnv });
    mustRun('pass init', 'pass', ['init', 'bench@strongbox.invalid'], { env: passEnv });
    mustRun('pass insert', 'pass', ['insert', '--multiline', '--force', SECRET_NAME], { env: passEnv, input: SECRET_VALUE });
    const command: Command = {
      label: 'pass show',
      file: 'pass',
      args: ['show', SECRET_NAME],
      options: { env: passEnv },
      verify: printedValue('pass show'),
    };
    command.verify(mustRun('pass show', command.file, command.args, command.options));
    return { command, cleanup };
  } catch (e) {
    return { cleanup, why: `pass could not be set up here: ${(e as Error).message}` };
  }
}

function timeRuns(commands: Command[], runs: number, warm: number): number[][] {
  const times = commands.map(() => [] as number[]);
  for (let round = 0; round < warm + runs; round++) {
    for (let j = 0; j < commands.length; j++) {
      const idx = (round + j) % commands.length;
      const c = commands[idx]!;
      const t0 = now();
      const r = run(c.file, c.args, c.options);
      const ms = now() - t0;
      check(r.status === 0, `${c.label} exited ${r.status}`);
      c.verify(r.stdout);
      if (round >= warm) times[idx]!.push(ms);
    }
  }
  return times;
}

export async function benchCli(root: string, notes: string[]): Promise<Row[]> {
  const cli = join(root, 'dist/bin/store.js');
  if (!existsSync(cli)) {
    console.log(CLI_MISSING);
    notes.push(CLI_MISSING);
    return [{ name: 'cli store get', opsPerSec: null, ratio: null, target: `≤ ${TARGET_TIME_RATIO}× node -e 0`, mark: 'skip', detail: CLI_MISSING }];
  }
  const runs = size(20, 5);
  const warm = 2;
  const dir = scratchDir('cli');
  const env = childEnv();
  let passCleanup = () => {};
  let lockAgent = () => {};
  try {
    const storePath = join(dir, 'store.db');
    const keyfile = join(dir, 'master.key');
    createKeyFile(keyfile);
    const base = [cli, '--store', storePath, '--keyfile', keyfile];
    mustRun('store init', process.execPath, [...base, 'init', '--master', 'keyfile'], { env });
    mustRun('store set', process.execPath, [...base, 'set', SECRET_NAME], { env, input: SECRET_VALUE });

    // A passphrase store unlocked in an agent of its own (a private runtime dir).
    const runtime = join(dir, 'run');
    mkdirSync(runtime, { mode: 0o700 });
    const agentEnv = { ...env, XDG_RUNTIME_DIR: runtime };
    const unlocked = [cli, '--store', join(dir, 'unlocked.db')];
    const withPassphrase = { env: { ...agentEnv, STORE_PASSPHRASE: AGENT_PASSPHRASE } };
    mustRun('store init (passphrase)', process.execPath, [...unlocked, 'init', '--master', 'passphrase'], withPassphrase);
    mustRun('store set (passphrase)', process.execPath, [...unlocked, 'set', SECRET_NAME], { ...withPassphrase, input: SECRET_VALUE });
    mustRun('store unlock', process.execPath, [...unlocked, 'unlock', '--for', '1h'], withPassphrase);
    lockAgent = () => run(process.execPath, [...unlocked, 'lock', '--all'], { env: agentEnv });

    const commands: Command[] = [
      { label: 'node -e 0', file: process.execPath, args: ['-e', '0'], options: { env }, verify: (out) => check(out === '', 'node -e 0 prints nothing') },
      { label: 'store get', file: process.execPath, args: [...base, 'get', SECRET_NAME], options: { env }, verify: printedValue('store get') },
      { label: 'store get (agent)', file: process.execPath, args: [...unlocked, 'get', SECRET_NAME], options: { env: agentEnv }, verify: printedValue('store get (agent)') },
    ];
    // Check before timing.
    for (const c of commands) c.verify(mustRun(c.label, c.file, c.args, c.options));

    let passWhy: string | undefined;
    if (hasCommand('pass')) {
      const p = setUpPass(dir, env);
      passCleanup = p.cleanup;
      if (p.command) commands.push(p.command);
      else passWhy = p.why;
    } else {
      passWhy = 'pass is not installed (not on PATH)';
    }

    const times = timeRuns(commands, runs, warm);
    const [nodeT, cliT, agentT, passT] = times as [number[], number[], number[], number[] | undefined];
    const nodeMed = median(nodeT);
    const cliMed = median(cliT);
    const ratio = cliMed / nodeMed;
    const p90Ratio = percentile(cliT, 90) / percentile(nodeT, 90);
    const ms = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p90 ${percentile(xs, 90).toFixed(1)} ms`;
    const rows: Row[] = [
      {
        name: 'node -e 0',
        opsPerSec: 1000 / nodeMed,
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `${ms(nodeT)}, ${runs} runs`,
        extra: { medianMs: nodeMed, p90Ms: percentile(nodeT, 90) },
      },
      {
        name: 'cli store get',
        opsPerSec: 1000 / cliMed,
        ratio,
        ratioKind: 'time',
        floor: 'node -e 0',
        target: `≤ ${TARGET_TIME_RATIO}× node -e 0`,
        mark: ratio <= TARGET_TIME_RATIO ? 'pass' : 'FAIL',
        detail: `${ms(cliT)}, p90 ratio ${p90Ratio.toFixed(2)}×`,
        extra: { medianMs: cliMed, p90Ms: percentile(cliT, 90), p90Ratio },
      },
    ];
    const agentMed = median(agentT);
    const agentRatio = agentMed / cliMed;
    rows.push({
      name: 'cli store get via agent',
      opsPerSec: 1000 / agentMed,
      ratio: agentRatio,
      ratioKind: 'time',
      floor: 'store get (key file)',
      target: `≤ ${TARGET_AGENT_RATIO}× key-file store get`,
      mark: agentRatio <= TARGET_AGENT_RATIO ? 'pass' : 'FAIL',
      detail: `${ms(agentT)}; passphrase store unlocked in the agent`,
      extra: { medianMs: agentMed, p90Ms: percentile(agentT, 90) },
    });
    if (passT) {
      const passMed = median(passT);
      rows.push({
        name: 'pass show',
        opsPerSec: 1000 / passMed,
        ratio: passMed / nodeMed,
        ratioKind: 'time',
        floor: 'node -e 0',
        target: '—',
        mark: 'info',
        detail: `${ms(passT)}; store get takes ${(cliMed / passMed).toFixed(2)}× pass show`,
        extra: { medianMs: passMed, p90Ms: percentile(passT, 90), storeGetOverPass: cliMed / passMed },
      });
    } else {
      rows.push({ name: 'pass show', opsPerSec: null, ratio: null, target: '—', mark: 'skip', detail: passWhy ?? 'not measured' });
      notes.push(`pass show row skipped: ${passWhy}`);
    }
    return rows;
  } finally {
    passCleanup();
    lockAgent();
    removeDir(dir);
  }
}
