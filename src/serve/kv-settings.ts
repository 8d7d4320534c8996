/**
 * The KV v2 settings Strongbox itself has no notion of, kept as the store's
 * authenticated records: `cas_required` and `delete_version_after`, for the
 * mount (record `kv-mount`/`mount`) and per secret (record `kv-key`/name).
 * Max versions are the store's own: a secret's `maxVersions`, and the
 * store's default for the mount.
 */
import { NOT_CACHED, RecordCache } from './record-cache.js';
import type { Store } from '../store/store.js';

export interface KvKeySettings {
  casRequired: boolean;
  /** Seconds after its creation at which a version counts as deleted; 0: never. */
  deleteVersionAfter: number;
}

const NONE: KvKeySettings = Object.freeze({ casRequired: false, deleteVersionAfter: 0 });
const MOUNT_KIND = 'kv-mount';
const MOUNT_ID = 'mount';
const KEY_KIND = 'kv-key';

function decode(text: string | undefined): KvKeySettings {
  if (text === undefined) return NONE;
  const v = JSON.parse(text) as Partial<KvKeySettings>;
  return { casRequired: v.casRequired === true, deleteVersionAfter: typeof v.deleteVersionAfter === 'number' ? v.deleteVersionAfter : 0 };
}

/** The smaller of two delete_version_after, 0 (none) at a level counting as unset there: the KV plugin's rule (delete_version_after.go). */
function sooner(a: number, b: number): number {
  return a > 0 && b > 0 ? Math.min(a, b) : a || b;
}

export class KvSettings {
  readonly #cache: RecordCache;

  /** `cache`: where settings read are kept while the store is unchanged (a server shares one); default: a cache of its own. */
  constructor(private readonly store: Store, cache?: RecordCache) {
    this.#cache = cache ?? new RecordCache(store);
  }

  async mount(): Promise<KvKeySettings> {
    return decode(await this.store.readRecord(MOUNT_KIND, MOUNT_ID));
  }

  async key(name: string): Promise<KvKeySettings> {
    return decode(await this.store.readRecord(KEY_KIND, name));
  }

  /**
   * What applies to `name`: CAS required if either says so; the smaller
   * delete_version_after of the two. Kept while the store is unchanged
   * (every KV read asks), so callers must not change what they get.
   */
  async effective(name: string): Promise<KvKeySettings> {
    return this.#cache.get(`kv:${name}`, async () => {
      const [m, k] = await Promise.all([this.mount(), this.key(name)]);
      return Object.freeze({ casRequired: m.casRequired || k.casRequired, deleteVersionAfter: sooner(k.deleteVersionAfter, m.deleteVersionAfter) });
    });
  }

  /** effective(name) at once when it is cached, else NOT_CACHED. */
  effectiveCached(name: string): KvKeySettings | typeof NOT_CACHED {
    return this.#cache.cached<KvKeySettings>(`kv:${name}`);
  }

  async setMount(update: Partial<KvKeySettings>, detail: string): Promise<void> {
    await this.store.changeRecords({ action: 'kv.config.set', detail }, async (tx) => {
      const next = { ...decode(await tx.get(MOUNT_KIND, MOUNT_ID)), ...update };
      await tx.put(MOUNT_KIND, MOUNT_ID, JSON.stringify(next));
    });
  }

  async setKey(name: string, update: Partial<KvKeySettings>): Promise<void> {
    await this.store.changeRecords({ action: 'kv.metadata.set', detail: name }, async (tx) => {
      const next = { ...decode(await tx.get(KEY_KIND, name)), ...update };
      if (!next.casRequired && next.deleteVersionAfter === 0) await tx.delete(KEY_KIND, name);
      else await tx.put(KEY_KIND, name, JSON.stringify(next));
    });
  }

  async deleteKey(name: string): Promise<void> {
    if ((await this.store.readRecord(KEY_KIND, name)) === undefined) return;
    await this.store.changeRecords({ action: 'kv.metadata.delete', detail: name }, (tx) => tx.delete(KEY_KIND, name));
  }
}
