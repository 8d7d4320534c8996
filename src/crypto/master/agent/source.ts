/** The unlock agent as a master-key source for the library and the CLI. */
import { StoreError } from '../../../errors.js';
import { masterKeyNotGiven, sourceOptions, type MasterKeySource } from '../master-key.js';
import { agentKeyFor } from './held-key.js';
import type { Env } from './paths.js';

export interface AgentSourceOptions {
  /** Used when the agent does not hold this store (or none runs): a source, or a function making one only then (a prompt). */
  fallback?: MasterKeySource | (() => MasterKeySource | Promise<MasterKeySource>);
  /** Where to look for the agent (XDG_RUNTIME_DIR, TMPDIR); default process.env. */
  env?: Env;
  /**
   * Told when the agent cannot be used (its directory is not private, it
   * does not answer) and `fallback` is used instead. Without a fallback that
   * error is thrown.
   */
  onUnusable?: (error: StoreError) => void;
}

/**
 * A source that opens a store with the key `store unlock` left in the agent,
 * else with `fallback`. Opening through the agent costs no KDF and asks no
 * passphrase; the key stays in the agent. Cannot create a store.
 * @example openStore(path, agent({ fallback: () => passphrase(askUser()) }))
 */
export function agent(options: AgentSourceOptions = {}): MasterKeySource {
  options = sourceOptions(options, 'agent()');
  const env = options.env ?? process.env;
  return {
    kind: 'passphrase',
    create() {
      return Promise.reject(new StoreError('E_USAGE', 'the agent cannot create a store: init with a passphrase, then store unlock'));
    },
    async unlock(storeId, params) {
      const { fallback } = options;
      let held;
      try {
        held = await agentKeyFor(storeId, env);
      } catch (e) {
        // Nothing was sent to an unusable agent, so the fallback is safe: a squatted
        // /tmp directory must not lock a user out of a store whose passphrase they give.
        if (!fallback || !(e instanceof StoreError) || e.code !== 'E_AGENT') throw e;
        options.onUnusable?.(e);
      }
      if (held) return held;
      if (!fallback) {
        throw masterKeyNotGiven('this store is not unlocked', ['run store unlock (it asks the passphrase once)']);
      }
      const source = typeof fallback === 'function' ? await fallback() : fallback;
      return source.unlock(storeId, params);
    },
  };
}
