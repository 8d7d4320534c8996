/**
 * The `store` program: parse, run one command, map its error to an exit
 * status. No crypto and no SQL here; messages are safe to print because the
 * library never puts a value into one.
 */
import { Command, CommanderError } from 'commander';
import { StoreError } from '../errors.js';
import { EXIT, EXIT_FOR } from './exit-codes.js';
import { Context } from './context.js';
import { ErrorReport, withoutOptionValues } from './error-report.js';
import { addExamples } from './help/examples.js';
import { exitStatusFooter } from './help/exit-status.js';
import { withWriteErrors, type Io } from './io.js';
/** The program's version (a test holds it equal to package.json's). */
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
  [['edit'], async () => (await import('./commands/edit.js')).registerEdit],
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
  [['age-keygen'], async () => (await import('./commands/age-keygen.js')).registerAgeKeygen],
  [['backup', 'restore', 'verify'], async () => (await import('./commands/backup.js')).registerBackup],
  [['migrate'], async () => (await import('./commands/migrate.js')).registerMigrate],
  [['rotate', 'policy', 'due'], async () => (await import('./commands/policy.js')).registerPolicy],
  [['run', 'env', 'inject'], async () => (await import('./commands/run.js')).registerRun],
  [['unlock', 'lock'], async () => (await import('./commands/agent.js')).registerAgent],
  [['profiles'], async () => (await import('./commands/profiles.js')).registerProfiles],
  [['check'], async () => (await import('./commands/check.js')).registerCheck],
  [['token'], async () => (await import('./commands/token.js')).registerToken],
  // The completion script is read from the whole program, every group registered.
  [['completion', '__complete'], async () => {
    const others = COMMANDS.filter(([names]) => !names.includes('completion')).map(([, load]) => load);
    const [{ registerCompletion }, registers] = await Promise.all([import('./commands/completion.js'), loadGroups(others)]);
    const self: Register = (p, ctx) => registerCompletion(p, ctx, (c) => program(c, [...registers, self]));
    return self;
  }],
  [['doctor'], async () => (await import('./commands/doctor.js')).registerDoctor],
  [['stats'], async () => (await import('./commands/stats.js')).registerStats],
  [['serve'], async () => (await import('./commands/serve.js')).registerServe],
  [['acl'], async () => (await import('./commands/acl.js')).registerAcl],
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

/** The program with the given command groups registered; `report` follows the parse to tell a failure as text or JSON. */
function program(ctx: Context, groups: Register[], report?: ErrorReport): Command {
  const p = new Command('store')
    .description('Strongbox: a local encrypted secret store')
    .option('--store <path>', 'the store file, or a postgres:// URL (env STORE_PATH; default $XDG_DATA_HOME/strongbox/store.db)')
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
      // Under --json a refused command line is told as one JSON line at the end (ErrorReport), not as text here.
      writeErr: (s) => (report?.json ? undefined : ctx.io.stderr.write(s)),
      outputError: (s, write) => write(withoutOptionValues(s.replace(/^error: /, 'store: error: '))),
    });
  for (const register of groups) register(p, ctx);
  addExamples(p);
  p.addHelpText('after', `
store -V (or store --version alone) prints the program version; with --json also
the Node.js version, the store schema and the file formats this build writes.
Under --json a failure is one JSON line on stderr:
  {"error":{"code":"E_NOT_FOUND","message":"...","hints":[...],"exit":3}}

${exitStatusFooter()}`);
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  p.commands.forEach(override);
  if (report) {
    const follow = (c: Command): void => {
      if (c.commands.length > 0) c.hook('preSubcommand', (_parent, sub) => report.reached(sub));
      c.commands.forEach(follow);
    };
    follow(p);
  }
  return p;
}

/** The whole program, every command group registered: for the man page and the tests that read all commands. */
export async function fullProgram(ctx: Context): Promise<Command> {
  return program(ctx, await loadGroups(COMMANDS.map(([, load]) => load)));
}

/** `store --version` or `-V`, alone or with --json: the only flags it takes. */
function versionRequest(argv: string[]): { json: boolean } | undefined {
  const rest = argv.filter((a) => a !== '--json');
  if (rest.length !== 1 || argv.length > 2 || (rest[0] !== '-V' && rest[0] !== '--version')) return undefined;
  return { json: rest.length < argv.length };
}

/** Run the CLI with `argv` (without node and script); resolves to the exit status. */
export async function run(argv: string[], given: Io): Promise<number> {
  // A write to stdout or stderr that fails (ENOSPC) rejects with E_IO, told below as any other failure.
  const io = withWriteErrors(given);
  const ctx = new Context(io);
  const debug = argv.includes('--debug');
  // Not commander's .version(): its --version would shadow `get --version N`.
  const version = versionRequest(argv);
  if (version?.json) {
    const { versionInfo } = await import('./help/version.js');
    io.stdout.write(`${JSON.stringify(versionInfo(VERSION))}\n`);
    return EXIT.ok;
  }
  if (version) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (argv[0] === '__agent') {
    // The unlock agent's own process (started by store unlock), not a user command.
    const { agentMain } = await import('../agent/server.js');
    return agentMain(argv.slice(1));
  }
  if (argv[0] === '__clip-clear') {
    // The clipboard clearer left behind by store get --clip, not a user command.
    const { clipClearMain } = await import('./clipboard-clear.js');
    return clipClearMain(io).catch(() => EXIT.generic);
  }
  const report = new ErrorReport(argv);
  try {
    await program(ctx, await loadGroups(groupsFor(argv)), report).parseAsync(argv, { from: 'user' });
    return ctx.exitStatus ?? EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version end this way too, with status 0; commander already printed.
      if (e.exitCode === 0) return EXIT.ok;
      report.failUsage(io, e, EXIT.usage);
      return EXIT.usage;
    }
    if (e instanceof StoreError) {
      const exit = EXIT_FOR[e.code] ?? EXIT.generic;
      report.fail(io, { code: e.code, message: e.message, hints: e.hints, exit }, debug ? e.stack : undefined);
      return exit;
    }
    const stack = debug ? (e as Error)?.stack : undefined;
    report.fail(io, {
      code: 'E_INTERNAL', message: `internal error: ${(e as Error)?.message ?? String(e)}`,
      hints: stack ? [] : ['run again with --debug for details'], exit: EXIT.generic,
    }, stack);
    return EXIT.generic;
  }
}
