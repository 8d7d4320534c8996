/**
 * The SQLite driver behind `Storage`: prepared statements with bound
 * parameters only (never `verbose`, never a bound statement's toString, both
 * of which would expand values into text), each multi-row change inside one
 * synchronous transaction.
 */
import { Database, type Statement } from './native.js';
import { StoreError, TamperedError } from '../../errors.js';
import { BUSY_TIMEOUT_MS, type ReadOnlyFile } from './open.js';
import { changedSince, type FileStamp, type ReadOnlyReason } from './read-only.js';
import { changeRefused } from '../read-only.js';
import { onlineBackup } from './files.js';
import { withExclusiveLock } from '../../platform/lock.js';
import { SCHEMA_VERSION, versionPlace, versionsOfSecret } from './schema.js';
import { isBusy, storeFileError } from './errors.js';
import { WalIndexLook } from './wal-index.js';
import type { KeyStatus } from '../../crypto/keyset.js';
import type {
  AuditFilter, AuditHead, AuditRow, Awaitable, ExclusiveOptions, FileCapabilities, HeldLock, RawJoined, RawKey, RawListRow, RawMeta, RawOps, RawRecord, RawRewrap, RawSecret, RawStorage, RawVersion,
  StateRow, StoreCounts, VersionPlace, WriteOptions,
} from '../storage.js';
import { headNonce, NONCE_FROM, NONCE_LENGTH, type Blob, type SecretCols, type VersionCols } from '../columns.js';


/**
 * The counter of secret ids: the highest id ever handed out whose secret may
 * since have been purged, in sqlite_sequence's 'secrets' row. AUTOINCREMENT
 * wrote it with every new secret until schema 6; since then the driver keeps
 * it and a purge writes it (deleteSecret), so copies, backups and tools read
 * it where it always was. Missing (an edited file): no purged id is known.
 */
const SECRET_ID_HIGH = "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'secrets'), 0)";

// A secret with its current version's state (h_*), which its MAC covers: always read together.
const SECRET_COLS = `s.id, s.name, s.current_version, s.max_versions, s.custom, s.created_at, s.updated_at, s.mac,
  h.version AS h_version, h.created_at AS h_created_at, h.deleted_at AS h_deleted_at, h.destroyed_at AS h_destroyed_at, h.json AS h_json,
  substr(h.ciphertext, ${NONCE_FROM + 1}, ${NONCE_LENGTH}) AS h_nonce`;
const WITH_HEAD = `LEFT JOIN versions h ON h.place = ${versionPlace('s.id', 's.current_version')}`;
const VERSION_COLS = 'secret_id, version, created_at, deleted_at, destroyed_at, key_id, ciphertext, mac, json';
function bytes(b: Blob): Uint8Array | null {
  return b === null ? null : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * A version's stored `json` column (0 or 1) as the flag. Any other stored
 * value (an edited row: 2, text, NULL) is handed over as it is, typed as a
 * flag only for the guard, whose MAC encoding refuses it as a damaged row
 * (E_TAMPERED) instead of reading it as one of the two.
 */
function flag(v: unknown): boolean {
  return v === 1 ? true : v === 0 ? false : (v as boolean);
}

function toSecret(r: SecretCols): RawSecret {
  return {
    id: r.id, name: r.name, currentVersion: r.current_version, maxVersions: r.max_versions, custom: r.custom,
    createdAt: r.created_at, updatedAt: r.updated_at, mac: bytes(r.mac),
    head: r.h_version === null ? null : {
      createdAt: r.h_created_at, deletedAt: r.h_deleted_at, destroyedAt: r.h_destroyed_at, json: flag(r.h_json), nonce: r.h_nonce as Uint8Array | null,
    },
  };
}

/**
 * SQL true when a version row sits at its place: the table's key, `place`,
 * is secret_id * 2^32 + version (schema.ts versionPlace), and only those two
 * columns are under the row's MAC. A row moved to another place (by someone
 * without the master key) still carries an authentic MAC, so every read that
 * finds rows by place, or orders them by it, asks for this too (`placed`).
 */
const PLACED = `place = ${versionPlace('secret_id', 'version')} AS placed`;

/** A version row read with PLACED: refused unless it sits at its place. */
function toPlacedVersion(r: VersionCols & { placed: number }): RawVersion {
  if (r.placed !== 1) throw new TamperedError(`version ${String(r.version)} of secret id ${String(r.secret_id)} is not where its row belongs: rows of the store were moved`);
  return toVersion(r);
}

function toVersion(r: VersionCols): RawVersion {
  return {
    secretId: r.secret_id, version: r.version, createdAt: r.created_at, deletedAt: r.deleted_at, destroyedAt: r.destroyed_at,
    keyId: r.key_id, ciphertext: bytes(r.ciphertext), mac: bytes(r.mac), json: flag(r.json),
  };
}

/**
 * The get path's reads, as arrays (better-sqlite3's raw mode: no object with
 * a dozen keys per row) and without the name, secret id or version they were
 * asked by: the guard MACs each row under the place it asked for, so a row
 * from another place fails its MAC without being compared. The current
 * version is checked through its secret's MAC (which covers its state and,
 * from schema 9, its nonce, cut here from the ciphertext read), a named
 * version through its own; the current version's own MAC comes too, for a
 * secret row older than schema 9, whose MAC covers no nonce
 * (src/store/integrity/guarded.ts).
 *
 * The ciphertext and those MACs (the secret's, for the current version, then
 * the version's) come as one blob, ciphertext first, with the lengths to
 * split them: better-sqlite3 makes each blob a Buffer of its own in C++
 * (about 1 µs each), and SQLite's || joins blobs byte for byte (octet_length:
 * a column an edit made text is split by its bytes too, and then fails its checks).
 */
const getCols = (current: boolean) => `s.id, s.current_version, s.max_versions, s.custom, s.created_at, s.updated_at,
  v.version, v.created_at, v.deleted_at, v.destroyed_at, v.key_id, octet_length(v.ciphertext) AS cipher_length, v.json,
  ${current ? 'octet_length(s.mac)' : 'NULL'} AS secret_mac_length,
  CAST(coalesce(v.ciphertext, x'') || ${current ? "coalesce(s.mac, x'') || " : ''}coalesce(v.mac, x'') AS BLOB) AS cipher_mac
  ${current ? '' : `, v.place = ${versionPlace('v.secret_id', 'v.version')} AS placed`}`;
type GetRow = [
  number, number, number, string, number, number, number | null, number, number | null, number | null, number | null, number | null, unknown,
  number | null, Buffer, (number | null)?,
];

/** `current`: the version read is the secret's current one, read with the secret's MAC before its own. */
function toFound(name: string, r: GetRow | undefined, current: boolean): RawJoined | undefined {
  if (!r) return undefined;
  const hasVersion = r[6] !== null;
  const json = flag(r[12]);
  const cipherLength = r[11];
  const blob = r[14];
  const ciphertext = cipherLength === null ? null : blob.subarray(0, cipherLength);
  // A NULL MAC and an empty one are both no MAC (neither ever matches).
  const secretMacAt = cipherLength ?? 0;
  const versionMacAt = secretMacAt + (r[13] ?? 0);
  const secretMac = versionMacAt > secretMacAt ? blob.subarray(secretMacAt, versionMacAt) : null;
  const versionMac = blob.length > versionMacAt ? blob.subarray(versionMacAt) : null;
  // Blobs stay the Buffers better-sqlite3 made (Uint8Arrays): one allocation fewer each, on the hottest path.
  const secret: RawSecret = {
    id: r[0], name, currentVersion: r[1], maxVersions: r[2], custom: r[3], createdAt: r[4], updatedAt: r[5],
    head: current && hasVersion ? { createdAt: r[7], deletedAt: r[8], destroyedAt: r[9], json, nonce: headNonce(ciphertext) as Uint8Array | null } : null,
    mac: secretMac,
  };
  if (!hasVersion) return { secret, version: undefined };
  // A named version (or one found by time) is taken from its place: its row must be the one that belongs there.
  if (r[15] === 0) throw new TamperedError(`version ${String(r[6])} of ${name} is not where its row belongs: rows of the store were moved`);
  const version: RawVersion = {
    secretId: r[0], version: r[6]!, createdAt: r[7], deletedAt: r[8], destroyedAt: r[9], keyId: r[10], ciphertext, json, mac: versionMac,
  };
  return { secret, version };
}

interface RecordCols { kind: string; id: string; value: string; mac: Blob }

function toRecord(r: RecordCols): RawRecord {
  return { kind: r.kind, id: r.id, value: r.value, mac: bytes(r.mac) };
}

function buffer(b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * SQLite's failures as our codes (src/storage/sqlite/errors.ts: busy, full
 * disk, read-only, permission, damage), with one more rule only the driver
 * can make: its statements are fixed and bind every value, so a plain SQL
 * error (no such column, a malformed schema, a mistyped row a constraint
 * rejects) means the file's schema or rows were altered.
 */
function translate(e: unknown, path: string): never {
  if (e instanceof Database.SqliteError
    && (e.code === 'SQLITE_ERROR' || e.code.startsWith('SQLITE_CONSTRAINT') || e.code === 'SQLITE_MISMATCH' || e.code === 'SQLITE_SCHEMA')) {
    throw new StoreError('E_NOT_A_STORE', `${path}: the store file's schema or rows are damaged (${e.code}: ${e.message})`, ['restore it from a backup']);
  }
  throw storeFileError(e, `${path}: the store file could not be used`, path) ?? e;
}

/** How often a waiting reader or writer tries again. */
const POLL_MS = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A single read outside a transaction: its answer at once, or, while another
 * connection holds what it needs, a promise of it, tried again every
 * millisecond up to the busy timeout without blocking the event loop.
 */
function patiently<T>(fn: () => T, path: string): T | Promise<T> {
  try {
    return fn();
  } catch (e) {
    if (!isBusy(e)) return translate(e, path);
  }
  return (async () => {
    const deadline = Date.now() + BUSY_TIMEOUT_MS;
    for (;;) {
      await sleep(POLL_MS);
      try {
        return fn();
      } catch (e) {
        if (!isBusy(e) || Date.now() >= deadline) return translate(e, path);
      }
    }
  })();
}

/** Bind a list of version numbers as one JSON array parameter. */
function versionList(versions: number[]): string {
  return JSON.stringify(versions.map((v) => Math.trunc(v)));
}

/** How long a checkpoint waits for readers before it reports that it could not finish. */
const CHECKPOINT_WAIT_MS = 250;

/**
 * `stmt`, once its result columns are known to carry the names the driver
 * reads them by. A row read as an object is keyed by each column's name as
 * the schema declares it, and SQLite matches names regardless of case: one
 * flipped bit that turns `ciphertext` into `ciphertexT` in the schema's text
 * leaves every statement preparing and every such row without its field.
 * Every name in the schema and every alias here is lower case, so another
 * case means the schema was altered (E_NOT_A_STORE), found at open instead
 * of as a TypeError on some later read.
 */
function declaredAsWritten<S extends Statement>(stmt: S, path: string): S {
  if (!stmt.reader) return stmt;
  for (const { name } of stmt.columns()) {
    if (name !== name.toLowerCase()) {
      throw new StoreError('E_NOT_A_STORE', `${path}: the store file's schema is damaged (a column is named ${JSON.stringify(name)})`, ['restore it from a backup']);
    }
  }
  return stmt;
}

/**
 * An object whose properties are `makers`' statements, each prepared on its
 * first use and kept for the connection's life. A command uses a few of the
 * driver's forty-odd statements (`store get`: eight), and preparing them all
 * at open was ~2 ms of its start-up. A statement that does not prepare (the
 * schema's text was altered) fails where it is first used, inside the read
 * or write that needs it, as E_NOT_A_STORE (translate); a column's name is
 * checked for every table at open (checkColumnNames).
 */
function preparedOnUse<T extends Record<string, () => Statement>>(makers: T): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const made: Partial<Record<keyof T, Statement>> = {};
  const statements = {} as { [K in keyof T]: ReturnType<T[K]> };
  for (const name of Object.keys(makers) as (keyof T)[]) {
    Object.defineProperty(statements, name, { enumerable: true, get: () => (made[name] ??= makers[name]!()) });
  }
  return statements;
}

/**
 * Every column of every table named in lower case, as the schema was written
 * (see declaredAsWritten): one look at open for all of them, so an altered
 * name is E_NOT_A_STORE there, before any row is read, whichever statement
 * would have read it.
 */
function checkColumnNames(db: Database, path: string): void {
  const names = db.prepare("SELECT p.name FROM sqlite_schema m, pragma_table_info(m.name) p WHERE m.type = 'table'").pluck().all() as string[];
  const altered = names.find((name) => name !== name.toLowerCase());
  if (altered !== undefined) {
    throw new StoreError('E_NOT_A_STORE', `${path}: the store file's schema is damaged (a column is named ${JSON.stringify(altered)})`, ['restore it from a backup']);
  }
}

/** Every statement the driver runs, each prepared once per connection on first use (`path`: the store file, for messages). */
function prepare(db: Database, path: string) {
  checkColumnNames(db, path); // a read, so before the wait below is taken away: a writer may hold the -wal a moment
  db.pragma('busy_timeout = 0'); // waiting is done by patiently(), in short polls
  const begin = { immediate: db.prepare('BEGIN IMMEDIATE'), deferred: db.prepare('BEGIN DEFERRED'), commit: db.prepare('COMMIT'), rollback: db.prepare('ROLLBACK') };
  const p = (sql: string) => declaredAsWritten(db.prepare(sql), path);
  const statements = preparedOnUse({
    getMeta: () => p('SELECT value FROM meta WHERE key = ?').pluck(),
    metaRow: () => p('SELECT key, value, mac FROM meta WHERE key = ?'),
    allMeta: () => p('SELECT key, value, mac FROM meta ORDER BY key'),
    putMeta: () => p('INSERT INTO meta (key, value, mac) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, mac = excluded.mac'),
    deleteMeta: () => p('DELETE FROM meta WHERE key = ?'),
    findSecret: () => p(`SELECT ${SECRET_COLS} FROM secrets s ${WITH_HEAD} WHERE s.name = ?`),
    secretById: () => p(`SELECT ${SECRET_COLS} FROM secrets s ${WITH_HEAD} WHERE s.id = ?`),
    // The id is above every id in use and above the counter of ids purged (SECRET_ID_HIGH): never one handed out before.
    // Taken first, then given (a table without rowids has no last-inserted one; RETURNING costs more than the two).
    nextSecretId: () => p(`SELECT max(coalesce((SELECT max(id) FROM secrets), 0), ${SECRET_ID_HIGH}) + 1 AS next_id`).pluck(),
    // Every column given (no schema default is trusted), so the new row is known without reading it back.
    insertSecret: () => p(`INSERT INTO secrets (id, name, current_version, max_versions, custom, created_at, updated_at)
      VALUES (?, ?, 0, 0, '{}', ?, ?)`),
    // Found by name, the table's key (one search); the id must match too, or nothing is written.
    updateSecret: () => p('UPDATE secrets SET current_version = ?, max_versions = ?, custom = ?, updated_at = ?, mac = ? WHERE name = ? AND id = ?'),
    deleteVersionsOf: () => p(`DELETE FROM versions WHERE ${versionsOfSecret('?')}`),
    deleteSecret: () => p('DELETE FROM secrets WHERE id = ?'),
    readCurrent: () => p(`SELECT ${getCols(true)} FROM secrets s
      LEFT JOIN versions v ON v.place = ${versionPlace('s.id', 's.current_version')} WHERE s.name = ?`).raw(true),
    readVersion: () => p(`SELECT ${getCols(false)} FROM secrets s
      LEFT JOIN versions v ON v.place = ${versionPlace('s.id', '?')} WHERE s.name = ?`).raw(true),
    readAt: () => p(`SELECT ${getCols(false)} FROM secrets s
      LEFT JOIN versions v ON v.place = ${versionPlace('s.id', `(SELECT max(version) FROM versions WHERE ${versionsOfSecret('s.id')} AND created_at <= ?)`)}
      WHERE s.name = ?`).raw(true),
    listVersions: () => p(`SELECT ${VERSION_COLS}, ${PLACED} FROM versions WHERE ${versionsOfSecret('?')} ORDER BY place`),
    insertVersion: () => p(`INSERT INTO versions (place, ${VERSION_COLS}) VALUES (${versionPlace('?', '?')}, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    updateVersion: () => p(`UPDATE versions SET deleted_at = ?, destroyed_at = ?, key_id = ?, ciphertext = ?, mac = ?
      WHERE place = ${versionPlace('?', '?')} AND secret_id = ? AND version = ?`),
    deleteVersions: () => p(`DELETE FROM versions WHERE place IN (SELECT ${versionPlace('?', 'value')} FROM json_each(?)) AND secret_id = ?
      AND place = ${versionPlace('secret_id', 'version')}`),
    listPrefix: () => p(`${LIST_SQL} WHERE s.name > ? AND s.name >= ? AND s.name < ? ${LIST_TAIL}`),
    countSecrets: () => p('SELECT count(*) FROM secrets').pluck(),
    countVersions: () => p(`SELECT count(*) AS versions,
      coalesce(sum(deleted_at IS NULL AND destroyed_at IS NULL), 0) AS live,
      coalesce(sum(deleted_at IS NOT NULL AND destroyed_at IS NULL), 0) AS deleted,
      coalesce(sum(destroyed_at IS NOT NULL), 0) AS destroyed FROM versions`),
    countByKey: () => p('SELECT key_id, count(*) AS n FROM versions WHERE key_id IS NOT NULL GROUP BY key_id'),
    keys: () => p('SELECT id, version, status, created_at, wrapped, mac FROM data_keys ORDER BY version'),
    insertKey: () => p('INSERT INTO data_keys (id, version, status, created_at, wrapped, mac) VALUES (?, ?, ?, ?, ?, ?)'),
    updateKey: () => p('UPDATE data_keys SET status = ?, wrapped = ?, mac = ? WHERE id = ?'),
    primaryKeyId: () => p("SELECT id FROM data_keys WHERE status = 'primary'").pluck(),
    // In primary key order from `after` on: no index on key_id (schema 6; every put paid a page for one), so a
    // rewrap walks the table once, batch after batch, each stopping once it has `limit` rows under the key.
    versionsUnderKey: () => p(`SELECT s.name, v.secret_id, v.version, v.created_at, v.deleted_at, v.destroyed_at, v.key_id, v.ciphertext, v.mac, v.json,
        v.${PLACED}
      FROM versions v JOIN secrets s ON s.id = v.secret_id WHERE v.place > ${versionPlace('?', '?')} AND v.key_id = ?
      ORDER BY v.place LIMIT ?`),
    replaceCiphertext: () => p(`UPDATE versions SET key_id = ?, ciphertext = ?, mac = ?
      WHERE place = ${versionPlace('?', '?')} AND key_id = ? AND mac = ?`),
    lastAudit: () => p('SELECT seq, mac FROM audit ORDER BY seq DESC LIMIT 1'),
    insertAudit: () => p(`INSERT INTO audit (seq, at, actor, pid, action, name, versions, outcome, detail, mac)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    auditPage: () => p(`SELECT seq, at, actor, pid, action, name, versions, outcome, detail, mac FROM audit
      WHERE seq > @after AND (@name IS NULL OR name = @name) AND (@action IS NULL OR action = @action)
        AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at <= @until)
      ORDER BY seq LIMIT @limit`),
    deleteAuditThrough: () => p('DELETE FROM audit WHERE seq <= ?'),
    state: () => p('SELECT digest, audit_seq, audit_mac, mac FROM state WHERE id = 1'),
    stateMac: () => p('SELECT mac FROM state WHERE id = 1').pluck(),
    putState: () => p(`INSERT INTO state (id, digest, audit_seq, audit_mac, mac) VALUES (1, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET digest = excluded.digest, audit_seq = excluded.audit_seq, audit_mac = excluded.audit_mac, mac = excluded.mac`),
    getRecord: () => p('SELECT kind, id, value, mac FROM records WHERE kind = ? AND id = ?'),
    putRecord: () => p(`INSERT INTO records (kind, id, value, mac) VALUES (?, ?, ?, ?)
      ON CONFLICT(kind, id) DO UPDATE SET value = excluded.value, mac = excluded.mac`),
    deleteRecord: () => p('DELETE FROM records WHERE kind = ? AND id = ?'),
    listRecords: () => p('SELECT kind, id, value, mac FROM records WHERE kind = ? ORDER BY id'),
    // The read cache's change detector (changeCounter).
    dataVersion: () => p('PRAGMA data_version').pluck(),
  });
  return [statements, begin] as const;
}
type Prepared = ReturnType<typeof prepare>;

export class SqliteStorage implements RawStorage {
  // Replaced together only when a read-only snapshot is taken again (refresh).
  #db!: Database;
  #s!: Prepared[0];

  #beginImmediate!: Statement;
  #beginDeferred!: Statement;
  #commit!: Statement;
  #rollback!: Statement;

  readonly #path: string;
  readonly #readOnly: ReadOnlyFile | undefined;
  /** A snapshot's stamp (src/storage/sqlite/read-only.ts); undefined for a connection to the file itself. */
  #stamp: FileStamp | undefined;

  /**
   * `readOnly`: the file was opened read-only (openStoreFileFor): every write
   * is refused with E_READ_ONLY before SQLite is asked.
   * @throws E_NOT_A_STORE when the file's schema is damaged (a column's name altered; a statement that no longer prepares fails at its first use)
   */
  constructor(db: Database, readOnly?: ReadOnlyFile) {
    this.#path = readOnly?.path ?? db.name;
    this.#readOnly = readOnly;
    this.#stamp = readOnly?.stamp;
    this.#attach(db);
    this.file = {
      path: this.#path,
      // Failures are left as they are: only the caller knows which file (the store or the copy) a full disk or a denied write is about.
      snapshotTo: (destination, onProgress) => onlineBackup(this.#db, destination, onProgress),
      checkpoint: async () => this.#checkpoint(),
      integrityProblems: async () => this.#integrityProblems(),
    };
  }

  #attach(db: Database): void {
    try {
      let begin: Prepared[1];
      [this.#s, begin] = prepare(db, this.#path);
      ({ immediate: this.#beginImmediate, deferred: this.#beginDeferred, commit: this.#commit, rollback: this.#rollback } = begin);
    } catch (e) {
      db.close();
      translate(e, this.#path);
    }
    this.#db = db;
    this.#eachSecret = this.#eachVersion = this.#eachRecord = this.#scan = undefined;
    this.#copy = undefined;
    this.#dataVersion = undefined; // another connection's numbers: the next look counts a change
    this.#walIndex?.reset();
  }

  /** The file this storage reads, for messages. */
  get path(): string {
    return this.#path;
  }

  /** Why this storage may not write; undefined when it may. */
  get readOnly(): ReadOnlyReason | undefined {
    return this.#readOnly?.reason;
  }

  /**
   * A read-only snapshot whose file changed since it was taken (a writer
   * committed, or started and keeps a -wal) is opened again, as a snapshot or
   * through the -wal: called before each operation, so a long-lived reader
   * sees what writers did since. Nothing for any other connection, which
   * SQLite keeps current itself.
   * @throws as opening does (E_IO, E_LOCKED, E_SCHEMA_TOO_NEW…)
   */
  refresh(): void {
    if (this.#stamp === undefined || !this.#readOnly || !changedSince(this.#path, this.#stamp)) return;
    const next = this.#readOnly.reopen();
    const old = this.#db;
    this.#attach(next.db);
    this.#stamp = next.stamp;
    old.close();
  }

  // ---- the read cache's change detector ---------------------------------

  /** PRAGMA data_version when last asked: it changes when another connection commits. */
  #dataVersion: number | undefined;
  #changes = 0;
  /** A read transaction of this connection is open: its snapshot would hide later commits. */
  #inSnapshot = false;
  /** The first look, at the file's WAL index (none for a read-only snapshot, which refresh() follows). */
  #walIndex: WalIndexLook | undefined;

  /**
   * A new number when another connection committed since the last call
   * (RawStorage.changeCounter): its commit changes PRAGMA data_version
   * (never this connection's own). Every such commit counts, audit entries
   * only included: comparing the state's digest instead would miss a change
   * undone (a token this process made, revoked by another, puts the digest
   * back where it was, a set hash being a sum), so a cache would keep what
   * no longer exists. When nobody committed at all, the WAL index says so
   * first (wal-index.ts): under a microsecond; SQLite is asked after any
   * commit, this connection's too.
   */
  changeCounter(): number | undefined {
    if (this.#inSnapshot) return undefined;
    if (this.#stamp === undefined) this.#walIndex ??= new WalIndexLook(this.#path);
    if (this.#walIndex?.unchanged()) return this.#changes;
    try {
      const version = this.#s.dataVersion.get() as number;
      if (version !== this.#dataVersion) {
        this.#changes++;
        this.#dataVersion = version;
      }
      this.#walIndex?.settle(); // the commits before the header it read are accounted for
      return this.#changes;
    } catch {
      return undefined; // busy or failing: the get reads the store, which says why
    }
  }

  getMeta(key: string): string | undefined {
    return this.#s.getMeta.get(key) as string | undefined;
  }

  metaRow(key: string): RawMeta | undefined {
    const r = this.#s.metaRow.get(key) as { key: string; value: string; mac: Blob } | undefined;
    return r && { key: r.key, value: r.value, mac: bytes(r.mac) };
  }

  allMeta(): RawMeta[] {
    return (this.#s.allMeta.all() as { key: string; value: string; mac: Blob }[]).map((r) => ({ key: r.key, value: r.value, mac: bytes(r.mac) }));
  }

  putMeta(row: RawMeta): void {
    this.#s.putMeta.run(row.key, row.value, buffer(row.mac));
  }

  deleteMeta(key: string): void {
    this.#s.deleteMeta.run(key);
  }

  findSecret(name: string): RawSecret | undefined {
    const r = this.#s.findSecret.get(name) as SecretCols | undefined;
    return r && toSecret(r);
  }

  secretById(id: number): RawSecret | undefined {
    const r = this.#s.secretById.get(id) as SecretCols | undefined;
    return r && toSecret(r);
  }

  insertSecret(name: string, now: number): RawSecret {
    const id = this.#s.nextSecretId.get() as number;
    this.#s.insertSecret.run(id, name, now, now);
    return { id, name, currentVersion: 0, maxVersions: 0, custom: '{}', createdAt: now, updatedAt: now, mac: null, head: null };
  }

  updateSecret(row: RawSecret): void {
    this.#s.updateSecret.run(row.currentVersion, row.maxVersions, row.custom, row.updatedAt, buffer(row.mac), row.name, row.id);
  }

  deleteSecret(id: number): void {
    this.#s.deleteVersionsOf.run(id, id);
    this.#s.deleteSecret.run(id);
    this.raiseSecretIdHighWater(id); // the id purged is never handed out again
  }

  readVersion(name: string, version?: number): Awaitable<RawJoined | undefined> {
    return patiently(() => {
      const r = version === undefined ? this.#s.readCurrent.get(name) : this.#s.readVersion.get(version, name);
      return toFound(name, r as GetRow | undefined, version === undefined);
    }, this.#path);
  }

  readVersionAt(name: string, at: number): Awaitable<RawJoined | undefined> {
    return patiently(() => toFound(name, this.#s.readAt.get(at, name) as GetRow | undefined, false), this.#path);
  }

  listVersions(secretId: number): RawVersion[] {
    return (this.#s.listVersions.all(secretId, secretId) as (VersionCols & { placed: number })[]).map(toPlacedVersion);
  }

  insertVersion(r: RawVersion): void {
    this.#s.insertVersion.run(r.secretId, r.version, r.secretId, r.version, r.createdAt, r.deletedAt, r.destroyedAt, r.keyId, buffer(r.ciphertext), buffer(r.mac), r.json ? 1 : 0);
  }

  updateVersion(r: RawVersion): void {
    const { changes } = this.#s.updateVersion.run(r.deletedAt, r.destroyedAt, r.keyId, buffer(r.ciphertext), buffer(r.mac), r.secretId, r.version, r.secretId, r.version);
    // The guard checked the row it rewrites; one that is not at its place any more was moved meanwhile, and nothing is written.
    if (changes !== 1) throw new TamperedError(`version ${r.version} of secret id ${r.secretId} was not where its row belongs when it was written`);
  }

  deleteVersions(secretId: number, versions: number[]): void {
    if (versions.length === 0) return;
    const { changes } = this.#s.deleteVersions.run(secretId, versionList(versions), secretId);
    if (changes !== versions.length) throw new TamperedError(`versions of secret id ${secretId} to be removed were not where their rows belong`);
  }

  listSecrets(prefix: string, after: string, limit: number): RawListRow[] {
    // Names are ASCII below 0x7f, so [prefix, prefix + DEL) is exactly the names under prefix.
    const rows = this.#s.listPrefix.all(after, prefix, `${prefix}\u007f`, limit) as (SecretCols & { oldest: number | null; n: number })[];
    return rows.map((r) => ({ secret: toSecret(r), oldestVersion: r.oldest ?? 0, versionCount: r.n }));
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

  keys(): RawKey[] {
    return (this.#s.keys.all() as { id: number; version: number; status: KeyStatus; created_at: number; wrapped: Blob; mac: Blob }[]).map(
      (r) => ({ id: r.id, version: r.version, status: r.status, createdAt: r.created_at, wrapped: bytes(r.wrapped), mac: bytes(r.mac) }),
    );
  }

  insertKey(r: RawKey): void {
    this.#s.insertKey.run(r.id, r.version, r.status, r.createdAt, buffer(r.wrapped), buffer(r.mac));
  }

  updateKey(r: RawKey): void {
    this.#s.updateKey.run(r.status, buffer(r.wrapped), buffer(r.mac), r.id);
  }

  primaryKeyId(): number | undefined {
    return this.#s.primaryKeyId.get() as number | undefined;
  }

  versionsUnderKey(keyId: number, limit: number, after: VersionPlace = { secretId: 0, version: 0 }): RawRewrap[] {
    const rows = this.#s.versionsUnderKey.all(after.secretId, after.version, keyId, limit) as (VersionCols & { name: string; placed: number })[];
    return rows.map((r) => ({ name: r.name, row: toPlacedVersion(r) }));
  }

  replaceCiphertext(r: RawVersion, from: { keyId: number; mac: Uint8Array }): boolean {
    return this.#s.replaceCiphertext.run(r.keyId, buffer(r.ciphertext), buffer(r.mac), r.secretId, r.version, from.keyId, buffer(from.mac)).changes === 1;
  }

  lastAudit(): AuditHead | undefined {
    const r = this.#s.lastAudit.get() as { seq: number; mac: Blob } | undefined;
    return r && { seq: r.seq, mac: bytes(r.mac)! };
  }

  insertAudit(row: AuditRow): void {
    this.#s.insertAudit.run(row.seq, row.at, row.actor, row.pid, row.action, row.name, row.versions, row.outcome, row.detail, buffer(row.mac));
  }

  auditPage(afterSeq: number, limit: number, filter: AuditFilter = {}): AuditRow[] {
    const rows = this.#s.auditPage.all({
      after: afterSeq, limit, name: filter.name ?? null, action: filter.action ?? null,
      since: filter.since ?? null, until: filter.until ?? null,
    }) as (Omit<AuditRow, 'mac'> & { mac: Blob })[];
    return rows.map((r) => ({ ...r, mac: bytes(r.mac)! }));
  }

  deleteAuditThrough(seq: number): void {
    this.#s.deleteAuditThrough.run(seq);
  }

  state(): StateRow | undefined {
    const r = this.#s.state.get() as { digest: Blob; audit_seq: number; audit_mac: Blob; mac: Blob } | undefined;
    if (!r) return undefined;
    return { digest: bytes(r.digest)!, auditSeq: r.audit_seq, auditMac: bytes(r.audit_mac)!, mac: bytes(r.mac)! };
  }

  stateMac(): Uint8Array | undefined {
    const m = this.#s.stateMac.get() as Blob | undefined;
    return m ? bytes(m)! : undefined;
  }

  putState(row: StateRow): void {
    this.#s.putState.run(buffer(row.digest), row.auditSeq, buffer(row.auditMac), buffer(row.mac));
  }

  getRecord(kind: string, id: string): RawRecord | undefined {
    const r = this.#s.getRecord.get(kind, id) as RecordCols | undefined;
    return r && toRecord(r);
  }

  putRecord(r: RawRecord): void {
    this.#s.putRecord.run(r.kind, r.id, r.value, buffer(r.mac));
  }

  deleteRecord(kind: string, id: string): boolean {
    return this.#s.deleteRecord.run(kind, id).changes === 1;
  }

  listRecords(kind: string): RawRecord[] {
    return (this.#s.listRecords.all(kind) as RecordCols[]).map(toRecord);
  }

  eachRecord(fn: (row: RawRecord) => void): void {
    this.#eachRecord ??= declaredAsWritten(this.#db.prepare('SELECT kind, id, value, mac FROM records ORDER BY kind, id'), this.#path);
    for (const r of this.#eachRecord.iterate() as IterableIterator<RecordCols>) fn(toRecord(r));
  }

  eachSecret(fn: (row: RawSecret) => void): void {
    this.#eachSecret ??= declaredAsWritten(this.#db.prepare(`SELECT ${SECRET_COLS} FROM secrets s ${WITH_HEAD} ORDER BY s.id`), this.#path);
    for (const r of this.#eachSecret.iterate() as IterableIterator<SecretCols>) fn(toSecret(r));
  }

  eachVersion(fn: (row: RawVersion, name: string) => void): void {
    this.#eachVersion ??= declaredAsWritten(this.#db.prepare(`SELECT s.name, v.secret_id, v.version, v.created_at, v.deleted_at, v.destroyed_at,
      v.key_id, v.ciphertext, v.mac, v.json FROM versions v LEFT JOIN secrets s ON s.id = v.secret_id ORDER BY v.place`), this.#path);
    for (const r of this.#eachVersion.iterate() as IterableIterator<VersionCols & { name: string | null }>) fn(toVersion(r), r.name ?? `secret id ${r.secret_id}`);
  }

  // Prepared on first use: only sealing and verification scan, and the constructor is on every command's start-up path.
  #eachSecret: { iterate(...params: unknown[]): IterableIterator<unknown> } | undefined;
  #eachVersion: { iterate(...params: unknown[]): IterableIterator<unknown> } | undefined;
  #eachRecord: { iterate(...params: unknown[]): IterableIterator<unknown> } | undefined;

  // ---- a whole store's rows, for copying it to another storage (src/storage/copy.ts) ----

  /** The copy's statements, prepared on first use (only a copy needs them). */
  #copyStatements() {
    this.#copy ??= prepareCopy(this.#db, this.#path);
    return this.#copy;
  }

  #copy: ReturnType<typeof prepareCopy> | undefined;

  secretsPage(afterId: number, limit: number): RawSecret[] {
    return (this.#copyStatements().secretsPage.all(afterId, limit) as SecretCols[]).map(toSecret);
  }

  versionsPage(afterSecretId: number, afterVersion: number, limit: number): RawVersion[] {
    return (this.#copyStatements().versionsPage.all(afterSecretId, afterVersion, limit) as VersionCols[]).map(toVersion);
  }

  recordsPage(afterKind: string, afterId: string, limit: number): RawRecord[] {
    return (this.#copyStatements().recordsPage.all(afterKind, afterId, limit) as RecordCols[]).map(toRecord);
  }

  insertSecretRow(r: RawSecret): void {
    this.#copyStatements().insertSecretRow.run(r.id, r.name, r.currentVersion, r.maxVersions, r.custom, r.createdAt, r.updatedAt, buffer(r.mac));
  }

  secretIdHighWater(): number {
    return this.#copyStatements().secretIdHighWater.get() as number;
  }

  raiseSecretIdHighWater(id: number): void {
    const s = this.#copyStatements();
    s.raiseSequence.run(id, id);
    s.startSequence.run(id);
  }

  deleteAllRows(): void {
    for (const stmt of this.#copyStatements().deleteAll) stmt.run();
  }

  // ---- transactions ---------------------------------------------------
  // One connection, so one transaction at a time: a body awaits, and
  // whatever else this process asks of the store meanwhile waits its turn.

  /** Whether a transaction of this connection is open (its body may be awaiting). */
  #held = false;
  readonly #waiting: (() => void)[] = [];

  async #acquire(): Promise<void> {
    while (this.#held) await new Promise<void>((wake) => this.#waiting.push(wake));
    this.#held = true;
  }

  #release(): void {
    this.#held = false;
    this.#waiting.shift()?.();
  }

  /**
   * BEGIN, the body, COMMIT; all of it again (after a millisecond, without
   * blocking the event loop) while another connection holds the lock, up to
   * the busy timeout. SQLite's own busy handler sleeps ever longer (up to
   * 100 ms a time), so a writer waiting behind a run of short transactions,
   * such as rewrap batches, would keep waking up too late.
   */
  async #transaction<T>(begin: Statement, fn: (tx: RawOps) => Promise<T>, relaxed = false): Promise<T> {
    // Taken at once when free: a put waits for nothing, and an await costs it a turn of the event loop's queue.
    if (this.#held) await this.#acquire();
    else this.#held = true;
    try {
      // synchronous applies to the commits made while it is set; it cannot change inside a transaction.
      if (relaxed) this.#synchronous('NORMAL');
      const deadline = Date.now() + BUSY_TIMEOUT_MS;
      for (;;) {
        try {
          begin.run();
          this.#inSnapshot = begin === this.#beginDeferred;
          try {
            const result = await fn(this);
            this.#commit.run();
            return result;
          } finally {
            this.#inSnapshot = false;
            if (this.#db.inTransaction) this.#rollback.run();
          }
        } catch (e) {
          if (isBusy(e) && Date.now() < deadline) {
            await sleep(POLL_MS);
            continue;
          }
          if (e instanceof Database.SqliteError) translate(e, this.#path);
          throw e;
        }
      }
    } finally {
      if (relaxed) this.#synchronous('FULL');
      this.#release();
    }
  }

  /**
   * Set PRAGMA synchronous. SQLite sets it while it *prepares* the statement,
   * not when the statement runs, so a statement prepared once and run again
   * may set nothing (it did, until the first FULL that ran expired it: the
   * first relaxed commit of every connection, a CLI read's only one, waited
   * for the disk). exec prepares it anew each time.
   */
  #synchronous(level: 'NORMAL' | 'FULL'): void {
    this.#db.exec(`PRAGMA synchronous = ${level}`);
  }

  async write<T>(fn: (tx: RawOps) => Promise<T>, options: WriteOptions = {}): Promise<T> {
    if (this.#readOnly) throw changeRefused(this.#path, this.#readOnly.reason);
    return this.#transaction(this.#beginImmediate, fn, options.relaxed);
  }

  read<T>(fn: (tx: RawOps) => Promise<T>): Promise<T> {
    return this.#transaction(this.#beginDeferred, fn);
  }

  readOne<R>(fn: (ops: RawOps) => R): R | Promise<Awaited<R>> {
    return this.#held ? this.#queuedOne(fn) : fn(this);
  }

  async #queuedOne<R>(fn: (ops: RawOps) => R): Promise<Awaited<R>> {
    await this.#acquire();
    try {
      return await fn(this);
    } finally {
      this.#release();
    }
  }

  readonly file: FileCapabilities;

  /** The lock file beside the store (src/platform/lock.ts), shared with restore and migrations. */
  exclusive<T>(fn: (lock: HeldLock) => Promise<T>, options: ExclusiveOptions = {}): Promise<T> {
    return withExclusiveLock(this.#path, fn, { wait: options.wait });
  }
  /** Opening a store migrates it to the newest schema (or refuses a newer one). */
  readonly schemaVersion = SCHEMA_VERSION;

  #checkpoint(): boolean {
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

  #integrityProblems(): string[] {
    const rows = this.#db.pragma('integrity_check') as { integrity_check: string }[];
    const problems = rows.map((r) => r.integrity_check).filter((m) => m !== 'ok');
    const fk = this.#db.pragma('foreign_key_check') as unknown[];
    if (fk.length > 0) problems.push(`${fk.length} row(s) break a foreign key`);
    // What the versions' foreign key checked before schema 10, and the key each version row must sit under.
    const orphans = this.#db.prepare('SELECT count(*) FROM versions v WHERE NOT EXISTS (SELECT 1 FROM secrets s WHERE s.id = v.secret_id)').pluck().get() as number;
    if (orphans > 0) problems.push(`${orphans} version row(s) of no secret (a secret_id no secret has)`);
    const misplaced = this.#db.prepare(`SELECT count(*) FROM versions WHERE place IS NOT ${versionPlace('secret_id', 'version')}`).pluck().get() as number;
    if (misplaced > 0) problems.push(`${misplaced} version row(s) not under the key their secret id and number give`);
    return problems;
  }

  async close(): Promise<void> {
    await this.#acquire();
    try {
      this.#walIndex?.close();
      if (this.#db.open) this.#db.close();
    } finally {
      this.#release();
    }
  }

  scanVersions(afterSecretId: number, afterVersion: number, limit: number): (RawVersion & { name: string; secretUpdatedAt: number })[] {
    try {
      this.#scan ??= declaredAsWritten(this.#db.prepare(`SELECT v.secret_id, s.name, s.updated_at, v.version, v.created_at, v.deleted_at, v.destroyed_at,
        v.key_id, v.ciphertext, v.mac, v.json FROM versions v JOIN secrets s ON s.id = v.secret_id
        WHERE v.place > ${versionPlace('?', '?')} ORDER BY v.place LIMIT ?`), this.#path);
      const rows = this.#scan.all(afterSecretId, afterVersion, limit) as (VersionCols & { name: string; updated_at: number })[];
      return rows.map((r) => ({ ...toVersion(r), name: r.name, secretUpdatedAt: r.updated_at }));
    } catch (e) {
      return translate(e, this.#path);
    }
  }

  #scan: { all(...params: number[]): unknown[] } | undefined;
}


/**
 * The statements of a raw copy: every table a page at a time in key order,
 * a secret inserted with its own id, and the counter of secret ids
 * (SECRET_ID_HIGH), which remembers ids of purged secrets so they are never
 * handed out again. Purges raise it too (deleteSecret), so these are
 * prepared by the first purge of a connection as well.
 */
function prepareCopy(db: Database, path: string) {
  const p = (sql: string) => declaredAsWritten(db.prepare(sql), path);
  try {
    return {
      secretsPage: p(`SELECT ${SECRET_COLS} FROM secrets s ${WITH_HEAD} WHERE s.id > ? ORDER BY s.id LIMIT ?`),
      versionsPage: p(`SELECT ${VERSION_COLS} FROM versions WHERE place > ${versionPlace('?', '?')} ORDER BY place LIMIT ?`),
      recordsPage: p('SELECT kind, id, value, mac FROM records WHERE (kind, id) > (?, ?) ORDER BY kind, id LIMIT ?'),
      insertSecretRow: p(`INSERT INTO secrets (id, name, current_version, max_versions, custom, created_at, updated_at, mac)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      secretIdHighWater: p(`SELECT max(${SECRET_ID_HIGH}, coalesce((SELECT max(id) FROM secrets), 0)) AS high`).pluck(),
      raiseSequence: p("UPDATE sqlite_sequence SET seq = ? WHERE name = 'secrets' AND seq < ?"),
      startSequence: p("INSERT INTO sqlite_sequence (name, seq) SELECT 'secrets', ? WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'secrets')"),
      // Versions before their secrets (the order the foreign key of schemas up to 9 asked for; harmless since).
      deleteAll: ['versions', 'secrets', 'data_keys', 'meta', 'audit', 'state', 'records'].map((t) => p(`DELETE FROM ${t}`)),
    };
  } catch (e) {
    return translate(e, path);
  }
}

const LIST_SQL = `SELECT ${SECRET_COLS},
  (SELECT version FROM versions WHERE ${versionsOfSecret('s.id')} ORDER BY place LIMIT 1) AS oldest,
  (SELECT count(*) FROM versions WHERE ${versionsOfSecret('s.id')}) AS n
  FROM secrets s ${WITH_HEAD}`;
const LIST_TAIL = 'ORDER BY s.name LIMIT ?';
