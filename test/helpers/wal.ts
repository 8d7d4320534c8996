/**
 * Commits as the store file itself records them: each SQLite write
 * transaction that commits in WAL mode ends with a frame whose header holds
 * the database size (non-zero) in the -wal file. Counting those frames of the
 * WAL's current generation (its salts) counts the commits since the WAL was
 * last restarted, without asking the code under test.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';

export interface WalCommits {
  /** The WAL generation (its salts): counts from two calls compare only when it is the same. */
  generation: string;
  commits: number;
}

export function walCommits(dbPath: string): WalCommits {
  const wal = `${dbPath}-wal`;
  if (!existsSync(wal)) return { generation: 'none', commits: 0 };
  const b = readFileSync(wal);
  if (b.length < 32) return { generation: 'empty', commits: 0 };
  const raw = b.readUInt32BE(8);
  const pageSize = raw === 1 ? 65536 : raw;
  const salt1 = b.readUInt32BE(16);
  const salt2 = b.readUInt32BE(20);
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= b.length; off += 24 + pageSize) {
    // A frame of an older generation (left behind by a restart) ends this one.
    if (b.readUInt32BE(off + 8) !== salt1 || b.readUInt32BE(off + 12) !== salt2) break;
    if (b.readUInt32BE(off + 4) !== 0) commits++;
  }
  return { generation: `${salt1}:${salt2}`, commits };
}

/** Commits made by `fn` (the WAL must not restart meanwhile: a few hundred small commits never fill it). */
export async function commitsDuring(dbPath: string, fn: () => Promise<unknown>): Promise<number> {
  const before = walCommits(dbPath);
  await fn();
  const after = walCommits(dbPath);
  if (after.generation !== before.generation && before.commits > 0) throw new Error('the WAL restarted during the measure: commits cannot be counted');
  return after.generation === before.generation ? after.commits - before.commits : after.commits;
}

/** Bytes 18-19 of a SQLite file's header: 1 = rollback journal, 2 = WAL. */
export function journalByte(path: string): number {
  const b = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, b, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return b[18]!;
}
