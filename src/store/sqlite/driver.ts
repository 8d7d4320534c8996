/**
 * The SQLite driver behind `Storage`: prepared statements with bound
 * parameters only (never `verbose`, never a bound statement's toString, both
 * of which would expand values into text), each multi-row change inside one
 * synchronous transaction.
 */
import { Database } from './native.js';
import { StoreError } from '../../errors.js';
import { BUSY_TIMEOUT_MS } from './open.js';
import { onlineBackup } from './files.js';
import type { KeyStatus } from '../../crypto/keyset.js';
import type {
  AuditFilter, AuditRow, KeyRow, RewrapRow, SecretAndVersion, SecretListRow, SecretRow, Storage, StorageOps, StoreCounts, VersionRow,
} from '../storage.js';

interface RawSecret {
  id: number;
  name: string;
  current_version: number;
  max_versions: number;
  custom: string;
  created_at: number;
  updated_at: number;
}

interface RawVersion {
  version: number;
  created_at: number;
  deleted_at: number | null;
  destroyed_at: number | null;
  key_id: number | null;
  ciphertext: Buffer | null;
}

type RawJoined = { id: number; v_version: number | null; v_created_at: number; v_deleted_at: number | null; v_destroyed_at: number | null; v_key_id: number | null; v_ciphertext: Buffer | null };

const SECRET_COLS = 's.id, s.name, s.current_version, s.max_versions, s.custom, s.created_at, s.updated_at';
// The get path: the secret's id and the version's columns, nothing to parse.
const JOINED_COLS = `s.id, v.version AS v_version, v.created_at AS v_created_at, v.deleted_at AS v_deleted_at,
  v.destroyed_at AS v_destroyed_at, v.key_id AS v_key_id, v.ciphertext AS v_ciphertext`;

function toSecret(r: RawSecret): SecretRow {
  return {
    id: r.id,
    name: r.name,
    currentVersion: r.current_version,
    maxVersions: r.max_versions,
    custom: JSON.parse(r.custom) as Record<string, string>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function bytes(b: Buffer | null): Uint8Array | null {
  return b === null ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function toVersion(r: RawVersion): VersionRow {
  return {
    version: r.version,
    createdAt: r.created_at,
    deletedAt: r.deleted_at,
    destroyedAt: r.destroyed_at,
    keyId: r.key_id,
    ciphertext: bytes(r.ciphertext),
  };
}

function toJoined(r: RawJoined | undefined): SecretAndVersion | undefined {
  if (!r) return undefined;
  const version: VersionRow | undefined = r.v_version === null ? undefined : {
    version: r.v_version,
    createdAt: r.v_created_at,
    deletedAt: r.v_deleted_at,
    destroyedAt: r.v_destroyed_at,
    keyId: r.v_key_id,
    ciphertext: bytes(r.v_ciphertext),
  };
  return { secretId: r.id, version };
}

function buffer(b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * SQLite's failures as our codes. SQLITE_BUSY after the busy timeout means
 * another process held the write lock too long: try again (E_LOCKED).
 */
function translate(e: unknown): never {
  if (e instanceof Database.SqliteError) {
    if (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED')) {
      throw new StoreError('E_LOCKED', 'the store is busy: another process held its write lock too long', ['try again']);
    }
    if (e.code.startsWith('SQLITE_CORRUPT') || e.code === 'SQLITE_NOTADB') {
      throw new StoreError('E_NOT_A_STORE', `the store file is damaged (${e.code})`, ['restore it from a backup']);
    }
    throw new StoreError('E_IO', `the store file could not be used (${e.code})`);
  }
  throw e;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Block the thread for `ms` (the storage API is synchronous, as better-sqlite3 is). */
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isBusy(e: unknown): boolean {
  return e instanceof Database.SqliteError && (e.code.startsWith('SQLITE_BUSY') || e.code.startsWith('SQLITE_LOCKED'));
}

/** How often a waiting writer tries again for the write lock. */
const POLL_MS = 1;

/**
 * Run `fn`, trying again every millisecond while another connection holds the
 * lock, up to the busy timeout. SQLite's own busy handler sleeps ever longer
 * (up to 100 ms a time), so a writer waiting behind a run of short
 * transactions, such as rewrap batches, would keep waking up too late and
 * wait for the whole run instead of one batch.
 */
function patiently<T>(fn: () => T): T {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (isBusy(e) && Date.now() < deadline) {
        sleepSync(POLL_MS);
        continue;
      }
      return translate(e);
    }
  }
}

/** Bind a list of version numbers as one JSON array parameter. */
function versionList(versions: number[]): string {
  return JSON.stringify(versions.map((v) => Math.trunc(v)));
}

/** How long a checkpoint waits for readers before it reports that it could not finish. */
const CHECKPOINT_WAIT_MS = 250;

export class SqliteStorage implements Storage {
  readonly #db: Database;
  readonly #s;

  /** One transaction wrapper for every call (making one per call costs more than a point read). */
  readonly #tx;
  readonly #syncNormal;
  readonly #syncFull;

  constructor(db: Database) {
    this.#db = db;
    db.pragma('busy_timeout = 0'); // waiting is done by patiently(), in short polls
    this.#tx = db.transaction((fn: (tx: StorageOps) => unknown) => fn(this));
    this.#syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.#syncFull = db.prepare('PRAGMA synchronous = FULL');
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      getMeta: p('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      findSecret: p(`SELECT ${SECRET_COLS} FROM secrets s WHERE s.name = ?`),
      insertSecret: p(`INSERT INTO secrets (name, current_version, created_at, updated_at) VALUES (?, 0, ?, ?)
        RETURNING id, name, current_version, max_versions, custom, created_at, updated_at`),
      updateSecret: p('UPDATE secrets SET current_version = ?, max_versions = ?, custom = ?, updated_at = ? WHERE id = ?'),
      deleteSecret: p('DELETE FROM secrets WHERE id = ?'),
      readCurrent: p(`SELECT ${JOINED_COLS} FROM secrets s
        LEFT JOIN versions v ON v.secret_id = s.id AND v.version = s.current_version WHERE s.name = ?`),
      readVersion: p(`SELECT ${JOINED_COLS} FROM secrets s
        LEFT JOIN versions v ON v.secret_id = s.id AND v.version = ? WHERE s.name = ?`),
      readAt: p(`SELECT ${JOINED_COLS} FROM secrets s
        LEFT JOIN versions v ON v.secret_id = s.id AND v.version = (
          SELECT max(version) FROM versions WHERE secret_id = s.id AND created_at <= ?)
        WHERE s.name = ?`),
      listVersions: p(`SELECT version, created_at, deleted_at, destroyed_at, key_id, NULL AS ciphertext
        FROM versions WHERE secret_id = ? ORDER BY version`),
      insertVersion: p(`INSERT INTO versions (secret_id, version, created_at, deleted_at, destroyed_at, key_id, ciphertext)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
      setDeleted: p(`UPDATE versions SET deleted_at = ?
        WHERE secret_id = ? AND version IN (SELECT value FROM json_each(?)) AND destroyed_at IS NULL`),
      destroy: p(`UPDATE versions SET destroyed_at = ?, ciphertext = NULL, key_id = NULL
        WHERE secret_id = ? AND version IN (SELECT value FROM json_each(?)) AND destroyed_at IS NULL`),
      pruneList: p(`SELECT version FROM versions WHERE secret_id = ? ORDER BY version DESC LIMIT -1 OFFSET ?`).pluck(),
      pruneDelete: p(`DELETE FROM versions WHERE secret_id = ? AND version IN (SELECT value FROM json_each(?))`),
      listPrefix: p(`${LIST_SQL} WHERE s.name > ? AND s.name >= ? AND s.name < ? ${LIST_TAIL}`),
      countSecrets: p('SELECT count(*) FROM secrets').pluck(),
      countVersions: p(`SELECT count(*) AS versions,
        coalesce(sum(deleted_at IS NULL AND destroyed_at IS NULL), 0) AS live,
        coalesce(sum(deleted_at IS NOT NULL AND destroyed_at IS NULL), 0) AS deleted,
        coalesce(sum(destroyed_at IS NOT NULL), 0) AS destroyed FROM versions`),
      countByKey: p('SELECT key_id, count(*) AS n FROM versions WHERE key_id IS NOT NULL GROUP BY key_id'),
      keys: p('SELECT id, version, status, created_at, wrapped FROM data_keys ORDER BY version'),
      insertKey: p('INSERT INTO data_keys (id, version, status, created_at, wrapped) VALUES (?, ?, ?, ?, ?)'),
      primaryKeyId: p("SELECT id FROM data_keys WHERE status = 'primary'").pluck(),
      setKeyStatus: p('UPDATE data_keys SET status = ? WHERE id = ?'),
      setKeyWrapping: p('UPDATE data_keys SET wrapped = ? WHERE id = ?'),
      versionsUnderKey: p(`SELECT v.secret_id, s.name, v.version, v.key_id, v.ciphertext
        FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE v.key_id = ? LIMIT ?`),
      replaceCiphertext: p(`UPDATE versions SET key_id = ?, ciphertext = ?
        WHERE secret_id = ? AND version = ? AND key_id = ?`),
      lastAudit: p('SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1'),
      insertAudit: p(`INSERT INTO audit (seq, at, actor, pid, action, name, versions, outcome, detail, mac)
        VALUES (@seq, @at, @actor, @pid, @action, @name, @versions, @outcome, @detail, @mac)`),
      auditPage: p(`SELECT seq, at, actor, pid, action, name, versions, outcome, detail, mac FROM audit
        WHERE seq > @after AND (@name IS NULL OR name = @name) AND (@action IS NULL OR action = @action)
          AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at <= @until)
        ORDER BY seq LIMIT @limit`),
    };
  }

  getMeta(key: string): string | undefined {
    return this.#s.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.#s.setMeta.run(key, value);
  }

  findSecret(name: string): SecretRow | undefined {
    const r = this.#s.findSecret.get(name) as RawSecret | undefined;
    return r && toSecret(r);
  }

  insertSecret(name: string, now: number): SecretRow {
    return toSecret(this.#s.insertSecret.get(name, now, now) as RawSecret);
  }

  updateSecret(row: SecretRow): void {
    this.#s.updateSecret.run(row.currentVersion, row.maxVersions, JSON.stringify(row.custom), row.updatedAt, row.id);
  }

  deleteSecret(id: number): void {
    this.#s.deleteSecret.run(id);
  }

  readVersion(name: string, version?: number): SecretAndVersion | undefined {
    return patiently(() => {
      const r = version === undefined ? this.#s.readCurrent.get(name) : this.#s.readVersion.get(version, name);
      return toJoined(r as RawJoined | undefined);
    });
  }

  readVersionAt(name: string, at: number): SecretAndVersion | undefined {
    return patiently(() => toJoined(this.#s.readAt.get(at, name) as RawJoined | undefined));
  }

  listVersions(secretId: number): VersionRow[] {
    return (this.#s.listVersions.all(secretId) as RawVersion[]).map(toVersion);
  }

  insertVersion(secretId: number, r: VersionRow): void {
    this.#s.insertVersion.run(secretId, r.version, r.createdAt, r.deletedAt, r.destroyedAt, r.keyId, buffer(r.ciphertext));
  }

  setDeleted(secretId: number, versions: number[], deletedAt: number | null): void {
    this.#s.setDeleted.run(deletedAt, secretId, versionList(versions));
  }

  destroyVersions(secretId: number, versions: number[], now: number): void {
    this.#s.destroy.run(now, secretId, versionList(versions));
  }

  pruneVersions(secretId: number, keep: number): number[] {
    const doomed = this.#s.pruneList.all(secretId, keep) as number[];
    if (doomed.length > 0) this.#s.pruneDelete.run(secretId, versionList(doomed));
    return doomed.reverse();
  }

  listSecrets(prefix: string, after: string, limit: number): SecretListRow[] {
    // Names are ASCII below 0x7f, so [prefix, prefix + DEL) is exactly the names under prefix.
    const rows = this.#s.listPrefix.all(after, prefix, `${prefix}\u007f`, limit);
    return (rows as (RawSecret & { oldest: number; n: number; cur_deleted: number; cur_destroyed: number })[]).map((r) => ({
      ...toSecret(r),
      oldestVersion: r.oldest ?? 0,
      versionCount: r.n,
      currentDeleted: r.cur_deleted === 1,
      currentDestroyed: r.cur_destroyed === 1,
    }));
  }

  counts(): StoreCounts {
    const v = this.#s.countVersions.get() as { versions: number; live: number; deleted: number; destroyed: number };
    const byKey = new Map<number, number>();
    for (const r of this.#s.countByKey.all() as { key_id: number; n: number }[]) byKey.set(r.key_id, r.n);
    return {
      secrets: this.#s.countSecrets.get() as number, versions: v.versions, liveVersions: v.live,
      deletedVersions: v.deleted, destroyedVersions: v.destroyed, byKey,
    };
  }

  keys(): KeyRow[] {
    return (this.#s.keys.all() as { id: number; version: number; status: KeyStatus; created_at: number; wrapped: Buffer | null }[]).map(
      (r) => ({ id: r.id, version: r.version, status: r.status, createdAt: r.created_at, wrapped: bytes(r.wrapped) }),
    );
  }

  insertKey(r: KeyRow): void {
    this.#s.insertKey.run(r.id, r.version, r.status, r.createdAt, buffer(r.wrapped));
  }

  primaryKeyId(): number | undefined {
    return this.#s.primaryKeyId.get() as number | undefined;
  }

  setKeyStatus(id: number, status: KeyStatus): void {
    this.#s.setKeyStatus.run(status, id);
  }

  setKeyWrapping(id: number, wrapped: Uint8Array | null): void {
    this.#s.setKeyWrapping.run(buffer(wrapped), id);
  }

  versionsUnderKey(keyId: number, limit: number): RewrapRow[] {
    const rows = this.#s.versionsUnderKey.all(keyId, limit) as { secret_id: number; name: string; version: number; key_id: number; ciphertext: Buffer }[];
    return rows.map((r) => ({ secretId: r.secret_id, name: r.name, version: r.version, keyId: r.key_id, ciphertext: bytes(r.ciphertext)! }));
  }

  replaceCiphertext(secretId: number, version: number, fromKeyId: number, toKeyId: number, ciphertext: Uint8Array): boolean {
    return this.#s.replaceCiphertext.run(toKeyId, buffer(ciphertext), secretId, version, fromKeyId).changes === 1;
  }

  lastAudit(): { seq: number; mac: Uint8Array } | undefined {
    const r = this.#s.lastAudit.get() as { seq: number; mac: Buffer } | undefined;
    return r && { seq: r.seq, mac: bytes(r.mac)! };
  }

  insertAudit(row: AuditRow): void {
    this.#s.insertAudit.run({ ...row, mac: buffer(row.mac) });
  }

  auditPage(afterSeq: number, limit: number, filter: AuditFilter = {}): AuditRow[] {
    const rows = this.#s.auditPage.all({
      after: afterSeq, limit, name: filter.name ?? null, action: filter.action ?? null,
      since: filter.since ?? null, until: filter.until ?? null,
    }) as (Omit<AuditRow, 'mac'> & { mac: Buffer })[];
    return rows.map((r) => ({ ...r, mac: bytes(r.mac)! }));
  }

  write<T>(fn: (tx: StorageOps) => T): T {
    return patiently(() => this.#tx.immediate(fn) as T);
  }

  writeRelaxed<T>(fn: (tx: StorageOps) => T): T {
    this.#syncNormal.run();
    try {
      return this.write(fn);
    } finally {
      this.#syncFull.run();
    }
  }

  read<T>(fn: (tx: StorageOps) => T): T {
    return patiently(() => this.#tx.deferred(fn) as T);
  }

  checkpoint(): boolean {
    // A reader's snapshot blocks TRUNCATE; do not stall the caller for the whole busy timeout.
    this.#db.pragma(`busy_timeout = ${CHECKPOINT_WAIT_MS}`);
    try {
      const [r] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      return r?.busy === 0;
    } catch {
      return false;
    } finally {
      this.#db.pragma('busy_timeout = 0');
    }
  }

  integrityProblems(): string[] {
    const rows = this.#db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
    const fk = this.#db.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) problems.push(`${fk.length} row(s) break a foreign key`);
    return problems;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  async snapshotTo(destination: string, onProgress?: (done: number, total: number) => void): Promise<void> {
    try {
      await onlineBackup(this.#db, destination, onProgress);
    } catch (e) {
      translate(e);
    }
  }

  scanVersions(afterSecretId: number, afterVersion: number, limit: number): (VersionRow & { secretId: number; name: string; secretUpdatedAt: number })[] {
    try {
      // Prepared on first use: only verification scans, and the constructor is on every command's start-up path.
      this.#scan ??= this.#db.prepare(`SELECT v.secret_id, s.name, s.updated_at, v.version, v.created_at, v.deleted_at, v.destroyed_at,
        v.key_id, v.ciphertext FROM versions v JOIN secrets s ON s.id = v.secret_id
        WHERE (v.secret_id, v.version) > (?, ?) ORDER BY v.secret_id, v.version LIMIT ?`);
      const rows = this.#scan.all(afterSecretId, afterVersion, limit) as (RawVersion & { secret_id: number; name: string; updated_at: number })[];
      return rows.map((r) => ({ ...toVersion(r), secretId: r.secret_id, name: r.name, secretUpdatedAt: r.updated_at }));
    } catch (e) {
      return translate(e);
    }
  }

  #scan: { all(...params: number[]): unknown[] } | undefined;
}


const LIST_SQL = `SELECT ${SECRET_COLS},
  (SELECT min(version) FROM versions WHERE secret_id = s.id) AS oldest,
  (SELECT count(*) FROM versions WHERE secret_id = s.id) AS n,
  cur.deleted_at IS NOT NULL AS cur_deleted, cur.destroyed_at IS NOT NULL AS cur_destroyed
  FROM secrets s LEFT JOIN versions cur ON cur.secret_id = s.id AND cur.version = s.current_version`;
const LIST_TAIL = 'ORDER BY s.name LIMIT ?';
