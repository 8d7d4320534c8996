/**
 * `store serve`: answer the Vault HTTP API (KV v2, tokens, AppRole, ACL
 * policies) over this store until SIGTERM or Ctrl-C, which finish the
 * requests in flight and close the store cleanly. SIGHUP reloads the TLS
 * files. Other processes (the CLI, cron's rotate-keys) keep using the store
 * file meanwhile; the server sees their writes at once. When the store's key
 * is not available at start (a passphrase store not unlocked, no terminal),
 * it serves sealed until `store unlock` (src/serve/seal.ts).
 */
import { closeSync, existsSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { notShown } from '../error-report.js';
import { openStore } from '../../store/open.js';
import { createExclusive } from '../../platform/exclusive-file.js';
import { startServer, type ListenTarget, type RunningServer } from '../../serve/server.js';
import type { TokenStore } from '../../serve/auth/tokens.js';
import { sourceForOpen } from '../master.js';
import { VERSION } from '../main.js';
import { wholeNumber, type Context } from '../context.js';
import type { Io } from '../io.js';

interface ServeFlags {
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  mount: string;
  initRootToken?: string;
  rateLimit?: number;
  maxConnections?: number;
  json?: boolean;
}

/** `127.0.0.1:8200`, `[::1]:8200`, `localhost:0`, or `unix:/path/to.sock` (also `unix:///path`, VAULT_ADDR's form). */
export function parseListen(text: string): ListenTarget {
  if (text.startsWith('unix:')) {
    const socketPath = text.startsWith('unix://') ? text.slice(7) : text.slice(5);
    if (!socketPath) throw new StoreError('E_USAGE', '--listen unix: needs a socket path, e.g. unix:/run/strongbox/vault.sock');
    return { socketPath };
  }
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new StoreError('E_USAGE', `--listen takes HOST:PORT or unix:PATH${notShown(text)}`);
  return { host: m[1] ?? m[2]!, port };
}

function readTls(flags: ServeFlags): { cert: Buffer; key: Buffer } | undefined {
  if (!flags.tlsCert && !flags.tlsKey) return undefined;
  if (!flags.tlsCert || !flags.tlsKey) throw new StoreError('E_USAGE', '--tls-cert and --tls-key go together');
  try {
    return { cert: readFileSync(flags.tlsCert), key: readFileSync(flags.tlsKey) };
  } catch (e) {
    throw new StoreError('E_IO', `cannot read the TLS files: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function tokenFileExists(path: string): StoreError {
  return new StoreError('E_USAGE', `${path} exists: --init-root-token writes a new file (remove the old one, or revoke its token first)`);
}

/**
 * Make a root token and write it to `path`, created 0600 and only if the
 * name is free: it is printed nowhere else. The file is claimed first, so a
 * taken name makes no token.
 */
async function writeRootToken(tokens: TokenStore, path: string): Promise<void> {
  let fd: number;
  try {
    fd = createExclusive(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw tokenFileExists(path);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
  try {
    const { token } = await tokens.create(undefined, { policies: ['root'], orphan: true, displayName: 'root' });
    writeSync(fd, `${token}\n`);
  } catch (e) {
    closeSync(fd);
    unlinkSync(path);
    throw e;
  }
  closeSync(fd);
}

/** The same io, but a passphrase is never asked for: tries to unseal run unattended. */
function withoutPrompts(io: Io): Io {
  return {
    get stdin() {
      return io.stdin;
    },
    stdout: io.stdout,
    stderr: io.stderr,
    env: { ...io.env, STORE_NO_PROMPT: '1' },
    stdinIsTTY: io.stdinIsTTY,
    stdoutIsTTY: io.stdoutIsTTY,
    stderrIsTTY: io.stderrIsTTY,
  };
}

const OPERATION_HELP = `
Sealed: when the store's master key is not available at start (a
passphrase store nobody has unlocked, and no terminal to ask on, or
STORE_NO_PROMPT set), the server listens anyway, sealed, as Vault does:
sys/health answers 503 with "sealed": true, every other request 503
"Vault is sealed". It tries to open the store every 2 s, and on a request
at most once a second, so a later \`store unlock\` unseals it without a
restart. A wrong key, or a missing or damaged store, ends the start.

Signals: SIGTERM or Ctrl-C stop accepting connections, finish the requests
under way and close the store (exit 0). SIGHUP reads --tls-cert and
--tls-key again; new connections get the new pair (one that does not load
is refused and the old pair stays).

--listen takes a loopback address (127.0.0.1, ::1, localhost) or
unix:PATH (a socket only its owner can use, mode 0600; VAULT_ADDR is then
unix:PATH); any other address only with TLS.`;

/** Resolves on SIGTERM or SIGINT; until then SIGHUP reloads the TLS files. */
function untilStopped(server: RunningServer, flags: ServeFlags, ctx: Context): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      process.off('SIGHUP', reload);
      resolve();
    };
    const reload = () => {
      try {
        const next = readTls(flags);
        if (!next) {
          void ctx.note('SIGHUP: no TLS files to reload (serving plain HTTP)');
          return;
        }
        server.setTls(next);
        void ctx.note('SIGHUP: TLS files reloaded');
      } catch (e) {
        void ctx.note(`SIGHUP: TLS files not reloaded, the old ones stay: ${(e as Error).message}`);
      }
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', reload);
  });
}

export function registerServe(program: Command, ctx: Context): void {
  program
    .command('serve')
    .description('answer the Vault HTTP API (KV v2, tokens, AppRole, policies) over this store, so Vault clients work unchanged')
    .option('--listen <address>', 'HOST:PORT or unix:PATH (default 127.0.0.1:8200; other than loopback only with TLS)', '127.0.0.1:8200')
    .option('--tls-cert <file>', 'PEM certificate (chain) to serve HTTPS; reloaded on SIGHUP')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--mount <name>', 'the KV v2 mount clients use (default secret)', 'secret')
    .option('--init-root-token <file>', 'create a root token and write it to this new file (0600)')
    .option('--rate-limit <n>', 'at most N requests per second per token (429 beyond)', wholeNumber('--rate-limit', 1))
    .option('--max-connections <n>', 'open client connections at most (default 256)', wholeNumber('--max-connections', 1))
    .option('--json', 'print the listening address as one JSON line on stdout')
    .addHelpText('after', OPERATION_HELP)
    .action(async (flags: ServeFlags, cmd: Command) => {
      const listen = parseListen(flags.listen);
      const tls = readTls(flags);
      const tokenFile = flags.initRootToken;
      if (tokenFile && existsSync(tokenFile)) throw tokenFileExists(tokenFile);
      const g = ctx.globals(cmd);
      const unattended = withoutPrompts(ctx.io);
      const server = await startServer({
        openStore: ({ mayPrompt }) => openStore(g.store, sourceForOpen(g, mayPrompt ? ctx.io : unattended)),
        onUnseal: async (services, afterSealed) => {
          try {
            if (tokenFile) await writeRootToken(services.tokens, tokenFile);
          } catch (e) {
            if (!afterSealed) throw e;
            await ctx.note(`the root token was not written: ${(e as Error).message}`);
          }
          if (afterSealed) await ctx.note('unsealed: the store is open');
        },
        onRetryError: (e) => void ctx.note(`still sealed: ${e.message}`),
        listen,
        mount: flags.mount,
        version: VERSION,
        ...(tls ? { tls } : {}),
        ...(flags.rateLimit ? { rateLimit: flags.rateLimit } : {}),
        ...(flags.maxConnections ? { limits: { maxConnections: flags.maxConnections } } : {}),
      });
      // Before the address is out: a supervisor may signal as soon as it reads it.
      const stopped = untilStopped(server, flags, ctx);
      const sealed = server.sealed;
      if (flags.json) await ctx.json({ address: server.address, mount: `${flags.mount}/`, pid: process.pid, sealed });
      else await ctx.note(`serving the Vault API at ${server.address} (KV v2 mount ${flags.mount}/); SIGTERM or Ctrl-C stops`);
      if (sealed) await ctx.note(`sealed: ${server.sealedBecause}; serving 503 until the key is available (store unlock), tried every 2 s`);
      await stopped;
      await server.close();
      if (!flags.json) await ctx.note('stopped');
    });
}
