/**
 * Secret rows written before schema 9 carry the v1 MAC, which does not cover
 * their current version's nonce, so a get that finds one checks the
 * version's MAC as well (src/store/integrity/guarded.ts). A store made since
 * schema 9, or whose secret rows have all been given the v2 MAC since, says
 * so in a header entry, authenticated like every header entry: `rotate-keys`
 * gives the rows of a store without it their v2 MACs, a page at a time in
 * short write transactions, and then writes it, so the one run after
 * upgrading that rewraps every version also leaves every get at one MAC.
 * Removing the entry costs one more pass; it cannot be forged.
 */
import type { HeldLock, Storage, StorageOps } from '../storage/storage.js';

const ENTRY = 'secret_macs';
const ALL_V2 = 'v2';
const PAGE = 500;

/** Record that every secret row carries the v2 MAC (a store's first transaction; the end of an upgrade). */
export async function markSecretMacsCurrent(tx: Pick<StorageOps, 'setMeta'>): Promise<void> {
  await tx.setMeta(ENTRY, ALL_V2);
}

/**
 * Give every secret row still under a v1 MAC the v2 MAC, unless the store
 * says none is left; how many were written. Under the exclusive lock, whose
 * loss `lock.check()` reports between pages.
 */
export async function upgradeSecretMacs(storage: Storage, lock: HeldLock): Promise<number> {
  if (await storage.getMeta(ENTRY) === ALL_V2) return 0;
  let after = 0;
  let written = 0;
  for (;;) {
    lock.check();
    const page = await storage.write((tx) => tx.remacSecrets(after, PAGE));
    written += page.written;
    if (page.lastId === undefined) break;
    after = page.lastId;
  }
  await storage.write((tx) => markSecretMacsCurrent(tx));
  return written;
}
