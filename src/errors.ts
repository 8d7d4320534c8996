/**
 * The error model shared by every layer. Codes are API and never renamed
 * (only added); messages are for people and may change. A message may name a
 * secret, a version, a key id, a length or a path, never a value, plaintext,
 * ciphertext, key bytes or passphrase, and nothing secret is kept in `cause`.
 */

export type ErrorCode =
  | 'E_USAGE' // the call's arguments are malformed
  | 'E_INVALID_NAME' // a secret name breaks the naming rules
  | 'E_INVALID_VALUE' // a value is empty (without allowEmpty) or otherwise unusable
  | 'E_VALUE_TOO_LARGE' // a value exceeds the store's size limit
  | 'E_NOT_FOUND' // no such secret or version
  | 'E_DELETED' // the version is soft-deleted (undelete restores it)
  | 'E_DESTROYED' // the version was destroyed for good
  | 'E_CAS_MISMATCH' // check-and-set saw another current version
  | 'E_TAMPERED' // a ciphertext failed to open: altered, moved or under a missing key
  | 'E_WRONG_MASTER_KEY' // the master key given does not open this store
  | 'E_MASTER_KEY' // the master key source is missing or unusable
  | 'E_INSECURE_KEYFILE' // a key file is readable by group or others
  | 'E_NO_STORE' // there is no store at the path
  | 'E_STORE_EXISTS' // init on a path that already holds a file
  | 'E_NOT_A_STORE' // the file is not a Strongbox store
  | 'E_SCHEMA_TOO_NEW' // the store was written by a newer program
  | 'E_UNSUPPORTED_FORMAT' // an encrypted blob has an unknown format byte
  | 'E_LOCKED' // another process holds the store's exclusive lock
  | 'E_CLOSED' // the store was closed
  | 'E_IO' // the file system refused
  | 'E_READ_ONLY' // the store is open read-only here: a change, an always-logged operation, or a read it audits is refused
  | 'E_KEY_IN_USE' // a data key still encrypts versions, or is the primary
  | 'E_INVALID_IMPORT' // an import file holds entries that cannot be imported (all listed; nothing written)
  | 'E_AGENT' // the unlock agent is unreachable, broken, or its directory is not private
  | 'E_INTERRUPTED' // the caller's abort signal stopped the operation (the message says what was done)
  | 'E_PERMISSION_DENIED' // store serve: no token, a token that is unknown, expired or revoked, or policies that do not grant the request
  | 'E_INVALID_POLICY'; // an access policy (HCL or JSON) does not parse or names an unknown capability

/** Base class of every error Strongbox throws on purpose. */
export class StoreError extends Error {
  readonly code: ErrorCode;
  /** Extra lines for a person: what to do next. Never secret. */
  readonly hints: readonly string[];

  constructor(code: ErrorCode, message: string, hints: readonly string[] = []) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.hints = hints;
  }
}

/** A ciphertext could not be opened; callers branch on this one. */
export class TamperedError extends StoreError {
  constructor(message: string) {
    super('E_TAMPERED', message, [
      'the store file was altered, or rows were moved; restore from a backup',
    ]);
    this.name = 'TamperedError';
  }
}

/** The master key does not open the store's keyset. */
export class WrongMasterKeyError extends StoreError {
  constructor(message = 'the master key does not open this store', hints: readonly string[] = []) {
    super('E_WRONG_MASTER_KEY', message, hints);
    this.name = 'WrongMasterKeyError';
  }
}

/** Check-and-set saw a different current version. */
export class CasMismatchError extends StoreError {
  readonly expected: number;
  readonly actual: number;
  constructor(name: string, expected: number, actual: number) {
    super(
      'E_CAS_MISMATCH',
      `check-and-set failed for ${name}: expected current version ${expected}, found ${actual}`,
    );
    this.name = 'CasMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

export function isStoreError(e: unknown): e is StoreError {
  return e instanceof StoreError;
}
