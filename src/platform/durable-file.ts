/**
 * New files that must survive a power cut before anything depends on them:
 * created exclusively (never over an existing file) with an exact mode,
 * written whole, fsynced, closed, and then their directory fsynced so the
 * name itself is on disk. Without the last two a crash soon after can leave
 * an empty file, or none, while a store commit that needs it survived.
 *
 * Every call goes through a `FileOps`, so a test can record the order of the
 * real calls (node:fs by default) and check what was durable when.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { createExclusive } from './exclusive-file.js';

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
  ops.syncDir(dirname(path));
}
