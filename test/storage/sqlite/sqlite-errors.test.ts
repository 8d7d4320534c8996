// What SQLite's and the file system's codes mean to a user (src/storage/sqlite/errors.ts).
import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { StoreError } from '../../../src/errors.js';
import { storeFileError } from '../../../src/storage/sqlite/errors.js';
import { tempDir } from '../../helpers/tmp.js';

const sqlite = (code: string) => new Database.SqliteError('as SQLite says it', code);
const errno = (code: string) => Object.assign(new Error(`${code}: as Node says it`), { code });

describe('storeFileError', () => {
  // On a healthy, writable disk with room: the code alone decides.
  const path = () => join(tempDir(), 'store.db');

  it.each([
    ['SQLITE_BUSY', 'E_LOCKED'],
    ['SQLITE_BUSY_SNAPSHOT', 'E_LOCKED'],
    ['SQLITE_LOCKED', 'E_LOCKED'],
    ['SQLITE_CORRUPT', 'E_NOT_A_STORE'],
    ['SQLITE_CORRUPT_INDEX', 'E_NOT_A_STORE'],
    ['SQLITE_NOTADB', 'E_NOT_A_STORE'],
    ['SQLITE_FULL', 'E_IO'],
    ['SQLITE_READONLY', 'E_IO'],
    ['SQLITE_READONLY_DIRECTORY', 'E_IO'],
    ['SQLITE_CANTOPEN', 'E_IO'],
    ['SQLITE_IOERR_SHMSIZE', 'E_IO'],
    ['SQLITE_PERM', 'E_IO'],
  ])('%s is %s', (code, expected) => {
    const e = storeFileError(sqlite(code), 'cannot open x', path());
    expect(e).toBeInstanceOf(StoreError);
    expect(e?.code).toBe(expected);
    expect(e?.message).toContain(code);
  });

  it('names the cause and says what to do', () => {
    expect(storeFileError(sqlite('SQLITE_FULL'), 'cannot open x', path())?.message).toMatch(/disk is full/);
    expect(storeFileError(sqlite('SQLITE_READONLY'), 'cannot open x', path())?.message).toMatch(/read-only/);
    expect(storeFileError(sqlite('SQLITE_PERM'), 'cannot open x', path())?.message).toMatch(/permission denied/);
    for (const [code, cause] of [['ENOSPC', /disk is full/], ['EDQUOT', /disk is full/], ['EROFS', /read-only/], ['EACCES', /permission denied/], ['EPERM', /permission denied/]] as const) {
      const e = storeFileError(errno(code), 'cannot write y', path());
      expect(e?.code).toBe('E_IO');
      expect(e?.message).toMatch(cause);
      expect(e?.hints.length).toBeGreaterThan(0);
    }
  });

  it('leaves what is not a file-system or SQLite failure to the caller', () => {
    expect(storeFileError(new TypeError('bug'), 'x', path())).toBeUndefined();
    expect(storeFileError(new StoreError('E_NOT_FOUND', 'no'), 'x', path())).toBeUndefined();
  });
});
