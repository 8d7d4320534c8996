/**
 * What a store opened read-only (src/storage/sqlite/read-only.ts) refuses, and
 * how it says so. A read-only consumer reads; it never changes the store.
 * The audit log decides the rest: a store that audits reads (audit.reads,
 * on by default) must log every read that reaches its file, and a process
 * that cannot write cannot log, so such a store refuses its reads too
 * (fail closed: a consumer that cannot log its reads must not read). The
 * operations a store always logs (backup, verify, export) are refused for
 * the same reason. Each is refused before anything is read.
 */
import { StoreError } from '../errors.js';
import { describeReadOnly, type ReadOnlyReason } from '../storage/read-only.js';

export { changeRefused, describeReadOnly, type ReadOnlyReason } from '../storage/read-only.js';

/** A read of a store that audits reads, through a process that cannot write its audit log. */
export function unloggedReadRefused(path: string, reason: ReadOnlyReason): StoreError {
  return new StoreError('E_READ_ONLY', `${path} audits reads, and it is open read-only here (${describeReadOnly(reason)}): a read that cannot be logged is refused`, [
    'to let read-only consumers read it, turn read auditing off as a user who can write the store: store config set audit.reads false',
    ...(reason.hints ?? ['or give this user write access to the store file and its directory, so its reads are logged']),
  ]);
}

/** An operation the store always logs (`what`: "a backup"), on a read-only store. */
export function unloggedOperationRefused(path: string, reason: ReadOnlyReason, what: string): StoreError {
  return new StoreError('E_READ_ONLY', `${path}: ${what} is always recorded in the audit log, and the store is open read-only here (${describeReadOnly(reason)})`,
    reason.hints ?? ['run it as a user who can write the store file and its directory']);
}

/** Held by an open store's context when it is read-only. */
export interface ReadOnlyView {
  reason: ReadOnlyReason;
  /** Take the snapshot again if the file changed (SqliteStorage.refresh). */
  refresh(): void;
}

/** Refuse an always-logged operation on a read-only store. @throws E_READ_ONLY */
export function refuseUnlogged(c: { path: string; readOnly?: ReadOnlyView }, what: string): void {
  if (c.readOnly) throw unloggedOperationRefused(c.path, c.readOnly.reason, what);
}
