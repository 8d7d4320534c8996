/**
 * Errors a route raises on purpose, each with the HTTP status Vault gives
 * that case, and the mapping of the store's own errors onto Vault's statuses.
 * A message never holds a value, a token or a secret-id (the store's
 * messages never do; route messages name paths and fields only).
 */
import { StoreError } from '../errors.js';
import { errors } from './envelope.js';
import { isInvalidLogin } from './auth/approle.js';
import type { HttpResponse } from './http/types.js';

export class VaultError extends Error {
  constructor(readonly status: number, message: string | undefined, readonly response?: HttpResponse) {
    super(message ?? `status ${status}`);
    this.name = 'VaultError';
  }
}

export const badRequest = (message: string): VaultError => new VaultError(400, message);
/** Vault answers 403 for a missing, bad, expired or revoked token, and for policies that deny: never 401. */
export const permissionDenied = (): VaultError => new VaultError(403, 'permission denied');
/** A read that found nothing: 404 with an empty error list. */
export const notFound = (): VaultError => new VaultError(404, undefined);
export const methodNotAllowed = (): VaultError => new VaultError(405, 'unsupported operation');

/**
 * A token written into the path: Vault's retired URL forms
 * (`auth/token/lookup/<token>`, `…/revoke/<token>`) put it there, and
 * clients may still send them.
 */
const TOKEN_IN_PATH = /hvs\.[A-Za-z0-9_-]+/g;

/**
 * A value typed into the path (`secret/data/DB_PASSWORD=hunter2`): the
 * NAME=value habit the store and the CLI guard against (src/store/names.ts).
 * What follows '=' in a segment may be a value.
 */
const VALUE_IN_PATH = /=[^/]*/g;

/** A path (or part of one) as the audit log and messages may show it: a token or a value cut out. */
export function pathForLog(path: string): string {
  return path.replace(TOKEN_IN_PATH, 'hvs.***').replace(VALUE_IN_PATH, '=***');
}

/** The fixed text of the KV plugin, which some clients match. */
export const CAS_MISMATCH = 'check-and-set parameter did not match the current version';

/** The HTTP answer for anything a route threw. */
export function errorResponse(e: unknown): HttpResponse {
  if (e instanceof VaultError) {
    if (e.response) return e.response;
    return errors(e.status, e.status === 404 ? [] : [e.message]);
  }
  if (isInvalidLogin(e)) return errors(400, ['invalid role or secret ID']);
  if (e instanceof StoreError) {
    const status = STATUS_FOR[e.code] ?? 500;
    if (e.code === 'E_CAS_MISMATCH') return errors(400, [CAS_MISMATCH]);
    if (status === 404) return errors(404, []);
    if (status === 403) return errors(403, ['permission denied']);
    return errors(status, [e.message]);
  }
  // Not ours: say nothing about it (its text could hold anything).
  return errors(500, ['internal error while handling the request']);
}

/** Store error codes to Vault statuses; unlisted codes are 500 with the store's (value-free) message. */
const STATUS_FOR: Partial<Record<StoreError['code'], number>> = {
  E_USAGE: 400,
  E_INVALID_NAME: 400,
  E_INVALID_VALUE: 400,
  E_INVALID_POLICY: 400,
  E_VALUE_TOO_LARGE: 413,
  E_NOT_FOUND: 404,
  E_CAS_MISMATCH: 400,
  E_PERMISSION_DENIED: 403,
  E_READ_ONLY: 503,
  E_LOCKED: 503,
  E_CLOSED: 503,
};
