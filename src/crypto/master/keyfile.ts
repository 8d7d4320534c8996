/**
 * Master key in a key file: 32 random bytes, base64, mode 0600. Like ssh with
 * a private key, a file readable by group or others is refused.
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StoreError } from '../../errors.js';
import { makeDirDurable, nodeFileOps, placeNewFileDurably, type FileOps } from '../../platform/durable-file.js';
import { toBase64, wipe } from '../bytes.js';
import { masterKeyMissing, sourceOptions, typeName, type MasterKeySource } from './master-key.js';
import { randomBytes } from '../random.js';
import { MASTER_KEY_BYTES } from './raw-master.js';
import { decodeMasterKey, rawKeySource } from './raw-key.js';

export interface KeyFileOptions {
  /** At init, create the file with a new random key when it does not exist. */
  create?: boolean;
  /** The file-system calls a new key file is written through (tests record them); node:fs by default. */
  fileOps?: FileOps;
}

/**
 * Write a new key file (fails if one exists: never overwrite a key). It is on
 * disk, name included, when this returns: a store commit that makes it the
 * only key (init, rotate-master) must never outlive it in a power cut. It
 * is written under a temp name beside it and linked into place whole
 * (durable-file.ts placeNewFileDurably), so a process killed on the way
 * leaves no empty or partial key file at the path for the next run to
 * trip over; the temp file it may leave (`.<name>.keyfile-<host>-<pid>-<random>.tmp`,
 * 0600) holds key material, and the next key file created in that
 * directory removes it once its process is gone.
 * @throws E_IO
 */
export function createKeyFile(path: string, ops: FileOps = nodeFileOps): void {
  checkKeyFilePath(path);
  const key = randomBytes(MASTER_KEY_BYTES);
  const text = Buffer.from(`${toBase64(key)}\n`);
  wipe(key);
  try {
    makeDirDurable(dirname(path), 0o700, ops);
    placeNewFileDurably(path, text, 0o600, 'keyfile', ops);
  } catch (e) {
    throw new StoreError('E_IO', `cannot create key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  } finally {
    text.fill(0);
  }
}

/** Read and check a key file. */
export function readKeyFile(path: string): Uint8Array {
  let fd: number;
  try {
    // Non-blocking, so that a FIFO at the path (or a path recorded in a tampered header) cannot hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw masterKeyMissing(`cannot read key file ${path}: ${code === 'ENOENT' ? 'no such file' : code ?? 'error'}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw masterKeyMissing(`key file ${path} is not a regular file`);
    if (st.size > MAX_KEY_FILE_BYTES) throw masterKeyMissing(`key file ${path} is ${st.size} bytes: not a key file (a key is 44 bytes of base64)`);
    if ((st.mode & 0o077) !== 0) {
      throw new StoreError(
        'E_INSECURE_KEYFILE',
        `key file ${path} is readable by others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})`,
        [`chmod 600 ${path}`],
      );
    }
    const raw = readFileSync(fd);
    try {
      return decodeMasterKey(raw.toString('latin1'), `key file ${path}`);
    } finally {
      raw.fill(0);
    }
  } finally {
    closeSync(fd);
  }
}

/** A key file path as the caller gave it. @throws E_MASTER_KEY */
function checkKeyFilePath(path: unknown): void {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw masterKeyMissing(`the key file path must be a non-empty string${typeof path === 'string' ? ' without NUL' : `, not ${typeName(path)}`}`);
  }
}

/** Far more than a key file's 44 bytes of base64 and a newline or some whitespace. */
const MAX_KEY_FILE_BYTES = 4096;

/**
 * A key-file master-key source; with `create`, init makes the file if absent.
 * The store records the file's absolute path (`keyfile` in its public master
 * parameters), so that later commands find the key without being told again.
 */
export function keyFile(path: string, options: KeyFileOptions = {}): MasterKeySource {
  checkKeyFilePath(path);
  options = sourceOptions(options, 'keyFile()');
  return rawKeySource('keyfile', async (creating) => {
    if (creating && options.create && !existsSync(path)) createKeyFile(path, options.fileOps);
    return readKeyFile(path);
  }, { keyfile: resolve(path) });
}
