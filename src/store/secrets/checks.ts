/**
 * The checks and shapes the secret operations share: version numbers and
 * times given by the caller, the errors a missing or unreadable version
 * calls for, and the metadata a secret row reports.
 */
import { StoreError } from '../../errors.js';
import { LATEST, type Selector } from '../read-cache.js';
import type { SecretAndVersion, SecretRow, VersionRow } from '../../storage/storage.js';
import type { GetOptions, SecretMetadata, VersionState } from '../types.js';

export function usage(message: string): StoreError {
  return new StoreError('E_USAGE', message);
}

export function checkVersionNumber(v: unknown, what = 'version'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw usage(`${what} must be a whole number from 1 up`);
  return v;
}

export function checkVersions(versions: readonly number[] | undefined): number[] | undefined {
  if (versions === undefined) return undefined;
  if (!Array.isArray(versions) || versions.length === 0) throw usage('versions must list at least one version');
  return [...new Set(versions.map((v) => checkVersionNumber(v)))];
}

export function toTime(at: Date | number | string): number {
  const t = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) throw usage('the time must be a date, an ISO 8601 string or milliseconds since the epoch');
  return t;
}

/** What a get may be cached as: the current version or version N; undefined for a time query or a malformed version (not cached). */
export function selectorOf(options: GetOptions): Selector | undefined {
  if (options.at !== undefined) return undefined;
  const v = options.version;
  if (v === undefined) return LATEST;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? v : undefined;
}

export function notFound(name: string): StoreError {
  return new StoreError('E_NOT_FOUND', `no secret named ${name}`);
}

export function stateOf(v: VersionRow): VersionState {
  if (v.destroyedAt !== null) return 'destroyed';
  if (v.deletedAt !== null) return 'deleted';
  return 'live';
}

/** The value of `found`'s version, or the error its state calls for. */
export function liveVersion(name: string, found: SecretAndVersion | undefined, what: string): VersionRow {
  if (!found) throw notFound(name);
  const v = found.version;
  if (!v) throw new StoreError('E_NOT_FOUND', `${name} has no ${what}`);
  if (v.destroyedAt !== null) throw new StoreError('E_DESTROYED', `${name} version ${v.version} was destroyed`);
  if (v.deletedAt !== null) {
    throw new StoreError('E_DELETED', `${name} version ${v.version} is deleted`, [
      `undelete it with: store undelete ${name} --versions ${v.version}`,
    ]);
  }
  return v;
}

export function metadataOf(s: SecretRow, oldestVersion: number): SecretMetadata {
  return {
    name: s.name,
    currentVersion: s.currentVersion,
    oldestVersion,
    maxVersions: s.maxVersions,
    custom: s.custom,
    createdAt: new Date(s.createdAt),
    updatedAt: new Date(s.updatedAt),
  };
}
