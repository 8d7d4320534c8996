/**
 * `store unlock` / `store lock`: keep a passphrase store's key in the agent
 * for a while so commands stop paying the KDF and asking, as gpg-agent does
 * for pass.
 */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { openStore, peekStore } from '../../store/open.js';
import { masterFamily } from '../../crypto/master/master-key.js';
import { hex, wipe } from '../../crypto/bytes.js';
import { forgetInAgent, privateAgentSocket } from '../../crypto/master/agent/client.js';
import { agentSocketPath, ensureAgentDir } from '../../crypto/master/agent/paths.js';
import { handToAgent, keepPassphraseRoot, type RootKeeper, type UnlockedRoot } from '../../crypto/master/agent/unlock.js';
import { MAX_UNLOCK_MS } from '../../agent/server.js';
import { parseDuration } from '../progress.js';
import { readPassphrase } from '../master.js';
import type { Context } from '../context.js';
import { notShown } from '../error-report.js';
import { dirname, resolve } from 'node:path';
import { isPostgresLocator, shownLocator } from '../../storage/locator.js';

const DEFAULT_FOR = '15m';

function unlockFor(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0 || ms > MAX_UNLOCK_MS) throw new StoreError('E_USAGE', `--for takes 1s up to 7d${notShown(text)}`);
  return ms;
}

/** The store as the agent's messages name it: a file by its absolute path, a URL without its password. */
function shownStore(locator: string): string {
  return isPostgresLocator(locator) ? shownLocator(locator) : resolve(locator);
}

function until(at: number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Prove the passphrase opens the store (the master-key check) and take the
 * root key it derives, for the agent. The caller wipes the root.
 */
async function verifiedRoot(ctx: Context, cmd: Command): Promise<UnlockedRoot & { path: string }> {
  const g = ctx.globals(cmd);
  let keeper: RootKeeper | undefined;
  try {
    const store = await openStore(g.store, async (params) => {
      if (masterFamily(params.kind) !== 'passphrase') {
        throw new StoreError('E_USAGE', `store unlock is for passphrase stores; this one's master key is a ${params.kind} key, which needs no unlocking`);
      }
      keeper = keepPassphraseRoot(await readPassphrase(g, ctx.io, false));
      return keeper.source;
    });
    await store.close();
    return { ...keeper!.kept()!, path: shownStore(g.store) };
  } catch (e) {
    keeper?.discard();
    throw e;
  }
}

export function registerAgent(program: Command, ctx: Context): void {
  program
    .command('unlock')
    .description('ask the passphrase once and keep the store unlocked in the agent for a while')
    .option('--for <duration>', `how long (s, m, h, d; up to 7d; default ${DEFAULT_FOR})`, unlockFor)
    .option('--json', 'print as JSON')
    .addHelpText('after', `
The agent is a per-user process listening on $XDG_RUNTIME_DIR/strongbox/agent.sock
(directory 0700, socket 0600). It keeps the key in memory only, does the key
unwrapping for commands and library calls, and exits when the time runs out or
on store lock. Unlocking again asks again and restarts the time.`)
    .action(async (opts: { for?: number; json?: boolean }, cmd: Command) => {
      const ttlMs = opts.for ?? unlockFor(DEFAULT_FOR);
      // Before the passphrase is asked for: a directory we would refuse anyway, or a socket path too long to bind.
      ensureAgentDir(dirname(agentSocketPath(ctx.io.env)));
      const { root, storeId, path } = await verifiedRoot(ctx, cmd);
      try {
        const { held, pid } = await handToAgent(ctx.io.env, process.argv[1]!, { storeId: hex(storeId), ttlMs }, root);
        if (opts.json) return await ctx.json({ store: path, storeId: hex(storeId), expiresAt: new Date(held.expiresAt).toISOString(), agentPid: pid });
        return await ctx.note(`unlocked ${path} until ${until(held.expiresAt)} (store lock to lock it now)`);
      } finally {
        wipe(root);
      }
    });

  program
    .command('lock')
    .description('make the agent forget the store (or, with --all, every store, and exit)')
    .option('--all', 'forget every store and stop the agent')
    .option('--json', 'print as JSON')
    .action(async (opts: { all?: boolean; json?: boolean }, cmd: Command) => {
      const path = ctx.globals(cmd).store;
      const storeId = opts.all ? undefined : hex((await peekStore(path)).storeId);
      const socketPath = privateAgentSocket(ctx.io.env);
      const locked = socketPath ? await forgetInAgent(socketPath, storeId) : undefined;
      if (opts.json) return ctx.json({ agentRunning: locked !== undefined, locked: locked ?? [] });
      if (locked === undefined) return ctx.note('no agent is running: nothing was unlocked');
      if (opts.all) return ctx.note(`locked ${locked.length} store(s); the agent stops`);
      return ctx.note(locked.length > 0 ? `locked ${shownStore(path)}` : `${shownStore(path)} was not unlocked`);
    });
}
