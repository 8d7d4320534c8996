/**
 * A new file nobody else can have made or read: created only if the name is
 * free (O_EXCL, so never over an existing file or through a planted link),
 * with its mode set exactly, 0600 unless said otherwise. Every private file
 * Strongbox writes (store, temp copies, bundles, key files, lock claims)
 * starts here.
 */
import { closeSync, constants, fchmodSync, openSync } from 'node:fs';

export interface ExclusiveOptions {
  /** The file's permission bits (default 0600). */
  mode?: number;
  /** Open for reading too, not only for writing (default false). */
  readable?: boolean;
}

/**
 * Create `path` and return its open fd.
 * @throws the Node errno error of open or fchmod (EEXIST when the name is taken); nothing is left open
 */
export function createExclusive(path: string, options: ExclusiveOptions = {}): number {
  const mode = options.mode ?? 0o600;
  const access = options.readable ? constants.O_RDWR : constants.O_WRONLY;
  const fd = openSync(path, access | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    fchmodSync(fd, mode); // the umask may have taken bits away, never added: make it exact
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}
