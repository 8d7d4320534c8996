/**
 * New files that must survive a power cut before anything depends on them:
 * created exclusively (never over an existing file) with an exact mode,
 * written whole, fsynced, closed, and then their directory fsynced so the
 * name itself is on disk. Without the last two a crash soon after can leave
 * an empty file, or none, while a store commit that needs it survived.
 *
 * Every call goes through a `FileOps`, so a test can record the order of the
 * real calls (node:fs by default) and check what was durable when.
 *
 * placeNewFileDurably goes one step further for a file that must never be
 * seen half written at its name (a key file): it is written under a temp
 * name beside it and linked into place whole, so a process killed between
 * creating it and writing it leaves no empty file where the next run looks.
 */
import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createExclusive } from './exclusive-file.js';
import { removeLeftovers, tempNameBeside, type TempLabel } from './leftovers.js';

/** The file-system calls a durable new file is made of. */
export interface FileOps {
  /** mkdir -p; returns the first directory it created, or undefined when all existed. */
  mkdirs(dir: string, mode: number): string | undefined;
  /** Create `path` (O_CREAT | O_EXCL, write-only) and set its mode exactly; the fd. */
  createExclusive(path: string, mode: number): number;
  /** Write all of `data` at the file's current offset. */
  writeAll(fd: number, data: Uint8Array): void;
  fsync(fd: number): void;
  close(fd: number): void;
  /** fsync a directory, so the names created in it are on disk. */
  syncDir(dir: string): void;
  unlink(path: string): void;
  /** Give the file at `existing` the name `path` as well (link(2)): fails with EEXIST when `path` is taken, never replacing it. */
  link(existing: string, path: string): void;
}

/** Errors of fsync on a directory that mean "this file system cannot", not "it failed". */
const DIR_SYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR']);

/** The real calls. */
export const nodeFileOps: FileOps = {
  mkdirs: (dir, mode) => mkdirSync(dir, { recursive: true, mode }),
  createExclusive: (path, mode) => createExclusive(path, { mode }),
  writeAll(fd, data) {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
  },
  fsync: (fd) => fsyncSync(fd),
  close: (fd) => closeSync(fd),
  syncDir(dir) {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } catch (e) {
      if (!DIR_SYNC_UNSUPPORTED.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    } finally {
      closeSync(fd);
    }
  },
  unlink: (path) => unlinkSync(path),
  link: (existing, path) => linkSync(existing, path),
};

/**
 * Create the directory `dir` (and its parents) with `mode` if absent, and
 * make each new name durable in its parent.
 */
export function makeDirDurable(dir: string, mode: number, ops: FileOps = nodeFileOps): void {
  const first = ops.mkdirs(dir, mode);
  if (first === undefined) return;
  // Each new directory's name lives in its parent: the first one's parent, then every new one but the last.
  const created: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    created.unshift(d);
    if (d === first || d === dirname(d)) break;
  }
  for (const parent of [dirname(first), ...created.slice(0, -1)]) ops.syncDir(parent);
}

/**
 * Create `path` (never overwriting anything) with mode `mode`, write `data`,
 * and return only once the file and its name are on disk: open O_EXCL,
 * write, fsync, close, fsync the directory. On failure a file this call
 * created is removed (an empty key file is worse than none) and the error,
 * a Node errno error, is thrown.
 */
export function writeNewFileDurably(path: string, data: Uint8Array, mode: number, ops: FileOps = nodeFileOps): void {
  writeNewFile(path, data, mode, ops);
  ops.syncDir(dirname(path));
}

/**
 * Create `path` holding `data` (mode `mode`), never over an existing file,
 * such that the name only ever shows the whole file: the data is written
 * to a new temp file beside it (`.<name>.<label>-<host>-<pid>-<random>.tmp`,
 * created O_EXCL with the mode), fsynced and closed, then linked to `path`
 * (link(2) fails with EEXIST where rename would replace), the temp name
 * removed, and the directory fsynced: when this returns, the file and its
 * name are on disk and the temp name is gone. On failure the temp file is
 * removed and the error, a Node errno error (EEXIST: `path` is taken), is
 * thrown; nothing is at `path` unless it was there before.
 *
 * A process killed half way leaves at most its temp file, never a partial
 * file at `path`. Such leftovers may hold a key, so each call first removes
 * those of `label` in the directory whose process is gone (the pid in the
 * name, on this host; a file of another host once it is a day old):
 * leftovers.ts, as for a store's temp copies.
 */
export function placeNewFileDurably(path: string, data: Uint8Array, mode: number, label: TempLabel, ops: FileOps = nodeFileOps): void {
  const dir = dirname(path);
  removeLeftovers(dir, label);
  const tmp = tempNameBeside(path, label);
  writeNewFile(tmp, data, mode, ops);
  try {
    ops.link(tmp, path);
  } catch (e) {
    try {
      ops.unlink(tmp);
    } catch {
      // the link's error is the one to tell; a temp name left is removed by a later call
    }
    throw e;
  }
  ops.unlink(tmp);
  ops.syncDir(dir); // the new name and the temp name's removal, together
}

/** Create, write, fsync and close a new file; on failure it is removed. */
function writeNewFile(path: string, data: Uint8Array, mode: number, ops: FileOps): void {
  const fd = ops.createExclusive(path, mode);
  try {
    ops.writeAll(fd, data);
    ops.fsync(fd);
  } catch (e) {
    try {
      ops.close(fd);
    } finally {
      ops.unlink(path);
    }
    throw e;
  }
  ops.close(fd);
}

