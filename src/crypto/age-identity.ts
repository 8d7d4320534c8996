/**
 * age identity files (`AGE-SECRET-KEY-1…` lines, as age-keygen writes them):
 * read to open an age bundle, or made new for someone who has no age
 * installed. They are private keys, so they follow the rules of key files:
 * mode 0600, a file readable by group or others is refused, created never
 * over an existing file, and their content never reaches a message.
 */
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';
import { readWhole } from '../platform/read-whole.js';
import { makeDirDurable, nodeFileOps, placeNewFileDurably, type FileOps } from '../platform/durable-file.js';
import { generateAgeIdentity, parseIdentities, parseRecipients, recipientOf } from './age.js';
import { wipe } from './bytes.js';
import { typeName } from './master/master-key.js';

/** Far more than a few dozen identities with comments; age itself reads at most 16 MiB. */
const MAX_IDENTITY_FILE_BYTES = 1024 * 1024;
/** Thousands of recipients. */
const MAX_RECIPIENTS_FILE_BYTES = 1024 * 1024;

interface FileRules {
  /** How messages name the file: "age identity file". */
  what: string;
  max: number;
  /** Key material: refuse a file readable by group or others. */
  private: boolean;
  /** The code when the file is missing or unfit. */
  code: 'E_MASTER_KEY' | 'E_IO';
}

/** A regular file's bytes, bounded, checked by `rules`. The caller wipes them. */
function readSmallFile(path: string, rules: FileRules): Uint8Array {
  const fail = (what: string) => new StoreError(rules.code, `${rules.what} ${path} ${what}`);
  let fd: number;
  try {
    // Non-blocking, so that a FIFO at the path cannot hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(`cannot be read: ${code === 'ENOENT' ? 'no such file' : code ?? 'error'}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail('is not a regular file');
    if (st.size > rules.max) throw fail(`is ${st.size} bytes, more than such a file holds (${rules.max})`);
    if (rules.private && (st.mode & 0o077) !== 0) {
      throw new StoreError(
        'E_INSECURE_KEYFILE',
        `${rules.what} ${path} is readable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`,
        [`chmod 600 ${path}`],
      );
    }
    return readWhole(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

const IDENTITY_FILE: FileRules = { what: 'age identity file', max: MAX_IDENTITY_FILE_BYTES, private: true, code: 'E_MASTER_KEY' };
const RECIPIENTS_FILE: FileRules = { what: 'age recipients file', max: MAX_RECIPIENTS_FILE_BYTES, private: false, code: 'E_IO' };

/** A path as a library caller gave it: a non-empty string without NUL. @throws E_USAGE */
function checkAgePath(path: unknown, what: string): void {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new StoreError('E_USAGE', `${what} must be a non-empty string${typeof path === 'string' ? ' without NUL' : `, not ${typeName(path)}`}`);
  }
}

/**
 * The bytes of an identity file, checked like a key file (regular, mode 0600,
 * bounded). The caller wipes them.
 * @throws StoreError E_MASTER_KEY (missing, not a file, too large), E_INSECURE_KEYFILE
 */
export function readAgeIdentityFile(path: string): Uint8Array {
  return readSmallFile(path, IDENTITY_FILE);
}

/**
 * The recipients in a recipients file (as `age -R` reads one: one per line,
 * # comments). They are public keys: any mode will do. Not checked here
 * (export checks every recipient it is given).
 * @throws StoreError E_IO
 */
export function readAgeRecipientsFile(path: string): string[] {
  checkAgePath(path, 'the age recipients file path');
  return parseRecipients(Buffer.from(readSmallFile(path, RECIPIENTS_FILE)).toString('utf8'));
}

/**
 * The identities in the identity file at `path` (see parseIdentities).
 * @throws StoreError E_MASTER_KEY, E_INSECURE_KEYFILE
 */
export async function readAgeIdentities(path: string): Promise<string[]> {
  checkAgePath(path, 'the age identity file path');
  const bytes = readAgeIdentityFile(path);
  try {
    return await parseIdentities(bytes, `age identity file ${path}`);
  } finally {
    wipe(bytes);
  }
}

/**
 * Write a new X25519 identity to `path` (mode 0600, its directory 0700 if
 * new; never over an existing file), in age-keygen's layout, and return its
 * recipient: the public key to give to whoever exports for you.
 * @throws StoreError E_USAGE (the file exists), E_IO
 */
export async function createAgeIdentityFile(path: string, now: Date = new Date(), ops: FileOps = nodeFileOps): Promise<string> {
  checkAgePath(path, 'the age identity file path');
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new StoreError('E_USAGE', `the creation time must be a valid Date, not ${typeName(now)}`);
  const { identity, recipient } = await generateAgeIdentity();
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const text = Buffer.from(`# created: ${created}\n# public key: ${recipient}\n${identity}\n`, 'latin1');
  try {
    makeDirDurable(dirname(path), 0o700, ops);
    placeNewFileDurably(path, text, 0o600, 'age-identity', ops);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new StoreError('E_USAGE', `${path} already exists; an identity file is never overwritten`, ['choose another file name']);
    throw new StoreError('E_IO', `cannot create age identity file ${path}: ${code ?? 'error'}`);
  } finally {
    text.fill(0);
  }
  return recipient;
}

/**
 * The recipients (public keys) of the identities in the file at `path`, in
 * file order, as `age-keygen -y` prints them.
 * @throws StoreError E_MASTER_KEY, E_INSECURE_KEYFILE
 */
export async function ageRecipientsOfFile(path: string): Promise<string[]> {
  const ids = await readAgeIdentities(path);
  return Promise.all(ids.map((id) => recipientOf(id)));
}
