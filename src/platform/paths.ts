/** Where a store lives by default: $STORE_PATH, else $XDG_DATA_HOME/strongbox/store.db. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultStorePath(env: Record<string, string | undefined>): string {
  if (env.STORE_PATH) return env.STORE_PATH;
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(data, 'strongbox', 'store.db');
}
