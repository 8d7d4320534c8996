/**
 * What an open store's operations work on: the authenticated storage, the
 * header, the keys and the audit log. The Store (store.ts) holds one and
 * passes it to the operation files (secrets/, status.ts, audit-ops.ts,
 * config.ts, rotation.ts, policy.ts, stats.ts, backup/, transfer/…), which
 * never see the Store itself: every way in is a Store method, so the
 * facade's rules (hook, failure audit, cache, read-only refusal) apply to all.
 */
import type { Keyset } from '../crypto/keyset.js';
import type { MasterKey } from '../crypto/master/master-key.js';
import type { StoreHeader } from './header.js';
import type { ReadCache } from './read-cache.js';
import type { EventSink } from './events.js';
import type { AuditLog } from './audit.js';
import type { ReadOnlyView } from './read-only.js';
import type { GuardedStorage } from './integrity/guarded.js';

export interface StoreContext {
  path: string;
  /** Every row authenticated (src/store/integrity). */
  storage: GuardedStorage;
  header: StoreHeader;
  master: MasterKey;
  keyset: Keyset;
  now: () => number;
  audit: AuditLog;
  /** The opt-in read cache (OpenOptions.cache); the Store drops its entries after every change. */
  cache?: ReadCache;
  /** The opt-in onEvent hook. */
  events?: EventSink;
  /** Set when the store is open read-only (src/store/read-only.ts). */
  readOnly?: ReadOnlyView;
}

/**
 * Release what an open context holds: zero the data keys, forget the master
 * key, close the file. For a context opened without a Store around it
 * (openContext: restore's check of a backup's copy); Store.close does the same.
 */
export async function closeContext(c: StoreContext): Promise<void> {
  c.audit.close();
  c.keyset.wipe();
  c.master.close();
  await c.storage.close();
}
