/**
 * `store unlock` / `store lock`: keep a passphrase store's key in the agent
 * for a while so commands stop paying the KDF and asking, as gpg-agent does
 * for pass.
 */
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { openStore, peekStore } from '../../store/open.js';
import { masterFamily, type MasterKeySource } from '../../crypto/master.js';
import { passphraseRoot } from '../../crypto/providers/passphrase.js';
import { rawMasterKey } from '../../crypto/raw-master.js';
import { hex, wipe } from '../../crypto/bytes.js';
import { startAgent } from '../../agent/start.js';
import { AGENT_PROTOCOL, type HeldStore } from '../../agent/protocol.js';
import { AgentConnectionLost } from '../../agent/client.js';
import { forgetInAgent, privateAgentSocket } from '../../agent/client.js';
import { agentDir, ensureAgentDir, type Env } from '../../agent/paths.js';
import { MAX_UNLOCK_MS } from '../../agent/server.js';
import { parseDuration } from '../progress.js';
import { readPassphrase } from '../master.js';
import type { Context } from '../context.js';
import { resolve } from 'node:path';

const DEFAULT_FOR = '15m';
const ATTEMPTS = 3;

function unlockFor(text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0 || ms > MAX_UNLOCK_MS) throw new StoreError('E_USAGE', `--for takes 1s up to 7d, not "${text}"`);
  return ms;
}

function until(at: number): string {
  return new Date(at).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Derive the root key from the passphrase and prove it opens the store (the
 * master-key check), keeping the root for the agent. The caller wipes it.
 */
async function verifiedRoot(ctx: Context, cmd: Command): Promise<{ root: Uint8Array; storeId: Uint8Array; path: string }> {
  const g = ctx.globals(cmd);
  let root: Uint8Array | undefined;
  let storeId: Uint8Array | undefined;
  try {
    const store = await openStore(g.store, async (params) => {
      if (masterFamily(params.kind) !== 'passphrase') {
        throw new StoreError('E_USAGE', `store unlock is for passphrase stores; this one's master key is a ${params.kind} key, which needs no unlocking`);
      }
      const pw = await readPassphrase(g, ctx.io, false);
      const source: MasterKeySource = {
        kind: 'passphrase',
        create: () => Promise.reject(new Error('not for init')),
        async unlock(id, p) {
          try {
            root = await passphraseRoot(pw, p);
          } finally {
            wipe(pw);
          }
          storeId = id;
          return rawMasterKey('passphrase', root, id);
        },
      };
      return source;
    });
    await store.close();
    return { root: root!, storeId: storeId!, path: resolve(g.store) };
  } catch (e) {
    wipe(root);
    throw e;
  }
}

/**
 * Give the agent the root key, starting one if none runs. Tried again when
 * the connection drops: an agent whose last store ran out just as we
 * connected exits before our request arrives, and the passphrase typed must
 * not be lost to that.
 */
async function handToAgent(env: Env, entry: { storeId: string; ttlMs: number }, root: Uint8Array): Promise<{ held: HeldStore; pid: number | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const connection = await startAgent(env, process.argv[1]!);
    try {
      const hello = await connection.request({ op: 'hello' });
      if (hello.head.protocol !== AGENT_PROTOCOL) {
        throw new StoreError('E_AGENT', `the running agent speaks protocol ${String(hello.head.protocol)}, not ${AGENT_PROTOCOL} (left by another version)`, ['stop it with: store lock --all']);
      }
      const { head } = await connection.request({ op: 'add', kind: 'passphrase', ...entry }, [root]);
      if (!head.held) throw new StoreError('E_AGENT', 'the agent did not take the key');
      return { held: head.held, pid: hello.head.pid };
    } catch (e) {
      if (attempt >= ATTEMPTS || !(e instanceof AgentConnectionLost)) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    } finally {
      connection.close();
    }
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
      // Before the passphrase is asked for: a directory we would refuse anyway.
      ensureAgentDir(agentDir(ctx.io.env));
      const { root, storeId, path } = await verifiedRoot(ctx, cmd);
      try {
        const { held, pid } = await handToAgent(ctx.io.env, { storeId: hex(storeId), ttlMs }, root);
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
      return ctx.note(locked.length > 0 ? `locked ${resolve(path)}` : `${resolve(path)} was not unlocked`);
    });
}
