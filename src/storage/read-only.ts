/**
 * Why a storage is open read-only, and the refusal of a change it makes
 * (E_READ_ONLY): what any driver that can be opened read-only reports. The
 * store's own rules for read-only consumers (which reads it refuses, and
 * why) are src/store/read-only.ts.
 */
import { StoreError } from '../errors.js';

/** Why a store is open read-only: its file system, a permission, the caller asked, or (PostgreSQL) the role or the server. */
export interface ReadOnlyReason {
  cause: 'read-only' | 'denied' | 'asked' | 'database';
  /** The directory or file that cannot be written (the store file when asked); for 'database', the reason in words. */
  where: string;
  /** What to do to write it, where a file's advice would be wrong (a store in a database server). */
  hints?: string[];
}

/** The reason in words, for messages: "the file system holding /x is read-only". */
export function describeReadOnly(r: ReadOnlyReason): string {
  switch (r.cause) {
    case 'read-only':
      return `the file system holding ${r.where} is read-only`;
    case 'denied':
      return `this user may not write ${r.where}`;
    case 'asked':
      return 'it was opened read-only on request';
    case 'database':
      return r.where;
  }
}

/** A change (or anything that writes) on a read-only store. */
export function changeRefused(path: string, reason: ReadOnlyReason): StoreError {
  return new StoreError('E_READ_ONLY', `cannot change the store ${path}: it is open read-only here (${describeReadOnly(reason)})`,
    reason.hints ?? ['make changes as a user who can write the store file and its directory']);
}

