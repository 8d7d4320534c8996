/**
 * What an open store's operations work on: the authenticated storage, the
 * header, the keys and the audit log. The Store (store.ts) holds one and
 * passes it to the operation files (secrets/, status.ts, audit-ops.ts,
 * config.ts, rotation.ts…); features reach it through contextOf.
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
  /** The opt-in read cache (OpenOptions.cache); writes that bypass the Store's methods (imports) must clear it. */
  cache?: ReadCache;
  /** The opt-in onEvent hook. */
  events?: EventSink;
  /** Set when the store is open read-only (src/store/read-only.ts). */
  readOnly?: ReadOnlyView;
}
