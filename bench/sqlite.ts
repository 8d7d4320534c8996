/**
 * The floors' SQLite side: one plain table `t(name TEXT PRIMARY KEY, value BLOB)`
 * in a WAL file, driven through better-sqlite3 with nothing else around it.
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

export interface FloorDb {
  db: Database.Database;
  insert: Database.Statement<[string, Uint8Array]>;
  select: Database.Statement<[string], Buffer>;
  count: () => number;
}

/** Open (creating) a floor table at `path`, WAL, with the given `synchronous` level. */
export function openFloor(path: string, synchronous: 'FULL' | 'NORMAL' | 'OFF' = 'FULL'): FloorDb {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec('CREATE TABLE IF NOT EXISTS t (name TEXT PRIMARY KEY, value BLOB)');
  const countStmt = db.prepare('SELECT count(*) FROM t').pluck();
  return {
    db,
    insert: db.prepare<[string, Uint8Array]>('INSERT INTO t (name, value) VALUES (?, ?)'),
    select: db.prepare<[string], Buffer>('SELECT value FROM t WHERE name = ?').pluck(),
    count: () => countStmt.get() as number,
  };
}

const TMPFS_MAGIC = 0x01021994;

/**
 * A RAM-backed directory (Linux /dev/shm), where fsync costs nothing, or
 * undefined when there is none. Used only to *build* the 100k-secret store.
 */
export function ramDir(): string | undefined {
  const candidate = '/dev/shm';
  try {
    return statfsSync(candidate).type === TMPFS_MAGIC ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** Copy a closed SQLite database (and its -wal, should one remain) to `toDir`. */
export function copyDatabase(from: string, toDir: string, name: string): string {
  const to = join(toDir, name);
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
  return to;
}
