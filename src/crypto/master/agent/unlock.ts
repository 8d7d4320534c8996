/**
 * `store unlock`'s side of the agent: derive a passphrase store's root key
 * while proving it opens the store, and hand that root to the agent. The
 * CLI only asks for the passphrase and says what happened; the key work
 * lives here, with the master-key sources.
 */
import { StoreError } from '../../../errors.js';
import { wipe } from '../../bytes.js';
import type { MasterKeySource } from '../master-key.js';
import { passphraseRoot } from '../passphrase.js';
import { rawMasterKey } from '../raw-master.js';
import { AgentConnectionLost } from './client.js';
import type { Env } from './paths.js';
import { AGENT_PROTOCOL, type HeldStore } from './protocol.js';
import { startAgent } from './start.js';

/** How often a hand-over is tried when the connection drops. */
const ATTEMPTS = 3;

/** A passphrase store's root key and the store it opens. */
export interface UnlockedRoot {
  root: Uint8Array;
  storeId: Uint8Array;
}

/** A source that unlocks with a passphrase and keeps the derived root (the agent's key) for the caller. */
export interface RootKeeper {
  readonly source: MasterKeySource;
  /** The root once a store was unlocked with it; the caller wipes it. */
  kept(): UnlockedRoot | undefined;
  /** Wipe the root, if any (after a failure). */
  discard(): void;
}

/**
 * A source for openStore that derives the root key from `pw` (wiping `pw`
 * once used) and keeps it: opening the store is what proves the root right
 * (the master-key check), so only a verified root reaches the agent.
 */
export function keepPassphraseRoot(pw: Uint8Array): RootKeeper {
  let root: Uint8Array | undefined;
  let storeId: Uint8Array | undefined;
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
  return {
    source,
    kept: () => (root && storeId ? { root, storeId } : undefined),
    discard: () => wipe(root),
  };
}

/**
 * Give the agent the root key, starting one from `entry` (the CLI's script)
 * if none runs. Tried again when the connection drops: an agent whose last
 * store ran out just as we connected exits before our request arrives, and
 * the passphrase typed must not be lost to that.
 */
export async function handToAgent(
  env: Env, entry: string, store: { storeId: string; ttlMs: number }, root: Uint8Array,
): Promise<{ held: HeldStore; pid: number | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const connection = await startAgent(env, entry);
    try {
      const hello = await connection.request({ op: 'hello' });
      if (hello.head.protocol !== AGENT_PROTOCOL) {
        throw new StoreError('E_AGENT', `the running agent speaks protocol ${String(hello.head.protocol)}, not ${AGENT_PROTOCOL} (left by another version)`, ['stop it with: store lock --all']);
      }
      const { head } = await connection.request({ op: 'add', kind: 'passphrase', ...store }, [root]);
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
