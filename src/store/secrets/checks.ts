/**
 * The checks and shapes the secret operations share: version numbers and
 * times given by the caller, the errors a missing or unreadable version
 * calls for, and the metadata a secret row reports.
 */
import { StoreError } from '../../errors.js';
import { MAX_DATE_MS } from '../../platform/dates.js';
import { typeName } from '../../crypto/master/master-key.js';
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


/**
 * A time the caller gave: a Date, an ISO 8601 string or ms since the epoch,
 * within a Date's range (±8.64e15 ms). @throws E_USAGE
 */
export function toTime(at: Date | number | string): number {
  const t = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : NaN;
  if (!Number.isFinite(t) || Math.abs(t) > MAX_DATE_MS) {
    throw usage('the time must be a date, an ISO 8601 string or milliseconds since the epoch (within ±8.64e15)');
  }
  return t;
}

/** A clock reading given as `now` (a Date or ms since the epoch), undefined for the store's clock. @throws E_USAGE */
export function checkClock<T extends Date | number>(now: T | undefined): T | undefined {
  if (now === undefined) return undefined;
  if (!(now instanceof Date) && typeof now !== 'number') throw usage(`now must be a Date or milliseconds since the epoch, not ${typeName(now)}`);
  toTime(now);
  return now;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A public method's options object: undefined is {} (no options); an object
 * is itself; anything else (null, a number, a string, an array) is E_USAGE.
 */
export function optionsObject<T extends object>(value: T | undefined, what: string): T {
  if (value === undefined) return {} as T;
  if (!isPlainObject(value)) throw usage(`${what} must be an object, not ${typeName(value)}`);
  return value as T;
}

/** An object argument that must be given (setMetadata's update, pruneAudit's and an export's options). @throws E_USAGE */
export function requiredObject<T extends object>(value: T, what: string): T {
  if (!isPlainObject(value)) throw usage(`${what} must be an object, not ${typeName(value)}`);
  return value;
}

/** An optional string option. @throws E_USAGE */
export function optionalString(value: unknown, what: string): string | undefined {
  if (value !== undefined && typeof value !== 'string') throw usage(`${what} must be a string, not ${typeName(value)}`);
  return value;
}

/** A file path or store locator argument: a non-empty string without NUL. @throws E_USAGE */
export function checkPath(path: unknown, what = 'the path'): string {
  if (typeof path !== 'string' || path.length === 0) throw usage(`${what} must be a non-empty string, not ${typeof path === 'string' ? 'empty' : typeName(path)}`);
  if (path.includes('\0')) throw usage(`${what} holds a NUL character`);
  return path;
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
