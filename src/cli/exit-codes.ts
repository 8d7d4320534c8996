/** The one table from error codes to exit statuses (documented in README.md). */
import type { ErrorCode } from '../errors.js';

export const EXIT = {
  ok: 0,
  generic: 1,
  usage: 2,
  notFound: 3,
  cas: 4,
  key: 5,
  masterKey: 6,
  store: 7,
  /** check, due and doctor ran and found something to act on: not a failure of the command itself (which is 1). */
  found: 10,
  locked: 75, // EX_TEMPFAIL: try again later
  /** Stopped by Ctrl-C (SIGINT) at a safe point: 128 + 2, as a shell reports a command SIGINT ended. */
  interrupted: 130,
} as const;

export const EXIT_FOR: Record<ErrorCode, number> = {
  E_USAGE: EXIT.usage,
  E_INVALID_NAME: EXIT.usage,
  E_INVALID_VALUE: EXIT.usage,
  E_VALUE_TOO_LARGE: EXIT.usage,
  E_NOT_FOUND: EXIT.notFound,
  E_DELETED: EXIT.notFound,
  E_DESTROYED: EXIT.notFound,
  E_CAS_MISMATCH: EXIT.cas,
  E_TAMPERED: EXIT.key,
  E_WRONG_MASTER_KEY: EXIT.key,
  E_MASTER_KEY: EXIT.masterKey,
  E_INSECURE_KEYFILE: EXIT.masterKey,
  E_NO_STORE: EXIT.store,
  E_STORE_EXISTS: EXIT.store,
  E_NOT_A_STORE: EXIT.store,
  E_SCHEMA_TOO_NEW: EXIT.store,
  E_UNSUPPORTED_FORMAT: EXIT.store,
  E_LOCKED: EXIT.locked,
  E_CLOSED: EXIT.generic,
  E_IO: EXIT.generic,
  E_READ_ONLY: EXIT.generic,
  E_KEY_IN_USE: EXIT.usage,
  E_INVALID_IMPORT: EXIT.usage,
  E_AGENT: EXIT.masterKey,
  E_INTERRUPTED: EXIT.interrupted,
  E_PERMISSION_DENIED: EXIT.generic,
  E_INVALID_POLICY: EXIT.usage,
};
