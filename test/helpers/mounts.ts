/**
 * Real file-system faults for tests: a tiny tmpfs that fills up, a read-only
 * bind mount, a command run as another user. All need root (as CI runs):
 * without it they throw, saying so, rather than skip, since a skipped fault
 * test is a fault nobody checks.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

function needRoot(what: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${what} needs root (mount, setpriv): run these tests as root, as CI does`);
}

/** Mount a tmpfs of `size` (e.g. "256k") on the existing directory `dir`. */
export function mountTmpfs(dir: string, size: string): void {
  needRoot('a small tmpfs');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
}

/** A read-only view of `source` at the existing directory `target` (bind mount, then remount read-only). */
export function mountReadOnly(source: string, target: string): void {
  needRoot('a read-only bind mount');
  execFileSync('mount', ['--bind', source, target]);
  execFileSync('mount', ['-o', 'remount,ro,bind', target]);
}

/** Unmount `dir`; quiet when nothing is mounted there (a failed beforeAll). */
export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    // not mounted
  }
}

/** Fill the file system holding `dir` to the last byte with a file there; returns its path (remove it to free the space). */
export function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) {
      try {
        writeSync(fd, chunk);
      } catch {
        break; // ENOSPC: full (a last partial block may remain; then try bytes one by one)
      }
    }
    for (;;) {
      try {
        writeSync(fd, chunk, 0, 1);
      } catch {
        break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

/** The uid and gid `nobody` has on Debian: a user that owns nothing here. */
export const NOBODY = 65534;

/** `setpriv` arguments that run a command as `nobody`, with no supplementary groups. */
export function asNobody(): string[] {
  needRoot('running as another user');
  return ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'];
}
