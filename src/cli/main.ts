/**
 * The `store` program: parse, run one command, map its error to an exit
 * status. No crypto and no SQL here; messages are safe to print because the
 * library never puts a value into one.
 */
import { Command, CommanderError } from 'commander';
import { StoreError } from '../errors.js';
import { EXIT, EXIT_FOR } from './exit-codes.js';
import { Context } from './context.js';
import type { Io } from './io.js';
export const VERSION = '0.1.0';

type Register = (program: Command, ctx: Context) => void;
/** A command group's module, loaded only when one of its commands runs (or for help). */
type LoadGroup = () => Promise<Register>;

/**
 * Every command group with the command names it registers. Loaded lazily:
 * each module's top-level code (and what it imports) runs only for its own
 * commands, which is start-up a short command like `store get` need not pay.
 */
const COMMANDS: [names: string[], load: LoadGroup][] = [
  [['init'], async () => (await import('./commands/init.js')).registerInit],
  [['set'], async () => (await import('./commands/set.js')).registerSet],
  [['get'], async () => (await import('./commands/get.js')).registerGet],
  [['list', 'ls'], async () => (await import('./commands/list.js')).registerList],
  [['history'], async () => (await import('./commands/history.js')).registerHistory],
  [['delete', 'undelete', 'destroy', 'purge', 'rollback'], async () => (await import('./commands/lifecycle.js')).registerLifecycle],
  [['meta'], async () => (await import('./commands/meta.js')).registerMeta],
  [['status'], async () => (await import('./commands/status.js')).registerStatus],
  [['rotate-keys', 'keys'], async () => (await import('./commands/keys.js')).registerKeys],
  [['rotate-master'], async () => (await import('./commands/rotate-master.js')).registerRotateMaster],
  [['audit'], async () => (await import('./commands/audit.js')).registerAudit],
  [['config'], async () => (await import('./commands/audit.js')).registerConfig],
  [['export', 'import'], async () => (await import('./commands/export.js')).registerExport],
  [['backup', 'restore', 'verify'], async () => (await import('./commands/backup.js')).registerBackup],
  [['rotate', 'policy', 'due'], async () => (await import('./commands/policy.js')).registerPolicy],
  [['run', 'env', 'inject'], async () => (await import('./commands/run.js')).registerRun],
  [['unlock', 'lock'], async () => (await import('./commands/agent.js')).registerAgent],
  [['profiles'], async () => (await import('./commands/profiles.js')).registerProfiles],
  [['check'], async () => (await import('./commands/check.js')).registerCheck],
  // The completion script is read from the whole program, every group registered.
  [['completion', '__complete'], async () => {
    const others = COMMANDS.filter(([names]) => !names.includes('completion')).map(([, load]) => load);
    const [{ registerCompletion }, registers] = await Promise.all([import('./commands/completion.js'), loadGroups(others)]);
    const self: Register = (p, ctx) => registerCompletion(p, ctx, (c) => program(c, [...registers, self]));
    return self;
  }],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
  [['stats'], async () => (await import('./commands/stats.js')).registerStats],
];

/** Global options that take a value (their value is not a command name). */
const GLOBAL_VALUE_OPTIONS = new Set(['--store', '--keyfile', '--passphrase-file', '--module', '--pin-file', '--profile']);

/**
 * The command groups to build: only the named command's, since building all
 * of them is measurable start-up for a short command like `store get`; all of
 * them for help, a typo or no command, so commander can list and suggest.
 */
function groupsFor(argv: string[]): LoadGroup[] {
  const all = COMMANDS.map(([, load]) => load);
  if (argv.includes('-h') || argv.includes('--help')) return all;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (GLOBAL_VALUE_OPTIONS.has(arg)) i++;
    else if (!arg.startsWith('-')) {
      const group = COMMANDS.find(([names]) => names.includes(arg));
      return group ? [group[1]] : all;
    }
  }
  return all;
}

function loadGroups(loaders: LoadGroup[]): Promise<Register[]> {
  return Promise.all(loaders.map((load) => load()));
}

/** The program with the given command groups registered. */
function program(ctx: Context, groups: Register[]): Command {
  const p = new Command('store')
    .description('Strongbox: a local encrypted secret store')
    .option('--store <path>', 'the store file (env STORE_PATH; default $XDG_DATA_HOME/strongbox/store.db)')
    .option('--keyfile <path>', 'master key file (env STORE_KEYFILE)')
    .option('--passphrase-file <path>', 'read the passphrase from a file (env STORE_PASSPHRASE_FILE; or STORE_PASSPHRASE)')
    .option('--module <path>', 'PKCS#11 module of an HSM master key (env STORE_PKCS11_MODULE)')
    .option('--pin-file <path>', 'read the PKCS#11 PIN from a file (env STORE_PKCS11_PIN_FILE; or STORE_PKCS11_PIN)')
    .option('--profile <name>', 'a profile of $XDG_CONFIG_HOME/strongbox/config.json (env STORE_PROFILE; default: the file\'s "default")')
    .option('--debug', 'print stack traces on errors')
    .showHelpAfterError('(run store --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      // commander quotes an unknown option whole: in --password=hunter2 the part after '=' is a value.
      outputError: (s, write) => write(s.replace(/^error: /, 'store: error: ').replace(/('-[^'=\s]*=)[^']*'/g, "$1…'")),
    });
  for (const register of groups) register(p, ctx);
  p.addHelpText('after', `
store -V (or store --version alone) prints the program version.

Exit status: 0 ok, 1 error, 2 usage or invalid input, 3 not found / deleted / destroyed,
4 check-and-set conflict, 5 wrong master key or tampered data, 6 master key missing or unusable,
7 no store / not a store / too new, 10 check, due, doctor or stats --verify-audit found something,
75 locked (try again), 130 stopped by Ctrl-C.`);
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  p.commands.forEach(override);
  return p;
}

/** Run the CLI with `argv` (without node and script); resolves to the exit status. */
export async function run(argv: string[], io: Io): Promise<number> {
  const ctx = new Context(io);
  const debug = argv.includes('--debug');
  // Not commander's .version(): its --version would shadow `get --version N`.
  if (argv.length === 1 && (argv[0] === '-V' || argv[0] === '--version')) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (argv[0] === '__agent') {
    // The unlock agent's own process (started by store unlock), not a user command.
    const { agentMain } = await import('../agent/server.js');
    return agentMain(argv.slice(1));
  }
  try {
    await program(ctx, await loadGroups(groupsFor(argv))).parseAsync(argv, { from: 'user' });
    return ctx.exitStatus ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end this way too, with status 0; commander already printed.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof StoreError) {
      io.stderr.write(`store: error: ${e.message}\n`);
      for (const hint of e.hints) io.stderr.write(`store: hint: ${hint}\n`);
      if (debug && e.stack) io.stderr.write(`${e.stack}\n`);
      return EXIT_FOR[e.code] ?? EXIT.generic;
    }
    io.stderr.write(`store: error: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (debug && (e as Error)?.stack) io.stderr.write(`${(e as Error).stack}\n`);
    else io.stderr.write('store: hint: run again with --debug for details\n');
    return EXIT.generic;
  }
}
