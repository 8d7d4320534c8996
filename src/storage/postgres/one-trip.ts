/**
 * A write in one round trip, when this storage already knows the rows it
 * would read.
 *
 * A put in a transaction of its own must wait for answers three or four
 * times: BEGIN with the write lock and the state row, the secret by name,
 * its id from the insert, then COMMIT. Each answer is something this
 * storage usually knows already, as of its own last commit: the state
 * row's MAC (the stamp), the audit chain's end, the primary key's id, the
 * secrets it wrote. `Known` holds those; `OneTripOps` answers the write's
 * reads from it, keeps its writes, and `oneTripStatement` sends them as one
 * statement that writes only when the database is still exactly as known:
 *
 * - the state row's MAC is the stamp: every write of every host changes the
 *   state row, so an equal MAC means no other write since;
 * - the write lock is free (pg_try_advisory_xact_lock, held to the commit):
 *   no transaction of the ordinary path is between its reads and its commit;
 * - the audit log ends at the known entry, the primary key is the known
 *   one, and each secret row to be replaced is, column for column with its
 *   current version's state, the row known: what the ordinary path would
 *   have read and checked is what it checked before (an edit by someone
 *   without the master key, or an old row put back, is not overwritten
 *   unseen: the statement writes nothing, and the ordinary path reads the
 *   rows and reports them);
 * - a secret taken to be new is inserted under its name, which the unique
 *   index refuses when it exists after all.
 *
 * When any of these fails the statement writes nothing (or fails, rolling
 * back), and the write runs again by the ordinary path, whose commit makes
 * `Known` anew. A write whose reads cannot all be answered (anything but a
 * put's) never leaves this storage: it runs by the ordinary path at once.
 */
import type {
  AuditHead, AuditRow, RawJoined, RawKey, RawListRow, RawMeta, RawOps, RawRecord, RawRewrap, RawSecret, RawVersion, StateRow, StoreCounts,
} from '../storage.js';
import { PG_SCHEMA } from './schema.js';
import { NONCE_FROM, NONCE_LENGTH } from '../columns.js';
import { CHANGES_CHANNEL, DIGEST_FINGERPRINT } from './changes.js';

const S = PG_SCHEMA;

/** The rows a write reads first, as of this storage's own last commit; valid while the state row's MAC is `stamp`. */
export interface Known {
  stamp: Uint8Array;
  /** The audit log's last entry (null: the log is empty). */
  lastAudit: AuditHead | null;
  primaryKeyId: number | null;
  /** Secret rows by name, as last written or read (each with its MAC and its current version's state). */
  secrets: Map<string, RawSecret>;
  /** Secret ids taken from the ids' sequence for new secrets (never handed out twice); dropped with this Known. */
  ids: number[];
}

/** At most this many secret rows are kept; past it the map starts again. */
const MAX_SECRETS = 4096;

/** Keep `row` as the known row of its name (a host writing many names keeps the last few thousand). */
function rememberSecret(known: Known, row: RawSecret): void {
  if (known.secrets.size >= MAX_SECRETS && !known.secrets.has(row.name)) known.secrets.clear();
  known.secrets.set(row.name, row);
}

/** The write asked for something `Known` cannot answer or keep: it runs by the ordinary path. */
class Unspeculated extends Error {}

const no = (): never => {
  throw new Unspeculated();
};

/** A new secret's row, as the ordinary insert returns it (no MAC yet: the guard writes the row again at once). */
function newSecret(id: number, name: string, now: number): RawSecret {
  return { id, name, currentVersion: 0, maxVersions: 0, custom: '{}', createdAt: now, updatedAt: now, head: null, mac: null };
}

/**
 * A write's operations answered from `Known` and kept, not sent: what the
 * write reads must be known (else Unspeculated), and what it writes becomes
 * one statement (oneTripStatement).
 */
export class OneTripOps implements RawOps {
  /** Secret rows answered from what is known, by id: only these may be replaced. */
  readonly #found = new Map<number, RawSecret>();
  /** Names answered as absent, each of which must then be inserted (else the answer was a guess nobody checks). */
  readonly #absent = new Set<string>();
  /** Secrets this write inserts (by id) and the final row of each. */
  readonly inserted = new Map<number, RawSecret>();
  /** Existing secrets this write replaces: the row known (to check) and the new one. */
  readonly replaced = new Map<number, { old: RawSecret; row: RawSecret }>();
  readonly versions: RawVersion[] = [];
  readonly audits: AuditRow[] = [];
  newState: StateRow | undefined;
  /** Whether the write asked for the primary key (then the statement checks it is still the one known). */
  askedPrimary = false;
  /** A new secret needed an id and none was left. */
  wantedId = false;

  constructor(readonly known: Known) {}

  /** Whether everything asked was answered from what is known and the writes can go as one statement. */
  complete(): boolean {
    if (!this.newState) return false;
    for (const name of this.#absent) if (![...this.inserted.values()].some((r) => r.name === name)) return false;
    return true;
  }

  primaryKeyId(): number | undefined {
    this.askedPrimary = true;
    return this.known.primaryKeyId ?? undefined;
  }

  stateMac(): Uint8Array {
    return this.known.stamp;
  }

  lastAudit(): AuditHead | undefined {
    return this.known.lastAudit ?? undefined;
  }

  findSecret(name: string): RawSecret | undefined {
    const row = this.known.secrets.get(name);
    if (row) {
      this.#found.set(row.id, row);
      return row;
    }
    this.#absent.add(name);
    return undefined;
  }

  insertSecret(name: string, now: number): RawSecret {
    const id = this.known.ids.pop();
    if (id === undefined) {
      this.wantedId = true;
      throw new Unspeculated();
    }
    const row = newSecret(id, name, now);
    this.inserted.set(id, row);
    return row;
  }

  updateSecret(row: RawSecret): void {
    if (this.inserted.has(row.id)) {
      this.inserted.set(row.id, row);
      return;
    }
    const before = this.replaced.get(row.id)?.old ?? this.#found.get(row.id);
    if (!before || before.name !== row.name) no();
    this.replaced.set(row.id, { old: before!, row });
  }

  insertVersion(row: RawVersion): void {
    this.versions.push(row);
  }

  insertAudit(row: AuditRow): void {
    this.audits.push(row);
  }

  putState(row: StateRow): void {
    if (this.newState) no();
    this.newState = row;
  }

  /** `known` as it is once this write has committed. */
  next(): Known {
    const k = this.known;
    k.stamp = this.newState!.mac;
    const last = this.audits[this.audits.length - 1];
    if (last) k.lastAudit = { seq: last.seq, mac: last.mac };
    for (const r of this.inserted.values()) rememberSecret(k, r);
    for (const { row } of this.replaced.values()) rememberSecret(k, row);
    return k;
  }

  // Everything else: the ordinary path.
  getMeta = no as () => Promise<string | undefined>;
  metaRow = no as () => Promise<RawMeta | undefined>;
  allMeta = no as () => Promise<RawMeta[]>;
  putMeta = no as () => Promise<void>;
  deleteMeta = no as () => Promise<void>;
  secretById = no as () => Promise<RawSecret | undefined>;
  deleteSecret = no as () => Promise<void>;
  readVersion = no as () => Promise<RawJoined | undefined>;
  readVersionAt = no as () => Promise<RawJoined | undefined>;
  listVersions = no as () => Promise<RawVersion[]>;
  updateVersion = no as () => Promise<void>;
  deleteVersions = no as () => Promise<void>;
  listSecrets = no as () => Promise<RawListRow[]>;
  counts = no as () => Promise<StoreCounts>;
  keys = no as () => Promise<RawKey[]>;
  insertKey = no as () => Promise<void>;
  updateKey = no as () => Promise<void>;
  versionsUnderKey = no as () => Promise<RawRewrap[]>;
  replaceCiphertext = no as () => Promise<boolean>;
  auditPage = no as () => Promise<AuditRow[]>;
  deleteAuditThrough = no as () => Promise<void>;
  state = no as () => Promise<StateRow | undefined>;
  getRecord = no as () => Promise<RawRecord | undefined>;
  putRecord = no as () => Promise<void>;
  deleteRecord = no as () => Promise<boolean>;
  listRecords = no as () => Promise<RawRecord[]>;
  eachRecord = no as () => Promise<void>;
  eachSecret = no as () => Promise<void>;
  eachVersion = no as () => Promise<void>;
  scanVersions = no as () => Promise<never[]>;
  secretsPage = no as () => Promise<RawSecret[]>;
  versionsPage = no as () => Promise<RawVersion[]>;
  recordsPage = no as () => Promise<RawRecord[]>;
  insertSecretRow = no as () => Promise<void>;
  secretIdHighWater = no as () => Promise<number>;
  raiseSecretIdHighWater = no as () => Promise<void>;
  deleteAllRows = no as () => Promise<void>;
}

/** Statement text and parameters, built together so that each `$n` is the value pushed with it. */
class Sql {
  readonly values: unknown[] = [];
  /** `$n` for `value`, cast to `type` (parameters in a SELECT list have no column to take their type from). */
  p(value: unknown, type: string): string {
    this.values.push(value);
    return `$${this.values.length}::${type}`;
  }
}

/** The write lock's keys, as the ordinary path takes it (driver.ts). */
interface LockKeys { readonly 0: number; readonly 1: number }

/**
 * The one statement of a write from `ops` (complete()): the state row
 * updated only when every condition holds, and every other write made of
 * its answer, so that either all of it is written or none. It returns one
 * row when it wrote, none when the database was not as known.
 */
export function oneTripStatement(ops: OneTripOps, lock: LockKeys): { name: string; text: string; values: unknown[] } {
  const q = new Sql();
  const st = ops.newState!;
  const k = ops.known;
  const conditions = [
    `id = 1`,
    `mac = ${q.p(k.stamp, 'bytea')}`,
    `pg_try_advisory_xact_lock(${lock[0]}, ${lock[1]})`,
    // The log ends at the entry known: max(seq) is one descent of the primary key's index whatever the plan, where
    // "no entry after it" was a scan of the whole log under a prepared statement's generic plan (a third of the rows
    // estimated to follow), one that grew with every entry.
    k.lastAudit === null
      ? `NOT EXISTS (SELECT 1 FROM ${S}.audit)`
      : `EXISTS (SELECT 1 FROM ${S}.audit WHERE seq = ${q.p(k.lastAudit.seq, 'bigint')} AND mac = ${q.p(k.lastAudit.mac, 'bytea')})
        AND (SELECT max(seq) FROM ${S}.audit) = ${q.p(k.lastAudit.seq, 'bigint')}`,
  ];
  if (ops.askedPrimary) {
    conditions.push(k.primaryKeyId === null
      ? `NOT EXISTS (SELECT 1 FROM ${S}.data_keys WHERE status = 'primary')`
      : `EXISTS (SELECT 1 FROM ${S}.data_keys WHERE status = 'primary' AND id = ${q.p(k.primaryKeyId, 'bigint')})`);
  }
  for (const { old } of ops.replaced.values()) {
    const h = old.head;
    conditions.push(`EXISTS (SELECT 1 FROM ${S}.secrets s LEFT JOIN ${S}.versions h ON h.secret_id = s.id AND h.version = s.current_version
      WHERE s.id = ${q.p(old.id, 'bigint')} AND s.name = ${q.p(old.name, 'text')} AND s.current_version = ${q.p(old.currentVersion, 'bigint')}
        AND s.max_versions = ${q.p(old.maxVersions, 'bigint')} AND s.custom = ${q.p(old.custom, 'text')} AND s.created_at = ${q.p(old.createdAt, 'bigint')}
        AND s.updated_at = ${q.p(old.updatedAt, 'bigint')} AND s.mac = ${q.p(old.mac, 'bytea')}
        AND ${h === null ? 'h.version IS NULL' : `h.created_at = ${q.p(h.createdAt, 'bigint')} AND h.deleted_at IS NOT DISTINCT FROM ${q.p(h.deletedAt, 'bigint')}
          AND h.destroyed_at IS NOT DISTINCT FROM ${q.p(h.destroyedAt, 'bigint')} AND h.json = ${q.p(h.json ? 1 : 0, 'integer')}
          AND substring(h.ciphertext from ${NONCE_FROM + 1} for ${NONCE_LENGTH}) IS NOT DISTINCT FROM ${q.p(h.nonce, 'bytea')}`})`);
  }
  const parts = [
    `d AS (UPDATE ${S}.state SET digest = ${q.p(st.digest, 'bytea')}, audit_seq = ${q.p(st.auditSeq, 'bigint')}, audit_mac = ${q.p(st.auditMac, 'bytea')}, mac = ${q.p(st.mac, 'bytea')}
      WHERE ${conditions.join('\n      AND ')} RETURNING digest)`,
  ];
  let n = 0;
  for (const r of ops.inserted.values()) {
    parts.push(`s${n++} AS (INSERT INTO ${S}.secrets (id, name, current_version, max_versions, custom, created_at, updated_at, mac)
      SELECT ${q.p(r.id, 'bigint')}, ${q.p(r.name, 'text')}, ${q.p(r.currentVersion, 'bigint')}, ${q.p(r.maxVersions, 'bigint')}, ${q.p(r.custom, 'text')},
        ${q.p(r.createdAt, 'bigint')}, ${q.p(r.updatedAt, 'bigint')}, ${q.p(r.mac, 'bytea')} FROM d)`);
  }
  for (const { row: r } of ops.replaced.values()) {
    parts.push(`s${n++} AS (UPDATE ${S}.secrets SET current_version = ${q.p(r.currentVersion, 'bigint')}, max_versions = ${q.p(r.maxVersions, 'bigint')},
      custom = ${q.p(r.custom, 'text')}, updated_at = ${q.p(r.updatedAt, 'bigint')}, mac = ${q.p(r.mac, 'bytea')}
      WHERE id = ${q.p(r.id, 'bigint')} AND EXISTS (SELECT 1 FROM d))`);
  }
  ops.versions.forEach((r, i) => {
    parts.push(`v${i} AS (INSERT INTO ${S}.versions (secret_id, version, created_at, deleted_at, destroyed_at, key_id, ciphertext, mac, json)
      SELECT ${q.p(r.secretId, 'bigint')}, ${q.p(r.version, 'bigint')}, ${q.p(r.createdAt, 'bigint')}, ${q.p(r.deletedAt, 'bigint')}, ${q.p(r.destroyedAt, 'bigint')},
        ${q.p(r.keyId, 'bigint')}, ${q.p(r.ciphertext, 'bytea')}, ${q.p(r.mac, 'bytea')}, ${q.p(r.json ? 1 : 0, 'integer')} FROM d)`);
  });
  ops.audits.forEach((r, i) => {
    parts.push(`a${i} AS (INSERT INTO ${S}.audit (seq, at, actor, pid, action, name, versions, outcome, detail, mac)
      SELECT ${q.p(r.seq, 'bigint')}, ${q.p(r.at, 'bigint')}, ${q.p(r.actor, 'text')}, ${q.p(r.pid, 'bigint')}, ${q.p(r.action, 'text')}, ${q.p(r.name, 'text')},
        ${q.p(r.versions, 'text')}, ${q.p(r.outcome, 'text')}, ${q.p(r.detail, 'text')}, ${q.p(r.mac, 'bytea')} FROM d)`);
  });
  // The notification other hosts' read caches listen for, as the ordinary putState sends it (changes.ts).
  const text = `WITH ${parts.join(',\n  ')}\nSELECT pg_notify('${CHANGES_CHANNEL}', ${DIGEST_FINGERPRINT}) FROM d`;
  // One prepared statement per shape: the text depends only on what is written, not on the values.
  const shape = `${k.lastAudit === null ? 'e' : 'a'}${ops.askedPrimary ? (k.primaryKeyId === null ? 'n' : 'p') : ''}`
    + `r${[...ops.replaced.values()].map(({ old }) => (old.head === null ? '0' : '1')).join('')}i${ops.inserted.size}v${ops.versions.length}a${ops.audits.length}`;
  return { name: `sb_one_${shape}`, text, values: q.values };
}

/** What an ordinary write transaction read first, with its BEGIN (driver.ts's PREFETCHED). */
export interface Initial {
  stamp: Uint8Array | undefined;
  lastAudit: AuditHead | null;
  primaryKeyId: number | null;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * What an ordinary write transaction shows of the rows a one-trip write
 * reads: its first reads, the secrets it found and wrote, its audit entries
 * and state row, in order. At its commit, `after` makes the Known that
 * holds from then on; anything it cannot follow leaves nothing known.
 */
export class Learned {
  readonly #events: ((k: Known) => void)[] = [];
  #wrote = false;
  #savedState = false;
  #lost = false;

  found(row: RawSecret | undefined): void {
    if (row && row.mac !== null) this.#events.push((k) => rememberSecret(k, row));
  }

  /** A new secret: known once it is written with its MAC. */
  inserted(name: string): void {
    this.#wrote = true;
    this.#events.push((k) => { k.secrets.delete(name); });
  }

  wroteSecret(row: RawSecret): void {
    this.#wrote = true;
    this.#events.push((k) => (row.mac === null ? k.secrets.delete(row.name) : rememberSecret(k, row)));
  }

  deletedSecret(id: number): void {
    this.#wrote = true;
    this.#events.push((k) => {
      for (const [name, r] of k.secrets) if (r.id === id) k.secrets.delete(name);
    });
  }

  audit(row: AuditRow): void {
    this.#wrote = true;
    this.#events.push((k) => { k.lastAudit = { seq: row.seq, mac: row.mac }; });
  }

  state(row: StateRow): void {
    this.#wrote = true;
    this.#savedState = true;
    this.#events.push((k) => { k.stamp = row.mac; });
  }

  /** A write that changes nothing a one-trip write reads. */
  other(): void {
    this.#wrote = true;
  }

  /** A write this cannot follow (keys, the audit log cut, whole tables): nothing is known after it. */
  lose(): void {
    this.#wrote = true;
    this.#lost = true;
  }

  /** The Known once the transaction has committed, from `base` (what was known before it) when it started from the same state. */
  after(base: Known | undefined, initial: Initial | undefined): Known | undefined {
    if (this.#lost || !initial?.stamp || (this.#wrote && !this.#savedState)) return undefined;
    const k: Known = base && sameBytes(base.stamp, initial.stamp)
      ? base
      : { stamp: initial.stamp, lastAudit: null, primaryKeyId: null, secrets: new Map(), ids: [] };
    k.stamp = initial.stamp;
    k.lastAudit = initial.lastAudit;
    k.primaryKeyId = initial.primaryKeyId;
    for (const apply of this.#events) apply(k);
    return k;
  }
}
