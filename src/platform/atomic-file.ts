/** Files written whole: a reader never sees half of one. */
import { closeSync, fchmodSync, fsyncSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StoreError } from '../errors.js';
import { createExclusive } from './exclusive-file.js';
import { nodeCrypto } from './node-crypto.js';

/**
 * Write `data` to `path` through a temp file in the same directory and a
 * rename, so a reader sees the old file or the whole new one, never a part.
 * The temp file is created 0600 and set to `mode` before anything is
 * written: give a wider mode only to data that is not secret.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o600): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const tmp = join(dirname(path), `.${basename(path)}.${nodeCrypto().randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = createExclusive(tmp);
  } catch (e) {
    throw new StoreError('E_IO', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    fchmodSync(fd, mode);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
    throw new StoreError('E_IO', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
