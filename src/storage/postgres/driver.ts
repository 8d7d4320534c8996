/**
 * The PostgreSQL driver behind `Storage`: the SQLite driver's rows, bytes
 * and meaning (src/storage/sqlite/driver.ts) in a server many hosts share.
 * Every statement is fixed text with bound parameters, prepared once per
 * connection by name; every table is named with its schema.
 *
 * Concurrency, across hosts as within one process:
 * - One storage runs one transaction at a time (the contract's "one
 *   connection"), each BEGIN…COMMIT on one pooled connection, ROLLBACK on
 *   any failure: a write is all or nothing, never half applied.
 * - Every write transaction first takes the store's write lock, a
 *   transaction-scoped advisory lock the server frees at COMMIT, ROLLBACK or
 *   a lost connection, so writers from every host run one after another.
 *   A write changes the state row (the digest of every row and the audit
 *   chain's end) and usually numbers something from what it read (the next
 *   version, the next audit entry, a check-and-set), so writers must be
 *   serialised anyway; the lock says so once, for every write, without
 *   relying on which rows exist yet (the state row does not, at first), and
 *   nothing has to be retried. The transaction is READ COMMITTED so its
 *   statements, all after the lock, see every write committed before it; a
 *   REPEATABLE READ snapshot would be taken when the lock statement starts,
 *   before the wait, and miss the writer it waited for.
 * - A read transaction is one REPEATABLE READ snapshot, READ ONLY; it takes
 *   no lock and never waits for writers.
 * - The store's exclusive lock (key and master-key rotation) is a session
 *   advisory lock held on a connection of its own for as long as the work
 *   runs; the server frees it if that connection dies.
 */
import type pg from 'pg';
import { StoreError } from '../../errors.js';
import type { KeyStatus } from '../../crypto/keyset.js';
import type {
  AuditFilter, AuditHead, AuditRow, ExclusiveOptions, HeldLock, RawJoined, RawKey, RawListRow, RawMeta, RawOps, RawRecord, RawRewrap, RawSecret, RawStorage,
  RawVersion, StateRow, StoreCounts, VersionPlace, WriteOptions,
} from '../storage.js';
import { changeRefused, type ReadOnlyReason } from '../read-only.js';
import { commitUnknown, isConnectionLoss, postgresError } from './errors.js';
import { APPLICATION_ID, PG_SCHEMA, SCHEMA_VERSION } from './schema.js';
import { CHANGES_CHANNEL, ChangeListener, DIGEST_FINGERPRINT } from './changes.js';
import { headNonce, NONCE_FROM, NONCE_LENGTH, type Blob, type SecretCols, type VersionCols } from '../columns.js';
import { Learned, OneTripOps, oneTripStatement, type Initial, type Known } from './one-trip.js';

/** A writer waits this long for another host's write before E_LOCKED (as the SQLite driver's busy timeout). */
export const BUSY_TIMEOUT_MS = 10_000;
/** An exclusive operation asked to wait waits this long for the lock (as the lock file's wait). */
const EXCLUSIVE_WAIT_MS = 10 * 60_000;
/** The advisory lock keys (two int4s): the store's write lock and its exclusive lock, in the 'SBX1' class. */
export const WRITE_LOCK = [APPLICATION_ID, 1] as const;
export const EXCLUSIVE_LOCK = [APPLICATION_ID, 2] as const;
/** Secret ids a one-trip write takes from the sequence at a time (those never used are gaps, as a rolled-back insert leaves). */
const ID_BATCH = 32;
/** Rows per query when a whole table is walked (sealing, verification). */
const PAGE = 1000;

const S = PG_SCHEMA;
interface GetCols {
  id: number; current_version: number; max_versions: number; custom: string; created_at: number; updated_at: number;
  v_version: number | null; v_created_at: number; v_deleted_at: number | null; v_destroyed_at: number | null; v_key_id: number | null; v_ciphertext: Blob; v_json: unknown;
  mac: Blob;
  /** The current version's own MAC, read with the secret's (readCurrent only; checked for a secret row older than schema 9). */
  v_mac?: Blob;
}
interface RecordCols { kind: string; id: string; value: string; mac: Blob }

// A secret with its current version's state (h_*), which its MAC covers: always read together.
const SECRET_COLS = `s.id, s.name, s.current_version, s.max_versions, s.custom, s.created_at, s.updated_at, s.mac,
  h.version AS h_version, h.created_at AS h_created_at, h.deleted_at AS h_deleted_at, h.destroyed_at AS h_destroyed_at, h.json AS h_json,
  substring(h.ciphertext from ${NONCE_FROM + 1} for ${NONCE_LENGTH}) AS h_nonce`;
const WITH_HEAD = `LEFT JOIN ${S}.versions h ON h.secret_id = s.id AND h.version = s.current_version`;
const VERSION_COLS = 'secret_id, version, created_at, deleted_at, destroyed_at, key_id, ciphertext, mac, json';
const V_COLS = 'v.secret_id, v.version, v.created_at, v.deleted_at, v.destroyed_at, v.key_id, v.ciphertext, v.mac, v.json';
/** A version's secret (`s`), by one lookup of its id (SQL's comment says why); preceded by LEFT where a version may lack one. */
const NAME_OF_V = `JOIN LATERAL (SELECT name, updated_at FROM ${S}.secrets WHERE id = v.secret_id LIMIT 1) s ON true`;
// The get path's columns: the secret's, and the version's (absent when there is no such version).
const GET_COLS = `s.id, s.current_version, s.max_versions, s.custom, s.created_at, s.updated_at,
  v.version AS v_version, v.created_at AS v_created_at, v.deleted_at AS v_deleted_at, v.destroyed_at AS v_destroyed_at,
  v.key_id AS v_key_id, v.ciphertext AS v_ciphertext, v.json AS v_json`;
const LIST_COLS = `${SECRET_COLS},
  (SELECT min(version) FROM ${S}.versions WHERE secret_id = s.id) AS oldest,
  (SELECT count(*) FROM ${S}.versions WHERE secret_id = s.id) AS n`;

/** The secrets' id sequence (GENERATED BY DEFAULT AS IDENTITY): explicit ids, as a copy inserts, leave it where it was. */
const SECRET_ID_SEQ = `pg_get_serial_sequence('${S}.secrets', 'id')::regclass`;

/**
 * A raw copy's statements (src/storage/copy.ts): every table a page at a
 * time in key order, a secret with its own id, and the secrets' id sequence,
 * read only where the role may (as the pg_sequences view does) and raised,
 * never lowered, so an id is never handed out twice.
 */
const COPY_SQL = {
  secretsPage: `SELECT ${SECRET_COLS} FROM ${S}.secrets s ${WITH_HEAD} WHERE s.id > $1 ORDER BY s.id LIMIT $2`,
  versionsPage: `SELECT ${VERSION_COLS} FROM ${S}.versions WHERE (secret_id, version) > ($1, $2) ORDER BY secret_id, version LIMIT $3`,
  recordsPage: `SELECT kind, id, value, mac FROM ${S}.records WHERE (kind, id) > ($1, $2) ORDER BY kind, id LIMIT $3`,
  insertSecretRow: `INSERT INTO ${S}.secrets (id, name, current_version, max_versions, custom, created_at, updated_at, mac)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  secretIdHighWater: `SELECT greatest(coalesce((SELECT max(id) FROM ${S}.secrets), 0),
    coalesce(CASE WHEN has_sequence_privilege(q.seq, 'SELECT, USAGE') THEN pg_sequence_last_value(q.seq) END, 0)) AS high
    FROM (SELECT ${SECRET_ID_SEQ} AS seq) q`,
  // A role that may not read the sequence leaves it alone: setting it blind could lower it.
  raiseSecretIdHighWater: `SELECT setval(q.seq, $1::bigint) FROM (SELECT ${SECRET_ID_SEQ} AS seq) q
    WHERE CASE WHEN has_sequence_privilege(q.seq, 'SELECT, USAGE') THEN $1::bigint > coalesce(pg_sequence_last_value(q.seq), 0) ELSE false END`,
  deleteAllVersions: `DELETE FROM ${S}.versions`,
  deleteAllSecrets: `DELETE FROM ${S}.secrets`,
  deleteAllKeys: `DELETE FROM ${S}.data_keys`,
  deleteAllMeta: `DELETE FROM ${S}.meta`,
  deleteAllAudit: `DELETE FROM ${S}.audit`,
  deleteAllState: `DELETE FROM ${S}.state`,
  deleteAllRecords: `DELETE FROM ${S}.records`,
} as const;

/**
 * Every statement the driver runs, by name: prepared once per connection
 * under `sb_<name>`, but for PLANNED_EACH_TIME. A version's secret name is
 * looked up row by row (a LATERAL subquery with LIMIT 1, which the planner
 * cannot turn into a join): as a join, the generic plan of a prepared
 * statement merged the page of versions with the secrets' index read from
 * its start, so each page cost as much as all the secrets before it and a
 * walk of every version grew with the square of the store.
 * test/storage/postgres/plans.test.ts checks the plans on a large store.
 */
export const SQL = {
  getMeta: `SELECT value FROM ${S}.meta WHERE key = $1`,
  metaRow: `SELECT key, value, mac FROM ${S}.meta WHERE key = $1`,
  allMeta: `SELECT key, value, mac FROM ${S}.meta ORDER BY key`,
  putMeta: `INSERT INTO ${S}.meta (key, value, mac) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, mac = excluded.mac`,
  deleteMeta: `DELETE FROM ${S}.meta WHERE key = $1`,
  findSecret: `SELECT ${SECRET_COLS} FROM ${S}.secrets s ${WITH_HEAD} WHERE s.name = $1`,
  secretById: `SELECT ${SECRET_COLS} FROM ${S}.secrets s ${WITH_HEAD} WHERE s.id = $1`,
  insertSecret: `INSERT INTO ${S}.secrets (name, current_version, created_at, updated_at) VALUES ($1, 0, $2, $2)
    RETURNING id, name, current_version, max_versions, custom, created_at, updated_at, mac, NULL::bigint AS h_version`,
  updateSecret: `UPDATE ${S}.secrets SET current_version = $1, max_versions = $2, custom = $3, updated_at = $4, mac = $5 WHERE id = $6`,
  deleteVersionsOf: `DELETE FROM ${S}.versions WHERE secret_id = $1`,
  deleteSecret: `DELETE FROM ${S}.secrets WHERE id = $1`,
  readCurrent: `SELECT ${GET_COLS}, s.mac, v.mac AS v_mac FROM ${S}.secrets s
    LEFT JOIN ${S}.versions v ON v.secret_id = s.id AND v.version = s.current_version WHERE s.name = $1`,
  readVersion: `SELECT ${GET_COLS}, v.mac FROM ${S}.secrets s
    LEFT JOIN ${S}.versions v ON v.secret_id = s.id AND v.version = $1 WHERE s.name = $2`,
  readAt: `SELECT ${GET_COLS}, v.mac FROM ${S}.secrets s
    LEFT JOIN ${S}.versions v ON v.secret_id = s.id AND v.version = (
      SELECT max(version) FROM ${S}.versions WHERE secret_id = s.id AND created_at <= $1)
    WHERE s.name = $2`,
  listVersions: `SELECT ${VERSION_COLS} FROM ${S}.versions WHERE secret_id = $1 ORDER BY version`,
  insertVersion: `INSERT INTO ${S}.versions (${VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  updateVersion: `UPDATE ${S}.versions SET deleted_at = $1, destroyed_at = $2, key_id = $3, ciphertext = $4, mac = $5
    WHERE secret_id = $6 AND version = $7`,
  deleteVersions: `DELETE FROM ${S}.versions WHERE secret_id = $1 AND version = ANY($2::bigint[])`,
  listPrefix: `SELECT ${LIST_COLS} FROM ${S}.secrets s ${WITH_HEAD}
    WHERE s.name > $1 AND s.name >= $2 AND s.name < $3 ORDER BY s.name LIMIT $4`,
  countVersions: `SELECT (SELECT count(*) FROM ${S}.secrets) AS secrets, count(*) AS versions,
    count(*) FILTER (WHERE deleted_at IS NULL AND destroyed_at IS NULL) AS live,
    count(*) FILTER (WHERE deleted_at IS NOT NULL AND destroyed_at IS NULL) AS deleted,
    count(*) FILTER (WHERE destroyed_at IS NOT NULL) AS destroyed FROM ${S}.versions`,
  countByKey: `SELECT key_id, count(*) AS n FROM ${S}.versions WHERE key_id IS NOT NULL GROUP BY key_id ORDER BY key_id`,
  keys: `SELECT id, version, status, created_at, wrapped, mac FROM ${S}.data_keys ORDER BY version`,
  insertKey: `INSERT INTO ${S}.data_keys (id, version, status, created_at, wrapped, mac) VALUES ($1, $2, $3, $4, $5, $6)`,
  updateKey: `UPDATE ${S}.data_keys SET status = $1, wrapped = $2, mac = $3 WHERE id = $4`,
  primaryKeyId: `SELECT id FROM ${S}.data_keys WHERE status = 'primary'`,
  versionsUnderKey: `SELECT s.name, ${V_COLS} FROM ${S}.versions v ${NAME_OF_V}
    WHERE v.key_id = $1 AND (v.secret_id, v.version) > ($2, $3) ORDER BY v.secret_id, v.version LIMIT $4`,
  replaceCiphertext: `UPDATE ${S}.versions SET key_id = $1, ciphertext = $2, mac = $3
    WHERE secret_id = $4 AND version = $5 AND key_id = $6 AND mac = $7`,
  lastAudit: `SELECT seq, mac FROM ${S}.audit ORDER BY seq DESC LIMIT 1`,
  insertAudit: `INSERT INTO ${S}.audit (seq, at, actor, pid, action, name, versions, outcome, detail, mac)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  auditPage: `SELECT seq, at, actor, pid, action, name, versions, outcome, detail, mac FROM ${S}.audit
    WHERE seq > $1 AND ($2::text IS NULL OR name = $2) AND ($3::text IS NULL OR action = $3)
      AND ($4::bigint IS NULL OR at >= $4) AND ($5::bigint IS NULL OR at <= $5)
    ORDER BY seq LIMIT $6`,
  deleteAuditThrough: `DELETE FROM ${S}.audit WHERE seq <= $1`,
  state: `SELECT digest, audit_seq, audit_mac, mac FROM ${S}.state WHERE id = 1`,
  stateMac: `SELECT mac FROM ${S}.state WHERE id = 1`,
  // Every write saves the state row: its notification, delivered once the transaction commits, tells other hosts' read caches (changes.ts).
  putState: `WITH saved AS (INSERT INTO ${S}.state (id, digest, audit_seq, audit_mac, mac) VALUES (1, $1, $2, $3, $4)
    ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, audit_seq = excluded.audit_seq, audit_mac = excluded.audit_mac, mac = excluded.mac
    RETURNING digest)
    SELECT pg_notify('${CHANGES_CHANNEL}', ${DIGEST_FINGERPRINT}) FROM saved`,
  getRecord: `SELECT kind, id, value, mac FROM ${S}.records WHERE kind = $1 AND id = $2`,
  putRecord: `INSERT INTO ${S}.records (kind, id, value, mac) VALUES ($1, $2, $3, $4)
    ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, mac = excluded.mac`,
  deleteRecord: `DELETE FROM ${S}.records WHERE kind = $1 AND id = $2`,
  listRecords: `SELECT kind, id, value, mac FROM ${S}.records WHERE kind = $1 ORDER BY id`,
  // Whole-table walks, a page at a time after the last row seen.
  eachRecord: `SELECT kind, id, value, mac FROM ${S}.records WHERE (kind, id) > ($1, $2) ORDER BY kind, id LIMIT $3`,
  eachSecret: `SELECT ${SECRET_COLS} FROM ${S}.secrets s ${WITH_HEAD} WHERE s.id > $1 ORDER BY s.id LIMIT $2`,
  eachVersion: `SELECT s.name, ${V_COLS} FROM ${S}.versions v LEFT ${NAME_OF_V}
    WHERE (v.secret_id, v.version) > ($1, $2) ORDER BY v.secret_id, v.version LIMIT $3`,
  scanVersions: `SELECT s.name, s.updated_at AS secret_updated_at, ${V_COLS} FROM ${S}.versions v ${NAME_OF_V}
    WHERE (v.secret_id, v.version) > ($1, $2) ORDER BY v.secret_id, v.version LIMIT $3`,
  ...COPY_SQL,
  takeIds: `SELECT nextval(${SECRET_ID_SEQ}) AS id FROM generate_series(1, $1::int)`,
} as const;
type Statement = keyof typeof SQL;

/**
 * Planned with its values each time it runs, never prepared: which index
 * finds the versions under a data key depends on how many there are (all of
 * them as a rotation starts, a few at its end), which a generic plan cannot
 * know (it took the primary key and filtered by key, a scan of every version
 * for a rare one). Planning costs a fraction of a millisecond a page.
 */
const PLANNED_EACH_TIME = new Set<Statement>(['versionsUnderKey']);

/** The query for statement `name`: prepared by name, or, for PLANNED_EACH_TIME, unnamed. */
export function statement(name: Statement, values: unknown[]): pg.QueryConfig {
  return PLANNED_EACH_TIME.has(name) ? { text: SQL[name], values } : { name: `sb_${name}`, text: SQL[name], values };
}

/**
 * A version's stored `json` column (0 or 1) as the flag; any other stored
 * value handed over as it is, for the guard to refuse (as the SQLite driver does).
 */
function flag(v: unknown): boolean {
  return v === 1 ? true : v === 0 ? false : (v as boolean);
}

function toSecret(r: SecretCols): RawSecret {
  return {
    id: r.id, name: r.name, currentVersion: r.current_version, maxVersions: r.max_versions, custom: r.custom,
    createdAt: r.created_at, updatedAt: r.updated_at, mac: r.mac,
    head: r.h_version === null ? null : {
      createdAt: r.h_created_at, deletedAt: r.h_deleted_at, destroyedAt: r.h_destroyed_at, json: flag(r.h_json), nonce: r.h_nonce as Uint8Array | null,
    },
  };
}

function toVersion(r: VersionCols): RawVersion {
  return {
    secretId: r.secret_id, version: r.version, createdAt: r.created_at, deletedAt: r.deleted_at, destroyedAt: r.destroyed_at,
    keyId: r.key_id, ciphertext: r.ciphertext, mac: r.mac, json: flag(r.json),
  };
}

/** A get's row, as the SQLite driver's toFound: `current` reads carry the secret's MAC and the version's, others the version's. */
function toFound(name: string, r: GetCols | undefined, current: boolean): RawJoined | undefined {
  if (!r) return undefined;
  const hasVersion = r.v_version !== null;
  const json = flag(r.v_json);
  const secret: RawSecret = {
    id: r.id, name, currentVersion: r.current_version, maxVersions: r.max_versions, custom: r.custom, createdAt: r.created_at, updatedAt: r.updated_at,
    head: current && hasVersion
      ? { createdAt: r.v_created_at, deletedAt: r.v_deleted_at, destroyedAt: r.v_destroyed_at, json, nonce: headNonce(r.v_ciphertext) as Uint8Array | null }
      : null,
    mac: current ? r.mac : null,
  };
  if (!hasVersion) return { secret, version: undefined };
  const version: RawVersion = {
    secretId: r.id, version: r.v_version!, createdAt: r.v_created_at, deletedAt: r.v_deleted_at, destroyedAt: r.v_destroyed_at,
    keyId: r.v_key_id, ciphertext: r.v_ciphertext, json, mac: current ? r.v_mac ?? null : r.mac,
  };
  return { secret, version };
}

function toRecord(r: RecordCols): RawRecord {
  return { kind: r.kind, id: r.id, value: r.value, mac: r.mac };
}

/** Connections that reported an error (the server closed them, the network failed): never handed back to a pool. */
const broken = new WeakSet<pg.ClientBase>();

/**
 * Watch a new connection of a pool for errors. The pool listens to its idle
 * connections only; one handed out and failing between two statements would
 * otherwise raise an 'error' event nobody hears, which ends the process.
 */
export function watchConnection(client: pg.ClientBase): void {
  client.on('error', () => broken.add(client));
}

/** What runs a statement: a pooled connection inside a transaction, or the pool itself for a single read. */
interface Queryable {
  query(config: pg.QueryConfig): Promise<pg.QueryResult>;
}

/** What a write transaction reads first, fetched with its BEGIN once the write lock is held (see beginWrite). */
const PREFETCHED = ['primaryKeyId', 'stateMac', 'lastAudit'] as const satisfies readonly Statement[];
/** The writes that make a prefetched answer out of date within the transaction. */
const OUTDATES: Partial<Record<Statement, Statement>> = {
  insertKey: 'primaryKeyId', updateKey: 'primaryKeyId', putState: 'stateMac', insertAudit: 'lastAudit', deleteAuditThrough: 'lastAudit',
};

/** Writes after which what a one-trip write takes as known is not followed (one-trip.ts): keys, a cut of the audit log. */
const LOSES = new Set<Statement>(['insertKey', 'updateKey', 'deleteAuditThrough']);

/**
 * A write transaction's round trips saved (the pool's connections
 * pipeline: a statement goes out without waiting for the answers before it,
 * and the server runs them in order).
 * - BEGIN, which waits for the write lock, is sent without waiting: the
 *   body's first statement goes right behind it. Its answer is awaited
 *   before any answer of the body's is used; if it failed, that is the
 *   transaction's failure (and a connection found dead there was never
 *   used: the body may run again on another).
 * - The BEGIN also brings the first reads (PREFETCHED): under the write lock
 *   no other writer can change them, so each answers until this
 *   transaction writes what it read.
 * - A write whose answer nothing needs (every write but an insert that
 *   returns its row and the two that report whether a row was there) is
 *   sent without waiting; its failure is reported with the next answer
 *   awaited, or at COMMIT, which the server then turns into a rollback.
 */
class WriteTx {
  readonly #prefetched = new Map<Statement, pg.QueryResult>();
  /** Prefetched answers used or made out of date: never used (again), even when BEGIN answers after. */
  readonly #spent = new Set<Statement>();
  readonly #sent: Promise<void>[] = [];
  #begun: Promise<void> = Promise.resolve();
  #beginFailure: StoreError | undefined;
  #failure: StoreError | undefined;
  /** BEGIN was answered: the connection was alive and the transaction is open. */
  begunOk = false;
  /** The first reads' answers, as they were at BEGIN (for what a one-trip write may take as known after the commit). */
  initial: Initial | undefined;
  readonly learned = new Learned();

  constructor(readonly shown: string) {}

  begin(answer: Promise<unknown>): void {
    this.#begun = answer.then((results) => {
      const answers = results as pg.QueryResult[];
      const first = answers.slice(answers.length - PREFETCHED.length);
      PREFETCHED.forEach((name, i) => {
        if (!this.#spent.has(name)) this.#prefetched.set(name, first[i]!);
      });
      const [primary, stamp, last] = first.map((a) => a.rows[0] as Record<string, unknown> | undefined);
      this.initial = {
        primaryKeyId: (primary?.id as number | undefined) ?? null,
        stamp: stamp?.mac as Uint8Array | undefined,
        lastAudit: last ? { seq: last.seq as number, mac: last.mac as Uint8Array } : null,
      };
      this.begunOk = true;
    }, (e: unknown) => {
      this.#beginFailure = postgresError(e, this.shown);
    });
  }

  /** The BEGIN's answer to `name`, once (undefined: ask the database). @throws the BEGIN's failure */
  async prefetched(name: Statement): Promise<pg.QueryResult | undefined> {
    if (!(PREFETCHED as readonly Statement[]).includes(name) || this.#spent.has(name)) return undefined;
    await this.#begun;
    if (this.#beginFailure) throw this.#beginFailure;
    this.#spent.add(name);
    const answer = this.#prefetched.get(name);
    this.#prefetched.delete(name);
    return answer;
  }

  /** `write` makes the prefetched answer it changes out of date. */
  wrote(write: Statement): void {
    const outdated = OUTDATES[write];
    if (outdated === undefined) return;
    this.#spent.add(outdated);
    this.#prefetched.delete(outdated);
  }

  send(answer: Promise<unknown>): void {
    this.#sent.push(answer.then(() => {}, (e: unknown) => {
      this.#failure ??= postgresError(e, this.shown);
    }));
  }

  /** Once BEGIN and every write sent have their answers: the first failure, if there was one. */
  async failure(): Promise<StoreError | undefined> {
    await this.#begun;
    if (this.#sent.length > 0) await Promise.all(this.#sent.splice(0));
    return this.#beginFailure ?? this.#failure;
  }
}

/** The row operations over one connection (or the pool): each a prepared statement, each failure a StoreError. */
class PostgresOps implements RawOps {
  /** `tx`: in a write transaction, its prefetched answers and the writes sent without waiting. */
  constructor(readonly db: Queryable, readonly shown: string, readonly tx?: WriteTx) {}

  async #result(name: Statement, values: unknown[]): Promise<pg.QueryResult> {
    const tx = this.tx;
    if (tx === undefined) {
      try {
        return await this.db.query(statement(name, values));
      } catch (e) {
        throw postgresError(e, this.shown);
      }
    }
    const early = await tx.prefetched(name);
    if (early !== undefined) return early;
    let answer: pg.QueryResult | undefined;
    let error: unknown;
    try {
      answer = await this.db.query(statement(name, values));
    } catch (e) {
      error = e;
    }
    // BEGIN or a write sent before this failed: that is the failure to report (this one may only say the transaction was aborted).
    const failed = await tx.failure();
    if (failed) throw failed;
    if (answer === undefined) throw postgresError(error, this.shown);
    return answer;
  }

  /** A write whose answer is not needed: in a write transaction, sent without waiting for it. */
  async #write(name: Statement, values: unknown[]): Promise<void> {
    const tx = this.tx;
    if (tx === undefined) {
      await this.#run(name, values);
      return;
    }
    tx.wrote(name);
    if (LOSES.has(name)) tx.learned.lose();
    else tx.learned.other();
    tx.send(this.db.query(statement(name, values)));
  }

  async #rows<R>(name: Statement, values: unknown[] = []): Promise<R[]> {
    return (await this.#result(name, values)).rows as R[];
  }

  async #one<R>(name: Statement, values: unknown[] = []): Promise<R | undefined> {
    return (await this.#rows<R>(name, values))[0];
  }

  async #run(name: Statement, values: unknown[]): Promise<number> {
    return (await this.#result(name, values)).rowCount ?? 0;
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.#one<{ value: string }>('getMeta', [key]))?.value;
  }

  async metaRow(key: string): Promise<RawMeta | undefined> {
    return this.#one<RawMeta>('metaRow', [key]);
  }

  allMeta(): Promise<RawMeta[]> {
    return this.#rows<RawMeta>('allMeta');
  }

  async putMeta(row: RawMeta): Promise<void> {
    await this.#write('putMeta', [row.key, row.value, row.mac]);
  }

  async deleteMeta(key: string): Promise<void> {
    await this.#write('deleteMeta', [key]);
  }

  async findSecret(name: string): Promise<RawSecret | undefined> {
    const r = await this.#one<SecretCols>('findSecret', [name]);
    const row = r && toSecret(r);
    this.tx?.learned.found(row);
    return row;
  }

  async secretById(id: number): Promise<RawSecret | undefined> {
    const r = await this.#one<SecretCols>('secretById', [id]);
    return r && toSecret(r);
  }

  async insertSecret(name: string, now: number): Promise<RawSecret> {
    this.tx?.learned.inserted(name);
    return toSecret((await this.#one<SecretCols>('insertSecret', [name, now]))!);
  }

  async updateSecret(row: RawSecret): Promise<void> {
    this.tx?.learned.wroteSecret(row);
    await this.#write('updateSecret', [row.currentVersion, row.maxVersions, row.custom, row.updatedAt, row.mac, row.id]);
  }

  async deleteSecret(id: number): Promise<void> {
    this.tx?.learned.deletedSecret(id);
    await this.#write('deleteVersionsOf', [id]);
    await this.#write('deleteSecret', [id]);
  }

  async readVersion(name: string, version?: number): Promise<RawJoined | undefined> {
    const r = version === undefined
      ? await this.#one<GetCols>('readCurrent', [name])
      : await this.#one<GetCols>('readVersion', [version, name]);
    return toFound(name, r, version === undefined);
  }

  async readVersionAt(name: string, at: number): Promise<RawJoined | undefined> {
    return toFound(name, await this.#one<GetCols>('readAt', [at, name]), false);
  }

  async listVersions(secretId: number): Promise<RawVersion[]> {
    return (await this.#rows<VersionCols>('listVersions', [secretId])).map(toVersion);
  }

  async insertVersion(r: RawVersion): Promise<void> {
    await this.#write('insertVersion', [r.secretId, r.version, r.createdAt, r.deletedAt, r.destroyedAt, r.keyId, r.ciphertext, r.mac, r.json ? 1 : 0]);
  }

  async updateVersion(r: RawVersion): Promise<void> {
    await this.#write('updateVersion', [r.deletedAt, r.destroyedAt, r.keyId, r.ciphertext, r.mac, r.secretId, r.version]);
  }

  async deleteVersions(secretId: number, versions: number[]): Promise<void> {
    if (versions.length > 0) await this.#write('deleteVersions', [secretId, versions.map((v) => Math.trunc(v))]);
  }

  async listSecrets(prefix: string, after: string, limit: number): Promise<RawListRow[]> {
    // Names are ASCII below 0x7f and the column orders bytes (COLLATE "C"), so [prefix, prefix + DEL) is exactly the names under prefix.
    const rows = await this.#rows<SecretCols & { oldest: number | null; n: number }>('listPrefix', [after, prefix, `${prefix}\u007f`, limit]);
    return rows.map((r) => ({ secret: toSecret(r), oldestVersion: r.oldest ?? 0, versionCount: r.n }));
  }

  async counts(): Promise<StoreCounts> {
    const v = (await this.#one<{ secrets: number; versions: number; live: number; deleted: number; destroyed: number }>('countVersions'))!;
    const byKey = new Map<number, number>();
    for (const r of await this.#rows<{ key_id: number; n: number }>('countByKey')) byKey.set(r.key_id, r.n);
    return { secrets: v.secrets, versions: v.versions, liveVersions: v.live, deletedVersions: v.deleted, destroyedVersions: v.destroyed, byKey };
  }

  async keys(): Promise<RawKey[]> {
    const rows = await this.#rows<{ id: number; version: number; status: KeyStatus; created_at: number; wrapped: Blob; mac: Blob }>('keys');
    return rows.map((r) => ({ id: r.id, version: r.version, status: r.status, createdAt: r.created_at, wrapped: r.wrapped, mac: r.mac }));
  }

  async insertKey(r: RawKey): Promise<void> {
    await this.#write('insertKey', [r.id, r.version, r.status, r.createdAt, r.wrapped, r.mac]);
  }

  async updateKey(r: RawKey): Promise<void> {
    await this.#write('updateKey', [r.status, r.wrapped, r.mac, r.id]);
  }

  async primaryKeyId(): Promise<number | undefined> {
    return (await this.#one<{ id: number }>('primaryKeyId'))?.id;
  }

  async versionsUnderKey(keyId: number, limit: number, after: VersionPlace = { secretId: 0, version: 0 }): Promise<RawRewrap[]> {
    const rows = await this.#rows<VersionCols & { name: string }>('versionsUnderKey', [keyId, after.secretId, after.version, limit]);
    return rows.map((r) => ({ name: r.name, row: toVersion(r) }));
  }

  async replaceCiphertext(r: RawVersion, from: { keyId: number; mac: Uint8Array }): Promise<boolean> {
    this.tx?.learned.other();
    return (await this.#run('replaceCiphertext', [r.keyId, r.ciphertext, r.mac, r.secretId, r.version, from.keyId, from.mac])) === 1;
  }

  async lastAudit(): Promise<AuditHead | undefined> {
    const r = await this.#one<{ seq: number; mac: Buffer }>('lastAudit');
    return r && { seq: r.seq, mac: r.mac };
  }

  async insertAudit(r: AuditRow): Promise<void> {
    this.tx?.learned.audit(r);
    await this.#write('insertAudit', [r.seq, r.at, r.actor, r.pid, r.action, r.name, r.versions, r.outcome, r.detail, r.mac]);
  }

  auditPage(afterSeq: number, limit: number, filter: AuditFilter = {}): Promise<AuditRow[]> {
    return this.#rows<AuditRow>('auditPage', [afterSeq, filter.name ?? null, filter.action ?? null, filter.since ?? null, filter.until ?? null, limit]);
  }

  async deleteAuditThrough(seq: number): Promise<void> {
    await this.#write('deleteAuditThrough', [seq]);
  }

  async state(): Promise<StateRow | undefined> {
    const r = await this.#one<{ digest: Buffer; audit_seq: number; audit_mac: Buffer; mac: Buffer }>('state');
    return r && { digest: r.digest, auditSeq: r.audit_seq, auditMac: r.audit_mac, mac: r.mac };
  }

  async stateMac(): Promise<Uint8Array | undefined> {
    return (await this.#one<{ mac: Buffer }>('stateMac'))?.mac;
  }

  async putState(row: StateRow): Promise<void> {
    this.tx?.learned.state(row);
    await this.#write('putState', [row.digest, row.auditSeq, row.auditMac, row.mac]);
  }

  async getRecord(kind: string, id: string): Promise<RawRecord | undefined> {
    const r = await this.#one<RecordCols>('getRecord', [kind, id]);
    return r && toRecord(r);
  }

  async putRecord(r: RawRecord): Promise<void> {
    await this.#write('putRecord', [r.kind, r.id, r.value, r.mac]);
  }

  async deleteRecord(kind: string, id: string): Promise<boolean> {
    this.tx?.learned.other();
    return (await this.#run('deleteRecord', [kind, id])) === 1;
  }

  async listRecords(kind: string): Promise<RawRecord[]> {
    return (await this.#rows<RecordCols>('listRecords', [kind])).map(toRecord);
  }

  async eachRecord(fn: (row: RawRecord) => void): Promise<void> {
    let after = ['', ''];
    for (;;) {
      const rows = await this.#rows<RecordCols>('eachRecord', [...after, PAGE]);
      for (const r of rows) fn(toRecord(r));
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      after = [last.kind, last.id];
    }
  }

  async eachSecret(fn: (row: RawSecret) => void): Promise<void> {
    let after = 0;
    for (;;) {
      const rows = await this.#rows<SecretCols>('eachSecret', [after, PAGE]);
      for (const r of rows) fn(toSecret(r));
      if (rows.length < PAGE) return;
      after = rows[rows.length - 1]!.id;
    }
  }

  async eachVersion(fn: (row: RawVersion, name: string) => void): Promise<void> {
    let after = [0, 0];
    for (;;) {
      const rows = await this.#rows<VersionCols & { name: string | null }>('eachVersion', [...after, PAGE]);
      for (const r of rows) fn(toVersion(r), r.name ?? `secret id ${r.secret_id}`);
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      after = [last.secret_id, last.version];
    }
  }

  async scanVersions(afterSecretId: number, afterVersion: number, limit: number): Promise<(RawVersion & { name: string; secretUpdatedAt: number })[]> {
    const rows = await this.#rows<VersionCols & { name: string; secret_updated_at: number }>('scanVersions', [afterSecretId, afterVersion, limit]);
    return rows.map((r) => ({ ...toVersion(r), name: r.name, secretUpdatedAt: r.secret_updated_at }));
  }

  // ---- a whole store's rows, for copying it to another storage (src/storage/copy.ts) ----

  async secretsPage(afterId: number, limit: number): Promise<RawSecret[]> {
    return (await this.#rows<SecretCols>('secretsPage', [afterId, limit])).map(toSecret);
  }

  async versionsPage(afterSecretId: number, afterVersion: number, limit: number): Promise<RawVersion[]> {
    return (await this.#rows<VersionCols>('versionsPage', [afterSecretId, afterVersion, limit])).map(toVersion);
  }

  async recordsPage(afterKind: string, afterId: string, limit: number): Promise<RawRecord[]> {
    return (await this.#rows<RecordCols>('recordsPage', [afterKind, afterId, limit])).map(toRecord);
  }

  async insertSecretRow(r: RawSecret): Promise<void> {
    this.tx?.learned.lose();
    await this.#run('insertSecretRow', [r.id, r.name, r.currentVersion, r.maxVersions, r.custom, r.createdAt, r.updatedAt, r.mac]);
  }

  async secretIdHighWater(): Promise<number> {
    return (await this.#one<{ high: number }>('secretIdHighWater'))!.high;
  }

  async raiseSecretIdHighWater(id: number): Promise<void> {
    this.tx?.learned.lose();
    await this.#run('raiseSecretIdHighWater', [id]);
  }

  async deleteAllRows(): Promise<void> {
    this.tx?.learned.lose();
    // Versions before their secrets (the foreign key); every other table stands alone.
    for (const table of ['Versions', 'Secrets', 'Keys', 'Meta', 'Audit', 'State', 'Records'] as const) await this.#run(`deleteAll${table}`, []);
  }
}

/** The server process of a connection (node-postgres keeps it; its types do not say so). */
function serverPid(client: pg.ClientBase): number {
  return (client as unknown as { processID: number | null }).processID ?? -1;
}

/**
 * `fn`'s statements written to the socket at once. A pipelining client
 * sends each statement as it is made, one system call each (BEGIN, a
 * statement, COMMIT: three); with the stream corked around them they go
 * in one. node-postgres keeps its socket as `connection.stream`.
 */
function corked<T>(client: pg.ClientBase, fn: () => T): T {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return fn();
  stream.cork();
  try {
    return fn();
  } finally {
    stream.uncork();
  }
}

const BEGIN_READ = 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY';
/**
 * One round trip: the transaction, a bounded wait for the write lock, the
 * lock, and then what nearly every write reads first (PREFETCHED, the last
 * answers), each statement after the lock seeing every write before it.
 */
function beginWrite(relaxed: boolean): string {
  return [
    'BEGIN ISOLATION LEVEL READ COMMITTED',
    // An audit entry of reads need not survive a crash of the server (SQLite: synchronous NORMAL).
    ...(relaxed ? ['SET LOCAL synchronous_commit = off'] : []),
    `SET LOCAL lock_timeout = '${BUSY_TIMEOUT_MS}ms'`,
    `SELECT pg_advisory_xact_lock(${WRITE_LOCK[0]}, ${WRITE_LOCK[1]})`,
    ...PREFETCHED.map((name) => SQL[name]),
  ].join('; ');
}

export class PostgresStorage implements RawStorage {
  readonly #pool: pg.Pool;
  readonly #shown: string;
  /** The operations single reads run through: the pool, any idle connection. One object, so the guard keeps its view of it. */
  readonly #direct: PostgresOps;
  #closed = false;

  /**
   * A pool to the database of a store whose schema is in place
   * (src/storage/postgres/open.ts); `shown`: its URL without a password;
   * `listener`: a new client for the read cache's change detector (none: no
   * changeCounter, and a cache lives by its TTL).
   */
  constructor(pool: pg.Pool, shown: string, listener?: () => pg.Client, readOnly?: ReadOnlyReason) {
    this.#pool = pool;
    this.#shown = shown;
    this.#readOnly = readOnly;
    this.#direct = new PostgresOps(pool, shown);
    if (listener) {
      pool.on('remove', (client) => this.#writers.delete(serverPid(client)));
      this.changeCounter = () => {
        if (this.#closed) return undefined;
        this.#changes ??= new ChangeListener(listener, (pid) => this.#writers.has(pid));
        return this.#changes.counter();
      };
    }
  }

  /** RawStorage.changeCounter: a notification from another connection's write (changes.ts), started at the first call. */
  readonly changeCounter?: () => number | undefined;
  #changes: ChangeListener | undefined;
  /** Server process ids of this pool's connections that ran a write: their notifications are this storage's own. */
  readonly #writers = new Set<number>();

  /** The store's URL without its password, for messages. */
  get path(): string {
    return this.#shown;
  }

  readonly #readOnly: ReadOnlyReason | undefined;

  /** Why this storage may not write (asked, a role without write grants, a server taking no writes); undefined when it may. */
  get readOnly(): ReadOnlyReason | undefined {
    return this.#readOnly;
  }

  /** Nothing to take again: every statement sees the server's current state. */
  refresh(): void {}

  /** Opening a store migrates it to the newest schema (or refuses a newer one). */
  readonly schemaVersion = SCHEMA_VERSION;

  #open(): void {
    if (this.#closed) throw new StoreError('E_CLOSED', `${this.#shown}: the store is closed`);
  }

  /** A connection of the pool's for this storage's own use. @throws E_LOCKED (server unreachable), E_IO */
  async #connect(): Promise<pg.PoolClient> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (e) {
      throw postgresError(e, this.#shown);
    }
    return client;
  }

  /** Back to the pool, or closed when it failed (the pool then makes a new one). */
  #give(client: pg.PoolClient, failed: boolean): void {
    client.release(failed || broken.has(client));
  }

  // ---- one transaction at a time, as one connection runs them -----------

  #held = false;
  readonly #waiting: (() => void)[] = [];

  async #acquire(): Promise<void> {
    while (this.#held) await new Promise<void>((wake) => this.#waiting.push(wake));
    this.#held = true;
    if (this.#closed) {
      this.#release(); // closed while this one waited its turn
      this.#open();
    }
  }

  #release(): void {
    this.#held = false;
    this.#waiting.shift()?.();
  }

  /**
   * BEGIN, the body, COMMIT on one connection; ROLLBACK when anything fails.
   * A connection found dead at BEGIN (the server restarted since it was
   * pooled) is replaced once; a read is also run again once on a new
   * connection when its connection is lost, reads being harmless to repeat.
   * A write's body is never run twice: a write whose connection is lost
   * fails with E_LOCKED, rolled back by the server, or, lost during COMMIT,
   * with a message that the change may or may not have been made.
   */
  async #transaction<T>(begin: string, fn: (tx: RawOps) => Promise<T>, write: boolean): Promise<T> {
    this.#open();
    await this.#acquire();
    try {
      return await this.#transactionHeld(begin, fn, write);
    } finally {
      this.#release();
    }
  }

  /** #transaction, its turn taken. */
  async #transactionHeld<T>(begin: string, fn: (tx: RawOps) => Promise<T>, write: boolean): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.#connect();
      let failed = false;
      let inBody = false;
      const tx = write ? new WriteTx(this.#shown) : undefined;
      try {
        if (write) this.#writers.add(serverPid(client));
        if (tx) {
          tx.begin(client.query(begin)); // answered before any answer of the body's is used
        } else {
          try {
            await client.query(begin);
          } catch (e) {
            await client.query('ROLLBACK').catch(() => { failed = true; });
            throw postgresError(e, this.#shown);
          }
        }
        inBody = true;
        let result: T;
        try {
          result = await fn(new PostgresOps(client, this.#shown, tx));
        } catch (e) {
          await tx?.failure();
          // A failed multi-statement BEGIN (the write lock's wait ran out) left an aborted transaction open; a lost connection has rolled back.
          await client.query('ROLLBACK').catch(() => { failed = true; });
          throw e;
        }
        // COMMIT goes out behind the writes still on their way; if one of them failed, the server rolls back instead.
        const committed = client.query('COMMIT');
        const writeFailed = await tx?.failure();
        if (tx && !tx.begunOk) {
          await committed.catch(() => { failed = true; });
          throw writeFailed; // BEGIN failed: nothing of this transaction was done
        }
        try {
          await committed;
        } catch (e) {
          failed = true; // the server ended the transaction either way
          const error = postgresError(e, this.#shown);
          throw write && isConnectionLoss(error) ? commitUnknown(this.#shown) : error;
        }
        if (writeFailed) throw writeFailed;
        if (tx) this.#known = tx.learned.after(this.#known, tx.initial);
        return result;
      } catch (e) {
        if (write) this.#known = undefined;
        if (isConnectionLoss(e)) failed = true;
        // Nothing ran yet (the connection was dead at BEGIN), or only reads: on a new connection once more.
        if (attempt === 1 && isConnectionLoss(e) && (!inBody || !write || !tx?.begunOk)) continue;
        throw e;
      } finally {
        this.#give(client, failed);
      }
    }
  }

  async write<T>(fn: (tx: RawOps) => Promise<T>, options: WriteOptions = {}): Promise<T> {
    // Refused before the server is asked, as the SQLite driver refuses; the server would refuse it too (read-only sessions, or grants).
    if (this.#readOnly) throw changeRefused(this.#shown, this.#readOnly);
    this.#open();
    await this.#acquire();
    try {
      // A write whose commit may wait (relaxed: an audit entry of reads) gains nothing from one trip.
      if (!options.relaxed) {
        const done = await this.#oneTrip(fn);
        if (done) return done.value;
      }
      return await this.#transactionHeld(beginWrite(options.relaxed ?? false), fn, true);
    } finally {
      this.#release();
    }
  }

  // ---- a write in one round trip (one-trip.ts) ---------------------------

  /** What this storage knows of the store as of its last commit; undefined after anything it could not follow. */
  #known: Known | undefined;
  /** One-trip writes that did not write, one after another (another host writing meanwhile); as many are then not tried. */
  #misses = 0;
  #skip = 0;
  /**
   * This storage writes new secrets: keep ids at hand (set when one was
   * needed and none was; cleared for good when the role may not take ids
   * from the sequence itself, and then new secrets go the ordinary way).
   */
  #wantIds = false;
  #idsRefused = false;
  /** Writes done in one trip, and ones tried that went the ordinary way after all (for tests and the bench). */
  readonly oneTrips = { written: 0, missed: 0 };

  /**
   * `fn` as one statement, when everything it reads is known and the
   * database is still as known; undefined when it was not written (then it
   * runs again by the ordinary path). A statement that may have been
   * written but whose answer was lost is the ordinary commit's "may or may
   * not" error, never run again.
   */
  async #oneTrip<T>(fn: (tx: RawOps) => Promise<T>): Promise<{ value: T } | undefined> {
    if (this.#skip > 0) {
      this.#skip--;
      return undefined;
    }
    const known = this.#known;
    if (!known) return undefined;
    if (this.#wantIds && known.ids.length === 0) await this.#takeIds(known);
    const ops = new OneTripOps(known);
    let value: T;
    try {
      value = await fn(ops);
    } catch {
      // Whatever it was (a read not known, a check failed on a row taken as known), the ordinary path finds out for itself.
      if (ops.wantedId && !this.#idsRefused) this.#wantIds = true;
      return undefined;
    }
    if (!ops.complete()) return undefined;
    const { name, text, values } = oneTripStatement(ops, WRITE_LOCK);
    let client: pg.PoolClient;
    try {
      client = await this.#connect();
    } catch {
      return undefined; // the ordinary path says why, or gets a connection after all
    }
    // A connection already known dead is not sent anything: the ordinary path takes a new one.
    if (broken.has(client)) {
      this.#give(client, true);
      return undefined;
    }
    let failed = false;
    try {
      this.#writers.add(serverPid(client));
      this.#known = undefined; // whatever comes back, known anew only from what it says (below, or the ordinary path)
      // BEGIN, the statement and COMMIT go out together, in one write to the socket.
      const [begun, written, committed] = corked(client, () => [
        client.query('BEGIN').then(() => undefined, (e: unknown) => e),
        client.query({ name: name.length <= 63 ? name : undefined, text, values }).then((r) => r.rows.length, (e: unknown) => e as Error),
        client.query('COMMIT').then(() => undefined, (e: unknown) => e),
      ] as const);
      const beginError = await begun;
      const rows = await written;
      const commitError = await committed;
      if (beginError !== undefined) {
        failed = true;
        const error = postgresError(beginError, this.#shown);
        // A connection lost once all three were sent may have lost only the answers: the server may have run
        // and committed all of it. Running the write again would write it twice, so it is the commit's "may
        // or may not" error, as when COMMIT's own answer is lost.
        throw isConnectionLoss(error) ? commitUnknown(this.#shown) : error;
      }
      if (typeof rows !== 'number') {
        const error = postgresError(rows, this.#shown);
        if (isConnectionLoss(error)) {
          failed = true;
          throw commitUnknown(this.#shown); // COMMIT went behind it: it may have been written
        }
        return this.#missed(); // refused (a name that exists after all, say): the COMMIT rolled it back
      }
      if (commitError !== undefined) {
        failed = true;
        const error = postgresError(commitError, this.#shown);
        throw isConnectionLoss(error) ? commitUnknown(this.#shown) : error;
      }
      if (rows !== 1) return this.#missed();
      this.#known = ops.next();
      this.#misses = 0;
      this.oneTrips.written++;
      return { value };
    } finally {
      this.#give(client, failed);
    }
  }

  /** The database was not as known: forget it, and after misses in a row try less often (1, 2, 4 … 32 writes skipped). */
  #missed(): undefined {
    this.#known = undefined;
    this.oneTrips.missed++;
    this.#skip = Math.min(2 ** this.#misses, 64) - 1;
    this.#misses++;
    return undefined;
  }

  /** Ids for new secrets, from the sequence the ordinary insert takes them from (a role without USAGE on it: never). */
  async #takeIds(known: Known): Promise<void> {
    try {
      const r = await this.#pool.query({ name: 'sb_takeIds', text: SQL.takeIds, values: [ID_BATCH] });
      for (const row of (r.rows as { id: number }[]).reverse()) known.ids.push(row.id);
    } catch {
      this.#wantIds = false;
      this.#idsRefused = true;
    }
  }

  read<T>(fn: (tx: RawOps) => Promise<T>): Promise<T> {
    return this.#transaction(BEGIN_READ, fn, false);
  }

  readOne<R>(fn: (ops: RawOps) => R): Promise<Awaited<R>> {
    if (this.#closed) return Promise.reject(new StoreError('E_CLOSED', `${this.#shown}: the store is closed`));
    return this.#held ? this.#queuedOne(fn) : this.#single(fn);
  }

  async #queuedOne<R>(fn: (ops: RawOps) => R): Promise<Awaited<R>> {
    await this.#acquire();
    try {
      return await this.#single(fn);
    } finally {
      this.#release();
    }
  }

  /** One statement on any connection of the pool; once more on another when the first was found dead. */
  async #single<R>(fn: (ops: RawOps) => R): Promise<Awaited<R>> {
    try {
      return await fn(this.#direct);
    } catch (e) {
      if (!isConnectionLoss(e)) throw e;
      return await fn(this.#direct);
    }
  }

  scanVersions(afterSecretId: number, afterVersion: number, limit: number): Promise<(RawVersion & { name: string; secretUpdatedAt: number })[]> {
    return this.readOne(async () => this.#direct.scanVersions(afterSecretId, afterVersion, limit));
  }

  /**
   * A read transaction (REPEATABLE READ, READ ONLY) on a pooled connection
   * of its own, outside the one-at-a-time queue: a backup's copy of every
   * row, which may take minutes, while the process goes on using the store.
   * Not run again when its connection is lost: a copy fails (E_LOCKED) and
   * is started again by whoever asked for it.
   */
  async readBeside<T>(fn: (tx: RawOps) => Promise<T>): Promise<T> {
    this.#open();
    const client = await this.#connect();
    let failed = false;
    try {
      try {
        await client.query(BEGIN_READ);
      } catch (e) {
        failed = true;
        throw postgresError(e, this.#shown);
      }
      let result: T;
      try {
        result = await fn(new PostgresOps(client, this.#shown));
      } catch (e) {
        await client.query('ROLLBACK').catch(() => { failed = true; });
        throw e;
      }
      try {
        await client.query('COMMIT');
      } catch (e) {
        failed = true;
        throw postgresError(e, this.#shown);
      }
      return result;
    } catch (e) {
      if (isConnectionLoss(e)) failed = true;
      throw e;
    } finally {
      this.#give(client, failed);
    }
  }

  /**
   * The store's exclusive lock: a session advisory lock on a connection
   * held for the whole of `fn`. Every host sharing the database sees it;
   * the server frees it when that connection ends, so a killed process
   * never leaves it behind. `check()` fails once the connection is lost.
   */
  async exclusive<T>(fn: (lock: HeldLock) => Promise<T>, options: ExclusiveOptions = {}): Promise<T> {
    this.#open();
    const client = await this.#connect();
    let lost = false;
    const onLost = () => { lost = true; };
    client.on('error', onLost);
    client.on('end', onLost);
    let failed = false;
    try {
      await this.#takeExclusive(client, options.wait ?? false);
    } catch (e) {
      client.off('error', onLost);
      client.off('end', onLost);
      this.#give(client, true);
      throw e;
    }
    try {
      return await fn({
        check: () => {
          if (lost) {
            throw new StoreError('E_LOCKED', `${this.#shown}: the connection holding the store's exclusive lock was lost, and the lock with it`, [
              'run the operation again (a key rotation resumes where it stopped: store rotate-keys --resume)',
            ]);
          }
        },
      });
    } finally {
      try {
        if (!lost) await client.query(`SELECT pg_advisory_unlock(${EXCLUSIVE_LOCK[0]}, ${EXCLUSIVE_LOCK[1]})`);
      } catch {
        failed = true; // closing the connection frees the lock
      }
      client.off('error', onLost);
      client.off('end', onLost);
      this.#give(client, failed || lost);
    }
  }

  async #takeExclusive(client: pg.PoolClient, wait: boolean): Promise<void> {
    const key = `${EXCLUSIVE_LOCK[0]}, ${EXCLUSIVE_LOCK[1]}`;
    let taken: boolean;
    try {
      if (wait) {
        // The wait is bounded by lock_timeout; the connection is closed after, so the setting goes with it if the wait fails.
        await client.query(`SET lock_timeout = '${EXCLUSIVE_WAIT_MS}ms'; SELECT pg_advisory_lock(${key}); RESET lock_timeout`);
        taken = true;
      } else {
        taken = ((await client.query(`SELECT pg_try_advisory_lock(${key}) AS taken`)).rows[0] as { taken: boolean }).taken;
      }
    } catch (e) {
      const error = postgresError(e, this.#shown);
      if ((e as { code?: unknown }).code === '55P03') throw await this.#exclusiveRefused(client);
      throw error;
    }
    if (!taken) throw await this.#exclusiveRefused(client);
  }

  /** E_LOCKED, naming the holder as the server knows it (its application name says host and pid) when it can be seen. */
  async #exclusiveRefused(client: pg.PoolClient): Promise<StoreError> {
    let holder = '';
    try {
      const rows = (await client.query(`SELECT a.application_name AS app, a.client_addr::text AS addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid = ${EXCLUSIVE_LOCK[0]} AND l.objid = ${EXCLUSIVE_LOCK[1]} AND l.objsubid = 2`)).rows as { app: string | null; addr: string | null }[];
      const r = rows[0];
      if (r && (r.app || r.addr)) holder = ` (held by ${[r.app, r.addr && `from ${r.addr}`].filter(Boolean).join(' ')})`;
    } catch {
      // who holds it is a courtesy; the refusal stands without it
    }
    return new StoreError('E_LOCKED', `${this.#shown}: another process holds the store's exclusive lock${holder}`, ['try again when it has finished']);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#acquire().catch(() => {}); // another close() got there first
    if (this.#closed) return;
    try {
      this.#closed = true;
      await this.#changes?.close();
      await this.#pool.end();
    } catch {
      // the connections are gone either way
    } finally {
      this.#release();
    }
  }
}
