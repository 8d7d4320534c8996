/**
 * `store serve`: answer the Vault HTTP API (KV v2, tokens, AppRole, ACL
 * policies) over this store until SIGTERM or Ctrl-C, which finish the
 * requests in flight and close the store cleanly. SIGHUP reloads the TLS
 * files. Other processes (the CLI, cron's rotate-keys) keep using the store
 * file meanwhile; the server sees their writes at once.
 */
import { closeSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { openStore } from '../../store/open.js';
import { createExclusive } from '../../platform/exclusive-file.js';
import { startServer, type ListenTarget } from '../../serve/server.js';
import { sourceForOpen } from '../master.js';
import { VERSION } from '../main.js';
import { wholeNumber, type Context } from '../context.js';

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

/** `127.0.0.1:8200`, `[::1]:8200`, `localhost:0`, or `unix:/path/to.sock`. */
export function parseListen(text: string): ListenTarget {
  if (text.startsWith('unix:')) {
    const socketPath = text.slice(5);
    if (!socketPath) throw new StoreError('E_USAGE', '--listen unix: needs a socket path, e.g. unix:/run/strongbox/vault.sock');
    return { socketPath };
  }
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new StoreError('E_USAGE', `--listen takes HOST:PORT or unix:PATH, not "${text.slice(0, 80)}"`);
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

/** Write the root token to `path`, created 0600 and only if the name is free: it is printed nowhere else. */
function writeTokenFile(path: string, token: string): void {
  let fd: number;
  try {
    fd = createExclusive(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreError('E_USAGE', `${path} exists: --init-root-token writes a new file (remove the old one, or revoke its token first)`);
    throw new StoreError('E_IO', `cannot create ${path}: ${code ?? 'error'}`);
  }
  try {
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
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
    .action(async (flags: ServeFlags, cmd: Command) => {
      const listen = parseListen(flags.listen);
      const tls = readTls(flags);
      const g = ctx.globals(cmd);
      const store = await openStore(g.store, sourceForOpen(g, ctx.io));
      let server;
      try {
        server = await startServer({
          store,
          listen,
          mount: flags.mount,
          version: VERSION,
          ...(tls ? { tls } : {}),
          ...(flags.rateLimit ? { rateLimit: flags.rateLimit } : {}),
          ...(flags.maxConnections ? { limits: { maxConnections: flags.maxConnections } } : {}),
        });
        if (flags.initRootToken) {
          const { token } = await server.services.tokens.create(undefined, { policies: ['root'], orphan: true, displayName: 'root' });
          writeTokenFile(flags.initRootToken, token);
        }
      } catch (e) {
        await server?.close();
        await store.close();
        throw e;
      }
      if (flags.json) await ctx.json({ address: server.address, mount: `${flags.mount}/`, pid: process.pid });
      else await ctx.note(`serving the Vault API at ${server.address} (KV v2 mount ${flags.mount}/); SIGTERM or Ctrl-C stops`);
      const running = server;
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          process.off('SIGHUP', reload);
          resolve();
        };
        const reload = () => {
          try {
            const next = readTls(flags);
            if (next) running.setTls(next);
            void ctx.note('SIGHUP: TLS files reloaded');
          } catch (e) {
            void ctx.note(`SIGHUP: TLS files not reloaded: ${(e as Error).message}`);
          }
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
        process.on('SIGHUP', reload);
      });
      await running.close();
      await store.close();
      if (!flags.json) await ctx.note('stopped');
    });
}
