/**
 * Records: small authenticated values, kept for features built over the store
 * (`store serve`'s tokens, accessors, ACL policies, AppRole roles and
 * secret-ids). A record is text (JSON by convention) under a kind and an id;
 * each row is MAC'd under the integrity key, bound to its kind and id, and
 * counted in the whole-state digest like every other row (docs/integrity.md).
 * Records are not secrets: they are stored in clear, so whatever must stay
 * secret (a token, a secret-id) is kept only as its hash.
 *
 * Reads are not audited (a record is no secret value, and the features above
 * record their requests themselves); every change is one write transaction
 * with its audit entry, as every other change of the store.
 */
import { StoreError } from '../errors.js';
import type { RecordEntry, StorageOps } from '../storage/storage.js';
import type { StoreContext } from './context.js';

/** What the body of Store.changeRecords works with: one write transaction's records. */
export interface RecordTx {
  get(kind: string, id: string): Promise<string | undefined>;
  /** Write (insert or replace) a record. */
  put(kind: string, id: string, value: string): Promise<void>;
  /** Remove a record; false when there was none. */
  delete(kind: string, id: string): Promise<boolean>;
  /** Every record of a kind, in id order. */
  list(kind: string): Promise<RecordEntry[]>;
}

/** The audit entry a change of records is recorded with: never a token, a secret-id or a value. */
export interface RecordAudit {
  action: string;
  detail?: string;
}

const KIND = /^[a-z][a-z0-9-]{0,31}$/;
/** Ids are hashes, accessors, names: short. */
const MAX_ID_BYTES = 512;
/** A record is a small document (a token's metadata, a policy's text). */
export const MAX_RECORD_BYTES = 1024 * 1024;

function usage(message: string): StoreError {
  return new StoreError('E_USAGE', message);
}

/** @throws E_USAGE */
export function checkKind(kind: unknown): asserts kind is string {
  if (typeof kind !== 'string' || !KIND.test(kind)) {
    throw usage('a record kind is 1 to 32 characters: a lower-case letter, then lower-case letters, digits and "-"');
  }
}

/** @throws E_USAGE (naming neither the id nor the value: either may be what a caller should not have sent) */
export function checkId(id: unknown): asserts id is string {
  // Control characters would make ids ambiguous in messages and listings.
  if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id, 'utf8') > MAX_ID_BYTES || /[\u0000-\u001f\u007f]/.test(id)) {
    throw usage(`a record id is 1 to ${MAX_ID_BYTES} bytes of text without control characters`);
  }
}

function checkValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw usage('a record value is text');
  if (Buffer.byteLength(value, 'utf8') > MAX_RECORD_BYTES) throw usage(`a record value is at most ${MAX_RECORD_BYTES} bytes`);
}

/** The RecordTx over one guarded write transaction: every argument checked before the storage sees it. */
function recordTx(tx: StorageOps): RecordTx {
  return {
    get: async (kind, id) => {
      checkKind(kind);
      checkId(id);
      return tx.getRecord(kind, id);
    },
    put: async (kind, id, value) => {
      checkKind(kind);
      checkId(id);
      checkValue(value);
      await tx.putRecord(kind, id, value);
    },
    delete: async (kind, id) => {
      checkKind(kind);
      checkId(id);
      return tx.deleteRecord(kind, id);
    },
    list: async (kind) => {
      checkKind(kind);
      return tx.listRecords(kind);
    },
  };
}

export async function readRecord(c: StoreContext, kind: string, id: string): Promise<string | undefined> {
  checkKind(kind);
  checkId(id);
  return c.storage.read((tx) => tx.getRecord(kind, id));
}

export async function listRecords(c: StoreContext, kind: string): Promise<RecordEntry[]> {
  checkKind(kind);
  return c.storage.read((tx) => tx.listRecords(kind));
}

/**
 * Run `fn` in one write transaction and append `audit` as its entry in the
 * same transaction: all of it is written, or none.
 */
export async function changeRecords<T>(c: StoreContext, audit: RecordAudit, fn: (tx: RecordTx) => Promise<T>): Promise<T> {
  checkAudit(audit);
  return c.storage.write(async (tx) => {
    const result = await fn(recordTx(tx));
    await c.audit.append(tx, { action: audit.action, outcome: 'ok', ...(audit.detail !== undefined ? { detail: audit.detail } : {}) });
    return result;
  });
}

/** @throws E_USAGE */
export function checkAudit(audit: RecordAudit): void {
  if (typeof audit?.action !== 'string' || !/^[a-z][a-z0-9.-]{0,63}$/.test(audit.action)) {
    throw usage('a change of records needs an audit action: lower-case letters, digits, "." and "-"');
  }
  if (audit.detail !== undefined && typeof audit.detail !== 'string') throw usage('an audit detail is text');
}
