/**
 * Schema and forward-only migrations, versioned by PRAGMA user_version.
 * Migrations run inside one transaction under the store's exclusive lock;
 * a program older than the store refuses it rather than guess.
 */
import type { Database } from './native.js';

/** 'SBX1': marks the file as a Strongbox store for `file(1)` and for us. */
export const APPLICATION_ID = 0x53425831;

/** migrations[i] takes a store from schema i to i+1. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE data_keys (
    id         INTEGER PRIMARY KEY,          -- random 32-bit key id, named by ciphertexts
    version    INTEGER NOT NULL UNIQUE,      -- 1, 2, 3 … in creation order
    status     TEXT NOT NULL CHECK (status IN ('primary', 'active', 'retired', 'destroyed')),
    created_at INTEGER NOT NULL,
    wrapped    BLOB                          -- under the master key; NULL once destroyed
  );
  CREATE UNIQUE INDEX data_keys_one_primary ON data_keys(status) WHERE status = 'primary';

  CREATE TABLE secrets (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    current_version INTEGER NOT NULL,
    max_versions    INTEGER NOT NULL DEFAULT 0,
    custom          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
  );

  CREATE TABLE versions (
    secret_id    INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    destroyed_at INTEGER,
    key_id       INTEGER,                    -- NULL once destroyed
    ciphertext   BLOB,                       -- NULL once destroyed
    PRIMARY KEY (secret_id, version)
  ) WITHOUT ROWID;
  CREATE INDEX versions_by_key ON versions(key_id) WHERE key_id IS NOT NULL;
  `,
  // 2: the audit log (src/store/audit.ts).
  `
  CREATE TABLE audit (
    seq      INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    action   TEXT NOT NULL,
    name     TEXT,
    versions TEXT,
    outcome  TEXT NOT NULL,
    detail   TEXT,
    mac      BLOB NOT NULL
  );
  `,
  // 3: every row that carries meaning is authenticated (src/store/integrity): a MAC per row,
  // and one state row holding the digest of all rows and the end of the audit chain, under a MAC.
  // Rows of an older store get their MACs when a program holding the master key first opens it.
  `
  ALTER TABLE meta ADD COLUMN mac BLOB;
  ALTER TABLE data_keys ADD COLUMN mac BLOB;
  ALTER TABLE secrets ADD COLUMN mac BLOB;
  ALTER TABLE versions ADD COLUMN mac BLOB;
  CREATE TABLE state (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    digest    BLOB NOT NULL,                 -- LtHash16 of every authenticated row
    audit_seq INTEGER NOT NULL,              -- the audit chain's last entry …
    audit_mac BLOB NOT NULL,                 -- … and its MAC
    mac       BLOB NOT NULL
  );
  `,
  // 4: small authenticated records of `store serve`'s state (tokens by hash, token accessors,
  // ACL policies, AppRole roles and secret-ids), as JSON text, each MAC'd like every other row.
  `
  CREATE TABLE records (
    kind  TEXT NOT NULL,
    id    TEXT NOT NULL,
    value TEXT NOT NULL,
    mac   BLOB,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  `,
  // 5: what a version's value is (src/store/content.ts): 1 when it is the UTF-8 text of a JSON object
  // (a Vault-style secret), 0 for plain bytes. Every older version is plain bytes, as it was written.
  // The row MACs cover it only when it is 1 (src/store/integrity/rows.ts), so no older row's MAC changes.
  `
  ALTER TABLE versions ADD COLUMN json INTEGER NOT NULL DEFAULT 0;
  `,
  // 6: two pages fewer in every put's commit.
  // Secret ids without AUTOINCREMENT, which wrote its counter (the 'secrets' row of sqlite_sequence) in the commit of
  // every new secret. The counter stays where it was, now kept by the driver and written
  // only when a purge removes an id above it (src/storage/sqlite/driver.ts): a new secret still takes an id above it and
  // above every id in use, so no id is ever handed out twice. The table is rebuilt as SQLite's ALTER TABLE page says (with
  // foreign keys off, see migrate()), every row and MAC as it was; dropping the old table drops its counter, kept first.
  // And no index of versions by data key, which every new version wrote: a rewrap, its only reader, now walks the
  // versions in (secret id, version) order once, batch after batch (SqliteStorage.versionsUnderKey), and counting
  // versions per key scans the table that the other counts of the same call scan anyway.
  `
  DROP INDEX versions_by_key;
  CREATE TEMP TABLE secret_id_high AS
    SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'secrets'), 0), coalesce((SELECT max(id) FROM secrets), 0)) AS high;
  CREATE TABLE secrets_v6 (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    current_version INTEGER NOT NULL,
    max_versions    INTEGER NOT NULL DEFAULT 0,
    custom          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    mac             BLOB
  );
  INSERT INTO secrets_v6 (id, name, current_version, max_versions, custom, created_at, updated_at, mac)
    SELECT id, name, current_version, max_versions, custom, created_at, updated_at, mac FROM secrets;
  DROP TABLE secrets;
  ALTER TABLE secrets_v6 RENAME TO secrets;
  INSERT INTO sqlite_sequence (name, seq) SELECT 'secrets', high FROM temp.secret_id_high;
  DROP TABLE temp.secret_id_high;
  `,
  // 7: secrets kept in the order of their names (WITHOUT ROWID, the name the primary key), so a get finds its secret
  // in one b-tree search instead of two (the name's index, then the table), about a twentieth of a get; ids stay
  // unique (the foreign key of versions and every join by id use that index). Rebuilt as 6 was, every row and MAC
  // as it was, the counter of ids (sqlite_sequence's 'secrets' row) set again to what it held.
  `
  CREATE TEMP TABLE secret_id_high AS
    SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'secrets'), 0), coalesce((SELECT max(id) FROM secrets), 0)) AS high;
  CREATE TABLE secrets_v7 (
    id              INTEGER NOT NULL UNIQUE,
    name            TEXT NOT NULL PRIMARY KEY,
    current_version INTEGER NOT NULL,
    max_versions    INTEGER NOT NULL DEFAULT 0,
    custom          TEXT NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    mac             BLOB
  ) WITHOUT ROWID;
  INSERT INTO secrets_v7 (id, name, current_version, max_versions, custom, created_at, updated_at, mac)
    SELECT id, name, current_version, max_versions, custom, created_at, updated_at, mac FROM secrets;
  DROP TABLE secrets;
  ALTER TABLE secrets_v7 RENAME TO secrets;
  DELETE FROM sqlite_sequence WHERE name = 'secrets';
  INSERT INTO sqlite_sequence (name, seq) SELECT 'secrets', high FROM temp.secret_id_high;
  DROP TABLE temp.secret_id_high;
  `,
  // 8: a version row's MAC binds its ciphertext (v2, src/store/integrity/rows.ts), so that an old ciphertext of a
  // purged secret cannot pass as the value of one made again under its name. Nothing in the tables changes: the
  // rows written before keep their v1 MACs, which reads still accept, until they are next written (a rewrap writes
  // them all). The version moves so that a program knowing only v1 refuses the store rather than reading every newer
  // version as tampered.
  `
  SELECT 1;
  `,
  // 9: a secret row's MAC covers its current version's nonce (v2, rows.ts), so that a get of the current version
  // checks that one MAC rather than two; a rewrap keeps each value's nonce. Nothing in the tables changes: rows
  // written before keep their v1 MACs, which reads still accept (checking the version's MAC as well) until they
  // are next written. The version moves for the same reason as 8's.
  `
  SELECT 1;
  `,
  // 10: versions in a rowid table whose key, `place`, is secret_id * 2^32 + version (versionPlace), so a secret's
  // versions still sit side by side in version order and one integer finds each. A table WITHOUT ROWID keeps whole
  // rows in its b-tree, whose cells spill to an overflow page past ~1,000 bytes: a value of 1 KiB took a 4 KiB page
  // of its own, and a get or a list read through it (from 1 KiB up: a raw read 3-4x slower than here, a store's get
  // 1.4-1.8x and its list 2-5x; the file 3.4x bigger at 1 KiB).
  // A rowid table keeps up to ~4,000 bytes a row in its leaf. The ciphertext is the last column, so the columns a
  // list or a secret's head reads never lie past it. No foreign key any more: without an index on secret_id, each
  // purge would scan the table to check it, and the driver deletes a secret's versions itself before the secret
  // (deleteSecret) as it always did; the row MACs and the state digest are what catch an orphan an edit makes.
  // Every row, MAC and value is copied as it was.
  `
  CREATE TABLE versions_v10 (
    place        INTEGER PRIMARY KEY,          -- secret_id * 2^32 + version
    secret_id    INTEGER NOT NULL CHECK (secret_id BETWEEN 1 AND 2147483647),
    version      INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER,
    destroyed_at INTEGER,
    key_id       INTEGER,                      -- NULL once destroyed
    json         INTEGER NOT NULL DEFAULT 0,
    mac          BLOB,
    ciphertext   BLOB                          -- NULL once destroyed
  );
  INSERT INTO versions_v10 (place, secret_id, version, created_at, deleted_at, destroyed_at, key_id, json, mac, ciphertext)
    SELECT secret_id * 4294967296 + version, secret_id, version, created_at, deleted_at, destroyed_at, key_id, json, mac, ciphertext
    FROM versions ORDER BY secret_id, version;
  DROP TABLE versions;
  ALTER TABLE versions_v10 RENAME TO versions;
  `,
];

/**
 * A version's key in the versions table (schema 10): SQL for secret_id * 2^32
 * + version from two SQL expressions. The CASTs keep it in SQLite's 64-bit
 * integers: better-sqlite3 binds every JavaScript number as a double, and a
 * double holds secret_id * 2^32 exactly only while the id is below 2^21.
 */
export function versionPlace(secretId: string, version: string): string {
  return `CAST(${secretId} AS INTEGER) * 4294967296 + CAST(${version} AS INTEGER)`;
}

/** SQL true for the versions of the secret whose id is the SQL expression `secretId`: one range of keys. */
export function versionsOfSecret(secretId: string): string {
  return `place BETWEEN ${versionPlace(secretId, '0')} AND ${versionPlace(secretId, '4294967295')}`;
}

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Apply every migration from `from` up, in one transaction. Foreign keys are
 * off meanwhile (the setting cannot change inside a transaction): a table
 * rebuilt under them (6, 7) would take its dependants' rows with it when the old
 * one is dropped (versions cascade from secrets). Rows are moved, never
 * changed, so none breaks a key that held before.
 */
export function migrate(db: Database, from: number): void {
  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    db.transaction(() => {
      for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }).immediate();
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}
