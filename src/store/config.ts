/** The store's settings (CONFIG_KEYS): read from the authenticated header, changed with an audit entry. */
import { CONFIG_KEYS, type ConfigKey } from './header.js';
import { usage } from './secrets/checks.js';
import type { StoreContext } from './context.js';

function checkKey(key: ConfigKey): void {
  if (!CONFIG_KEYS.includes(key)) throw usage(`unknown setting "${key}"; known: ${CONFIG_KEYS.join(', ')}`);
}

export function getConfig(c: StoreContext, key: ConfigKey): string {
  checkKey(key);
  return String(c.header.auditReads);
}

export async function setConfig(c: StoreContext, key: ConfigKey, value: string): Promise<void> {
  checkKey(key);
  if (value !== 'true' && value !== 'false') throw usage(`${key} takes true or false, not "${value}"`);
  await c.storage.write(async (tx) => {
    await tx.setMeta(`config.${key}`, value);
    await c.audit.append(tx, { action: 'config.set', outcome: 'ok', detail: `${key}=${value}` });
  });
  c.header.auditReads = value === 'true';
}
