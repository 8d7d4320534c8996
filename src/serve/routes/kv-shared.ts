/** What the KV v2 route families share: the version metadata shape, and turning a Vault path into a secret name. */
import { StoreError } from '../../errors.js';
import { vaultTime } from '../kv-values.js';
import { VaultError } from '../vault-error.js';
import type { RouteContext } from '../route-context.js';
import type { VersionEntry, VersionInfo } from '../../store/types.js';
import type { KvKeySettings } from '../kv-settings.js';

/**
 * When a version counts as deleted: its soft-delete time, or, with
 * `delete_version_after`, its creation plus that many seconds (Vault sets
 * that deletion time at write; Strongbox applies it at read, so changing the
 * setting applies to versions already written, as it does not in Vault).
 */
export function deletionTime(v: VersionInfo, settings: KvKeySettings): number | undefined {
  if (v.deletedAt) return v.deletedAt.getTime();
  if (settings.deleteVersionAfter > 0 && v.state === 'live') return v.createdAt.getTime() + settings.deleteVersionAfter * 1000;
  return undefined;
}

/** A version's state as a Vault read sees it at `now`: deleted once its deletion time has passed. */
export function readableAt(v: VersionInfo, settings: KvKeySettings, now: number): boolean {
  if (v.state !== 'live') return false;
  const t = deletionTime(v, settings);
  return t === undefined || t > now;
}

/** Vault's version metadata (VM). */
export function versionMetadata(v: VersionInfo, settings: KvKeySettings, custom: Record<string, string> | null): Record<string, unknown> {
  return {
    created_time: vaultTime(v.createdAt),
    custom_metadata: custom && Object.keys(custom).length > 0 ? custom : null,
    deletion_time: vaultTime(deletionTime(v, settings)),
    destroyed: v.state === 'destroyed',
    version: v.version,
  };
}

export function entryMetadata(e: VersionEntry, settings: KvKeySettings): Record<string, unknown> {
  return versionMetadata(e, settings, e.metadata.custom);
}

/** Whether the secret exists (for the ACL, which tells a create from an update). */
export async function secretExists(ctx: RouteContext, name: string): Promise<boolean> {
  try {
    await ctx.services.store.getEntry(name);
    return true;
  } catch (e) {
    if (e instanceof StoreError && e.code === 'E_NOT_FOUND') return false;
    throw e;
  }
}

/** A merge-PATCH (data or metadata) comes as `application/merge-patch+json`, as Vault's HTTP layer requires: 415 otherwise. */
export function requireMergePatch(ctx: RouteContext): void {
  const type = (ctx.req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/merge-patch+json') {
    throw new VaultError(415, `PATCH requires Content-Type application/merge-patch+json`);
  }
}

/** Per store, per secret: the end of the last change queued by oneAtATime (never rejected). */
const queues = new WeakMap<object, Map<string, Promise<void>>>();

/**
 * Run `change` once every change queued before it for the same secret has
 * ended. A metadata PATCH reads the custom map, merges into it and writes
 * the whole map: two at once, or one with a metadata write between its read
 * and its write, would lose members (Vault holds the key's lock through
 * both). Within this server only; the store itself has no such lock.
 */
export function oneAtATime<T>(ctx: RouteContext, name: string, change: () => Promise<T>): Promise<T> {
  const store = ctx.services.store;
  let byName = queues.get(store);
  if (!byName) queues.set(store, (byName = new Map()));
  const done = (byName.get(name) ?? Promise.resolve()).then(change);
  const end = done.then(() => undefined, () => undefined);
  byName.set(name, end);
  void end.then(() => {
    if (byName.get(name) === end) byName.delete(name);
  });
  return done;
}
