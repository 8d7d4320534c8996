/**
 * The entry Store.recordRequest appends for a request a server answered
 * without a store operation of its own (a request its policies denied, a
 * token lookup). The caller names the action and outcome; both are checked
 * to look like the log's own (`get`, `metadata.get`; `ok`, `E_NOT_FOUND`) so
 * a value given in the wrong place is refused rather than logged.
 */
import { StoreError } from '../errors.js';
import type { AuditEntry } from './audit.js';
import { boundedAuditText, MAX_AUDIT_CONTEXT_CHARS } from './audit-context.js';
import { checkName } from './names.js';

export interface RequestRecord {
  /** Lower-case words joined by '.', '-' or '_', at most 64 characters: `auth.token.lookup`, `request.denied`. */
  action: string;
  /** The secret the request was about, when it names one (a valid secret name). */
  name?: string;
  /** `ok`, or an error code such as `E_PERMISSION_DENIED`. */
  outcome: string;
  /** Non-secret context, at most MAX_AUDIT_CONTEXT_CHARS (cut beyond); never a token or value. */
  detail?: string;
}

const ACTION = /^[a-z][a-z0-9._-]{0,63}$/;
const OUTCOME = /^(?:ok|E_[A-Z0-9_]{1,62})$/;

/**
 * The audit entry for `r`.
 * @throws E_USAGE for a malformed action, outcome or detail, E_INVALID_NAME for a name that is not a secret name
 */
export function checkRequestRecord(r: RequestRecord): AuditEntry {
  if (typeof r !== 'object' || r === null) throw new StoreError('E_USAGE', 'recordRequest takes { action, name?, outcome, detail? }');
  if (typeof r.action !== 'string' || !ACTION.test(r.action)) {
    throw new StoreError('E_USAGE', 'a request record\'s action is lower-case letters, digits and . _ - (at most 64), such as "auth.token.lookup"');
  }
  if (typeof r.outcome !== 'string' || !OUTCOME.test(r.outcome)) {
    throw new StoreError('E_USAGE', 'a request record\'s outcome is "ok" or an error code such as "E_PERMISSION_DENIED"');
  }
  if (r.detail !== undefined && typeof r.detail !== 'string') throw new StoreError('E_USAGE', 'a request record\'s detail is a string');
  const entry: AuditEntry = { action: r.action, outcome: r.outcome };
  if (r.name !== undefined) entry.name = checkName(r.name);
  if (r.detail !== undefined && r.detail !== '') entry.detail = boundedAuditText(r.detail, MAX_AUDIT_CONTEXT_CHARS);
  return entry;
}
