/**
 * The authenticated storage: `Storage` over a driver's `RawStorage`. Every
 * row read is checked against its MAC (and against the place it was asked
 * for) before the store's logic sees it; every row written gets its MAC,
 * and every write transaction updates the digest of the whole state
 * (src/crypto/lthash.ts) in O(1) per changed row, with the end of the audit
 * chain, in the MAC'd state row. A row is never rewritten without its old
 * MAC being checked first, so an edit is never laundered into an authentic row.
 */
import { LtHash } from '../../crypto/lthash.js';
import { lthashElement, macMatches } from '../../crypto/mac.js';
import type {
  AuditFilter, AuditHead, Awaitable, AuditRow, KeyRow, RawJoined, RawKey, RawMeta, RawOps, RawRecord, RawSecret, RawStorage, RawVersion, RecordEntry, RewrapRow,
  ScannedVersion, SecretAndVersion, SecretListRow, SecretRow, Storage, StorageOps, StoreCounts, VersionHead, VersionRow,
  ExclusiveOptions, FileCapabilities, HeldLock, VersionPlace, WriteOptions,
} from '../../storage/storage.js';
import { place, RowAuthenticator, tampered } from './rows.js';
import { headNonce } from '../../storage/columns.js';
import { FORMAT_V1 } from '../../crypto/format.js';
import { equalBytes } from '../../crypto/bytes.js';

/** The state of a version that its secret's row MAC covers while it is the current one. */
function headOf(v: RawVersion): VersionHead {
  return { createdAt: v.createdAt, deletedAt: v.deletedAt, destroyedAt: v.destroyedAt, json: v.json, nonce: headNonce(v.ciphertext) as Uint8Array | null };
}

/**
 * Where each row versionsUnderKey hands out keeps the checked version row it
 * was made from: what replaceCiphertext writes anew, in the same transaction
 * or a later one (a rewrap reads and seals a batch outside the write lock).
 * A property under a symbol of this module's own, so no caller can forge one;
 * a WeakMap did the same job at a cost the rewrap of every version paid.
 */
const CHECKED = Symbol('the checked version row');
type CheckedRewrapRow = RewrapRow & { [CHECKED]?: RawVersion };

/** The state row as a write transaction holds it. */
interface LiveState {
  digest: LtHash;
  auditSeq: number;
  auditMac: Uint8Array;
}

export const EMPTY_AUDIT_MAC = new Uint8Array(32);

/** Read and check the state row; the state and its stored MAC. @throws TamperedError */
export async function loadState(raw: RawOps, auth: RowAuthenticator): Promise<{ state: LiveState; mac: Uint8Array }> {
  const s = await raw.state();
  if (!s) throw tampered("the store's state record", 'is missing');
  RowAuthenticator.check(auth.state(s.digest, s.auditSeq, s.auditMac), s.mac, "the store's state record");
  const digest = LtHash.fromBytes(s.digest);
  if (!digest) throw tampered("the store's state record", 'has a digest of the wrong length');
  return { state: { digest, auditSeq: s.auditSeq, auditMac: s.auditMac }, mac: s.mac };
}

/** Write the state row; its MAC. */
export async function saveState(raw: RawOps, auth: RowAuthenticator, s: LiveState): Promise<Uint8Array> {
  const digest = s.digest.view(); // MAC'd and bound (copied by SQLite) at once
  const mac = auth.state(digest, s.auditSeq, s.auditMac);
  await raw.putState({ digest, auditSeq: s.auditSeq, auditMac: s.auditMac, mac });
  return mac;
}

/**
 * The state row this process last wrote or checked, with its MAC. A write
 * transaction that finds the stored MAC unchanged starts from this copy
 * instead of reading and checking 2 KiB again (another process's write
 * changes the MAC). Equal MACs mean equal contents, and the copy is one this
 * process computed or checked itself: nothing unchecked is ever trusted.
 */
export class StateCache {
  #mac: Uint8Array | undefined;
  #state: LiveState | undefined;

  /**
   * The cached state itself, not a copy: a transaction changes it only in
   * finish(), right before its commit. Should that commit fail, the stored
   * MAC is not the cached one, and the next transaction reads the row again.
   */
  async get(raw: RawOps): Promise<LiveState | undefined> {
    if (!this.#mac || !this.#state) return undefined;
    const stored = await raw.stateMac();
    return stored && macMatches(this.#mac, stored) ? this.#state : undefined;
  }

  set(mac: Uint8Array, s: LiveState): void {
    this.#mac = mac;
    this.#state = s;
  }

  /** Forget the cached state (a finish() that failed half-way may have changed it). */
  clear(): void {
    this.#mac = undefined;
    this.#state = undefined;
  }
}

function parseCustom(r: RawSecret): Record<string, string> {
  try {
    const v = JSON.parse(r.custom) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) {
      return v as Record<string, string>;
    }
  } catch {
    // reported below
  }
  throw tampered(place.secret(r), 'has malformed custom metadata');
}

function toSecret(r: RawSecret): SecretRow {
  return {
    id: r.id, name: r.name, currentVersion: r.currentVersion, maxVersions: r.maxVersions, custom: parseCustom(r),
    createdAt: r.createdAt, updatedAt: r.updatedAt,
  };
}

function toVersion(r: RawVersion): VersionRow {
  return {
    version: r.version, createdAt: r.createdAt, deletedAt: r.deletedAt, destroyedAt: r.destroyedAt, keyId: r.keyId, ciphertext: r.ciphertext, json: r.json,
  };
}

/** The checks one row needs, shared by the transaction and the whole-state scan. */
export class RowChecks {
  constructor(readonly auth: RowAuthenticator) {}

  meta(r: RawMeta): void {
    RowAuthenticator.check(this.auth.meta(r), r.mac, place.meta(r.key));
  }

  key(r: RawKey): void {
    RowAuthenticator.check(this.auth.key(r), r.mac, place.key(r));
  }

  /**
   * `name`: the name the secret was asked for by, when it was. True when the
   * row carries the v2 MAC, which covers its current version's nonce; false
   * for a row written before schema 9, whose v1 MAC does not (rows.ts).
   */
  secret(r: RawSecret, name?: string): boolean {
    const bound = macMatches(this.auth.secret(r), r.mac);
    if (!bound) RowAuthenticator.check(this.auth.secretV1(r), r.mac, place.secret(r));
    if (name !== undefined && r.name !== name) throw tampered(`secret ${name}`, `was asked for, but the row found is ${place.secret(r)}`);
    return bound;
  }

  /**
   * A record row, MAC'd under the kind and id it was asked for (`kind`, `id`;
   * by default its own): a row SQLite returned from another place fails.
   */
  record(r: RawRecord, kind: string = r.kind, id: string = r.id): void {
    RowAuthenticator.check(this.auth.record({ kind, id, value: r.value }), r.mac, place.record(kind, id));
  }

  /**
   * A version row, which must belong to `secretId` (and be `version`, when
   * given). A row written before schema 8 carries the v1 MAC, which does not
   * bind the ciphertext (rows.ts), until it is next written.
   */
  version(name: string, r: RawVersion, secretId: number, version?: number): void {
    if (!macMatches(this.auth.version(name, r), r.mac)) RowAuthenticator.check(this.auth.versionV1(name, r), r.mac, place.version(name, r));
    if (r.secretId !== secretId || (version !== undefined && r.version !== version)) {
      throw tampered(place.version(name, { version: version ?? r.version }), 'was asked for, but another row was found');
    }
  }
}

/**
 * One transaction's view (or, outside a transaction, single reads). Mutations
 * are only valid inside `write`, where `finish` saves the state row.
 */
export class GuardedTx implements StorageOps {
  #state: LiveState | undefined;
  #dirty = false;
  /** A row other than an audit entry was written: what GuardedStorage.changeCounter counts. */
  #rowsChanged = false;
  /** MACs of secret rows checked in this transaction, by id: an update subtracts the old row without reading it again. */
  readonly #secrets = new Map<number, RawSecret>();
  /** The audit chain's new end, set in the state row at finish(). */
  #auditHead: AuditHead | undefined;
  /** Elements entering (n > 0) or leaving (n < 0) the digest at finish(), by MAC; with the element when the caller made it. */
  readonly #pending = new Map<string, { mac: Uint8Array; n: number; element?: Uint8Array }>();
  /** Secret rows inserted in this transaction and not yet MAC'd. */
  readonly #fresh = new Set<number>();
  /** Version rows this transaction wrote, by "secret id:version": the state a secret row's MAC must cover. */
  readonly #versions = new Map<string, RawVersion>();
  readonly #check: RowChecks;

  /** `remember`: keep the rows checked, for the writes of the same transaction (not for the long-lived single-read view). */
  constructor(
    private readonly raw: RawOps,
    private readonly auth: RowAuthenticator,
    private readonly cache: StateCache,
    private readonly remember = true,
  ) {
    this.#check = new RowChecks(auth);
  }

  // ---- the digest -------------------------------------------------------

  async #live(): Promise<LiveState> {
    if (!this.#state) {
      this.#state = await this.cache.get(this.raw);
      if (!this.#state) {
        const loaded = await loadState(this.raw, this.auth);
        this.#state = loaded.state;
        this.cache.set(loaded.mac, loaded.state);
      }
    }
    return this.#state;
  }

  /**
   * Replace one row's element in the digest: `from` leaves, `to` enters
   * (either may be absent). Applied in finish(), where a row that entered and
   * left in the same transaction cancels out without being expanded.
   * `fromElement`: lthashElement(from), when the caller already has it.
   */
  #swap(from: Uint8Array | null | undefined, to: Uint8Array | null | undefined, fromElement?: Uint8Array): void {
    if (from) this.#delta(from, -1, fromElement);
    if (to) this.#delta(to, 1);
    this.#dirty = true;
    this.#rowsChanged = true;
  }

  /** Whether this transaction wrote a row other than audit entries (a secret, version, key, record or header entry). */
  get rowsChanged(): boolean {
    return this.#rowsChanged;
  }

  #delta(mac: Uint8Array, sign: 1 | -1, element?: Uint8Array): void {
    const key = Buffer.from(mac.buffer, mac.byteOffset, mac.byteLength).toString('latin1');
    const had = this.#pending.get(key);
    const n = (had?.n ?? 0) + sign;
    if (n === 0) this.#pending.delete(key);
    else this.#pending.set(key, { mac, n, element: element ?? had?.element });
  }

  /** MAC the rows inserted and left as they were, and save the state row if this transaction changed it. */
  async finish(): Promise<void> {
    for (const id of this.#fresh) {
      const r = this.#secrets.get(id)!;
      await this.#writeSecret(r, r);
    }
    this.#fresh.clear();
    if (!this.#dirty) return;
    const s = await this.#live();
    try {
      const added: Uint8Array[] = [];
      const removed: Uint8Array[] = [];
      for (const { mac, n, element: made } of this.#pending.values()) {
        const element = made ?? lthashElement(mac);
        for (let i = 0; i < Math.abs(n); i++) (n > 0 ? added : removed).push(element);
      }
      s.digest.update(added, removed);
      if (this.#auditHead) {
        s.auditSeq = this.#auditHead.seq;
        s.auditMac = this.#auditHead.mac;
      }
      this.cache.set(await saveState(this.raw, this.auth, s), s);
    } catch (e) {
      this.cache.clear();
      throw e;
    }
  }

  // ---- header -----------------------------------------------------------

  async getMeta(key: string): Promise<string | undefined> {
    const r = await this.raw.metaRow(key);
    if (!r) return undefined;
    this.#check.meta(r);
    return r.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    const old = await this.raw.metaRow(key);
    if (old) this.#check.meta(old);
    const mac = this.auth.meta({ key, value });
    await this.raw.putMeta({ key, value, mac });
    this.#swap(old?.mac, mac);
  }

  // ---- secrets ----------------------------------------------------------

  #checkedSecret(r: RawSecret, name?: string): SecretRow {
    this.#check.secret(r, name);
    if (this.remember) this.#secrets.set(r.id, r);
    return toSecret(r);
  }

  /** The stored row of secret `id`, checked (from this transaction's reads when it was read already). */
  async #storedSecret(id: number): Promise<RawSecret> {
    const known = this.#secrets.get(id);
    if (known) return known;
    const r = await this.raw.secretById(id);
    if (!r) throw tampered(`secret id ${id}`, 'vanished during the transaction');
    this.#checkedSecret(r);
    return r;
  }

  async findSecret(name: string): Promise<SecretRow | undefined> {
    const r = await this.raw.findSecret(name);
    return r && this.#checkedSecret(r, name);
  }

  /** The new row gets its MAC when it is next written, or at the end of the transaction (a put writes it again at once). */
  async insertSecret(name: string, now: number): Promise<SecretRow> {
    const r = await this.raw.insertSecret(name, now);
    this.#secrets.set(r.id, r);
    this.#fresh.add(r.id);
    return toSecret(r);
  }

  async updateSecret(s: SecretRow): Promise<void> {
    const old = this.#secrets.get(s.id) ?? await this.#storedSecret(s.id);
    const head = s.currentVersion === old.currentVersion ? old.head : this.#written(s.id, s.currentVersion) ?? await this.#headOf(s.id, s.currentVersion);
    await this.#writeSecret(old, {
      id: old.id, name: old.name, currentVersion: s.currentVersion, maxVersions: s.maxVersions, custom: JSON.stringify(s.custom),
      createdAt: old.createdAt, updatedAt: s.updatedAt, head,
    });
  }

  /** Replace the checked row `old` with `fields` (taken over as the new row) under a new MAC. */
  async #writeSecret(old: RawSecret, fields: Omit<RawSecret, 'mac'>): Promise<void> {
    const oldMac = old.mac; // `fields` may be `old` itself (a row inserted and left as it was)
    const row = fields as RawSecret;
    row.mac = this.auth.secret(fields);
    await this.raw.updateSecret(row);
    this.#swap(oldMac, row.mac); // a row inserted in this transaction has no MAC yet: nothing leaves the digest
    this.#secrets.set(row.id, row);
    this.#fresh.delete(row.id);
  }

  /** The state of a version this transaction wrote (a put's new current version), without an await; undefined for any other. */
  #written(id: number, version: number): VersionHead | undefined {
    const v = this.#versions.get(`${id}:${version}`);
    return v && headOf(v);
  }

  /** The state of version `version` of secret `id` as this transaction leaves it: what the secret row's MAC covers. */
  async #headOf(id: number, version: number): Promise<VersionHead | null> {
    const v = this.#versions.get(`${id}:${version}`) ?? (await this.#versionsOf(await this.#storedSecret(id))).find((r) => r.version === version);
    return v ? headOf(v) : null;
  }

  async deleteSecret(id: number): Promise<void> {
    const old = await this.#storedSecret(id);
    for (const v of await this.#versionsOf(old)) this.#swap(v.mac, null);
    await this.raw.deleteSecret(id);
    this.#swap(old.mac, null);
    this.#secrets.delete(id);
    this.#fresh.delete(id);
  }

  // ---- versions ---------------------------------------------------------

  /**
   * A read of the current version: one MAC, the secret's, which covers the
   * current version's state and nonce as read (the driver takes the nonce
   * from the ciphertext it returns); the value's AEAD binds the header and
   * the rest of the ciphertext to (name, version). So the row a get uses is
   * authenticated whole without the version's own MAC, which is checked as
   * well only where the secret's cannot stand for it: a secret row written
   * before schema 9 (its v1 MAC covers no nonce), or a ciphertext of a
   * format this program does not know, which is tampered unless the
   * version's MAC says it is as written. The rows are taken as they are: no
   * custom metadata parsed, no copies.
   */
  #current(name: string, j: RawJoined | undefined): SecretAndVersion | undefined {
    if (!j) return undefined;
    const bound = this.#check.secret(j.secret, name);
    const v = j.version;
    // The current version's row is never pruned: a secret row that names one it lacks was edited.
    if (!v && j.secret.currentVersion > 0) {
      throw tampered(place.version(name, { version: j.secret.currentVersion }), 'is the current version, but its row is missing');
    }
    if (v && !(bound && v.version === j.secret.currentVersion && (v.ciphertext === null || v.ciphertext[0] === FORMAT_V1))) {
      this.#check.version(name, v, j.secret.id, j.secret.currentVersion);
    }
    return j;
  }

  /**
   * A read of a named version: one MAC, the version row's, bound to the
   * secret's id (the value's AEAD binds the name). The secret row is not
   * used for anything but its id, so it is not checked here.
   */
  #named(name: string, j: RawJoined | undefined, version?: number): SecretAndVersion | undefined {
    if (!j) return undefined;
    if (j.version) this.#check.version(name, j.version, j.secret.id, version);
    return j;
  }

  readVersion(name: string, version?: number): Awaitable<SecretAndVersion | undefined> {
    const j = this.raw.readVersion(name, version);
    // No await when the driver answered at once: the get path's only read, with nothing to wait for.
    if (j instanceof Promise) return j.then((r) => this.#picked(name, r, version));
    return this.#picked(name, j, version);
  }

  #picked(name: string, j: RawJoined | undefined, version: number | undefined): SecretAndVersion | undefined {
    return version === undefined ? this.#current(name, j) : this.#named(name, j, version);
  }

  /**
   * The current version and its whole secret row, custom metadata parsed:
   * the get path's one statement and one MAC (the secret's covers its
   * current version's state), with the fields findSecret would add.
   */
  async readCurrent(name: string): Promise<{ secret: SecretRow; version: VersionRow | undefined } | undefined> {
    const j = await this.raw.readVersion(name);
    if (!this.#current(name, j)) return undefined;
    return { secret: toSecret(j!.secret), version: j!.version };
  }

  async readVersionAt(name: string, at: number): Promise<SecretAndVersion | undefined> {
    const found = this.#named(name, await this.raw.readVersionAt(name, at));
    if (found?.version && found.version.createdAt > at) {
      throw tampered(place.version(name, found.version), `was found for the time ${new Date(at).toISOString()} but was created after it`);
    }
    return found;
  }

  /** The stored version rows of `secret`, each checked. */
  async #versionsOf(secret: RawSecret): Promise<RawVersion[]> {
    const rows = await this.raw.listVersions(secret.id);
    for (const r of rows) this.#check.version(secret.name, r, secret.id);
    return rows;
  }

  async listVersions(secretId: number): Promise<VersionRow[]> {
    return (await this.#versionsOf(await this.#storedSecret(secretId))).map(toVersion);
  }

  async insertVersion(secretId: number, v: VersionRow): Promise<void> {
    const name = (this.#secrets.get(secretId) ?? await this.#storedSecret(secretId)).name;
    const row: RawVersion = {
      secretId, version: v.version, createdAt: v.createdAt, deletedAt: v.deletedAt, destroyedAt: v.destroyedAt, keyId: v.keyId, ciphertext: v.ciphertext,
      json: v.json, mac: null,
    };
    row.mac = this.auth.version(name, row);
    await this.raw.insertVersion(row);
    this.#swap(null, row.mac);
    this.#versions.set(`${secretId}:${v.version}`, row);
  }

  /** Rewrite the chosen versions of a secret with `change`, each MAC'd anew. */
  async #rewrite(secretId: number, versions: number[], change: (v: RawVersion) => Partial<VersionRow> | undefined): Promise<void> {
    const secret = await this.#storedSecret(secretId);
    const chosen = new Set(versions);
    for (const old of await this.#versionsOf(secret)) {
      if (!chosen.has(old.version)) continue;
      const patch = change(old);
      if (!patch) continue;
      const fields = { ...old, ...patch };
      const row: RawVersion = { ...fields, mac: this.auth.version(secret.name, fields) };
      await this.raw.updateVersion(row);
      this.#swap(old.mac, row.mac);
      this.#versions.set(`${secretId}:${row.version}`, row);
      // The secret row's MAC covers its current version's state: it changes with it.
      if (row.version === secret.currentVersion) await this.#writeSecret(secret, { ...secret, head: headOf(row) });
    }
  }

  async setDeleted(secretId: number, versions: number[], deletedAt: number | null): Promise<void> {
    await this.#rewrite(secretId, versions, (v) => (v.destroyedAt === null ? { deletedAt } : undefined));
  }

  async destroyVersions(secretId: number, versions: number[], now: number): Promise<void> {
    await this.#rewrite(secretId, versions, (v) => (v.destroyedAt === null ? { destroyedAt: now, ciphertext: null, keyId: null } : undefined));
  }

  async pruneVersions(secretId: number, keep: number): Promise<number[]> {
    // The oldest by number, whatever order the driver read them in.
    const all = (await this.#versionsOf(await this.#storedSecret(secretId))).sort((a, b) => a.version - b.version);
    const doomed = all.slice(0, Math.max(0, all.length - keep));
    for (const v of doomed) this.#swap(v.mac, null);
    await this.raw.deleteVersions(secretId, doomed.map((v) => v.version));
    return doomed.map((v) => v.version);
  }

  async listSecrets(prefix: string, after: string, limit: number): Promise<SecretListRow[]> {
    return (await this.raw.listSecrets(prefix, after, limit)).map((r) => {
      const secret = this.#checkedSecret(r.secret); // its MAC covers the current version's state
      return {
        ...secret,
        oldestVersion: r.oldestVersion,
        versionCount: r.versionCount,
        currentDeleted: r.secret.head?.deletedAt != null,
        currentDestroyed: r.secret.head?.destroyedAt != null,
      };
    });
  }

  async counts(): Promise<StoreCounts> {
    return await this.raw.counts();
  }

  // ---- data keys --------------------------------------------------------

  async #rawKeys(): Promise<RawKey[]> {
    const rows = await this.raw.keys();
    for (const r of rows) this.#check.key(r);
    return rows;
  }

  async keys(): Promise<KeyRow[]> {
    return (await this.#rawKeys()).map(({ mac: _, ...k }) => k);
  }

  async insertKey(k: KeyRow): Promise<void> {
    const row: RawKey = { ...k, mac: this.auth.key(k) };
    await this.raw.insertKey(row);
    this.#swap(null, row.mac);
  }

  async primaryKeyId(): Promise<number | undefined> {
    // Unchecked on purpose: it only tells a writer whether to reload the keyset, and the reload checks every key row.
    return await this.raw.primaryKeyId();
  }

  async #updateKey(id: number, patch: Partial<KeyRow>): Promise<void> {
    const old = (await this.#rawKeys()).find((k) => k.id === id);
    if (!old) throw tampered(`data key id ${id.toString(16)}`, 'vanished during the transaction');
    const { mac: _, ...fields } = { ...old, ...patch };
    const row: RawKey = { ...fields, mac: this.auth.key(fields) };
    await this.raw.updateKey(row);
    this.#swap(old.mac, row.mac);
  }

  async setKeyStatus(id: number, status: KeyRow['status']): Promise<void> {
    await this.#updateKey(id, { status });
  }

  async setKeyWrapping(id: number, wrapped: Uint8Array | null): Promise<void> {
    await this.#updateKey(id, { wrapped });
  }

  async versionsUnderKey(keyId: number, limit: number, after?: VersionPlace): Promise<RewrapRow[]> {
    return (await this.raw.versionsUnderKey(keyId, limit, after)).map(({ name, row }) => {
      this.#check.version(name, row, row.secretId);
      if (row.ciphertext === null || row.keyId === null) throw tampered(place.version(name, row), 'names a data key but holds no ciphertext');
      const handed: CheckedRewrapRow = { secretId: row.secretId, name, version: row.version, keyId: row.keyId, ciphertext: row.ciphertext, mac: row.mac!, [CHECKED]: row };
      return handed;
    });
  }

  async replaceCiphertext(read: RewrapRow, toKeyId: number, ciphertext: Uint8Array, readElement?: Uint8Array): Promise<boolean> {
    const old = (read as CheckedRewrapRow)[CHECKED];
    if (!old) throw new Error('replaceCiphertext: the version was not read by versionsUnderKey');
    // The secret row's MAC covers its current version's nonce: a rewrap keeps it, and so leaves that row as it is.
    if (!equalBytes(headNonce(ciphertext) as Uint8Array, headNonce(old.ciphertext) as Uint8Array)) {
      throw new Error('replaceCiphertext: a rewrapped value keeps its nonce');
    }
    // The name the read joined is not read again from the secret's row (a statement and a MAC a version): a
    // version's MAC binds its secret's id, not the name, which only names the place in messages; and the caller
    // opened the old value under that name, which its AEAD binds, before sealing the new one under it.
    const row: RawVersion = {
      secretId: old.secretId, version: old.version, createdAt: old.createdAt, deletedAt: old.deletedAt, destroyedAt: old.destroyedAt,
      keyId: toKeyId, ciphertext, json: old.json, mac: null,
    };
    row.mac = this.auth.version(read.name, row);
    // Written only over the row as it was checked (its key and its MAC, which every change of a row replaces):
    // the old element leaves the digest because it is the one stored, and nothing changed since is overwritten.
    if (!await this.raw.replaceCiphertext(row, { keyId: old.keyId!, mac: old.mac! })) return false;
    this.#swap(old.mac, row.mac, readElement);
    return true;
  }

  /** Each secret row of the page checked; one under a v1 MAC written again as it is, under the v2 MAC (the digest swaps its element). */
  async remacSecrets(afterId: number, limit: number): Promise<{ lastId: number | undefined; written: number }> {
    const rows = await this.raw.secretsPage(afterId, limit);
    let written = 0;
    for (const r of rows) {
      if (this.#check.secret(r)) continue;
      const { mac: _, ...fields } = r;
      await this.#writeSecret(r, fields);
      written++;
    }
    return { lastId: rows.at(-1)?.id, written };
  }

  // ---- audit ------------------------------------------------------------

  async auditHead(): Promise<AuditHead | undefined> {
    if (this.#auditHead) return this.#auditHead;
    const s = await this.#live();
    return s.auditSeq === 0 ? undefined : { seq: s.auditSeq, mac: s.auditMac };
  }

  async insertAudit(row: AuditRow): Promise<void> {
    // Chain only onto a log that ends where the state row says: a cut log stays cut, visibly. Once this
    // transaction has appended, the log ends at its own last entry (nobody else writes meanwhile): a batch
    // of entries (audit-batch.ts) checks the stored end once, not once each.
    if (this.#auditHead === undefined) {
      const head = await this.auditHead();
      const last = await this.raw.lastAudit();
      const intact = head === undefined ? last === undefined : last !== undefined && last.seq === head.seq && macMatches(head.mac, last.mac);
      if (!intact) {
        throw tampered('the audit log', `does not end at its authenticated last entry ${head?.seq ?? 0} (it ends at ${last?.seq ?? 'no entry'}): entries were removed or added`);
      }
    }
    await this.raw.insertAudit(row);
    this.#auditHead = { seq: row.seq, mac: row.mac };
    this.#dirty = true;
  }

  async auditPage(afterSeq: number, limit: number, filter?: AuditFilter): Promise<AuditRow[]> {
    return await this.raw.auditPage(afterSeq, limit, filter);
  }

  /** Audit rows are not in the digest (the chain covers them); where the kept chain starts is the authenticated `audit_start` entry. */
  async deleteAuditThrough(seq: number): Promise<void> {
    await this.raw.deleteAuditThrough(seq);
  }

  // ---- records ----------------------------------------------------------

  /** The stored row of (kind, id), checked under that place; undefined when there is none. */
  async #storedRecord(kind: string, id: string): Promise<RawRecord | undefined> {
    const r = await this.raw.getRecord(kind, id);
    if (r) this.#check.record(r, kind, id);
    return r;
  }

  async getRecord(kind: string, id: string): Promise<string | undefined> {
    return (await this.#storedRecord(kind, id))?.value;
  }

  async putRecord(kind: string, id: string, value: string): Promise<void> {
    const old = await this.#storedRecord(kind, id);
    const mac = this.auth.record({ kind, id, value });
    await this.raw.putRecord({ kind, id, value, mac });
    this.#swap(old?.mac, mac);
  }

  async deleteRecord(kind: string, id: string): Promise<boolean> {
    const old = await this.#storedRecord(kind, id);
    if (!old) return false;
    await this.raw.deleteRecord(kind, id);
    this.#swap(old.mac, null);
    return true;
  }

  async listRecords(kind: string): Promise<RecordEntry[]> {
    return (await this.raw.listRecords(kind)).map((r) => {
      this.#check.record(r, kind);
      return { id: r.id, value: r.value };
    });
  }
}

/** `Storage` with every row authenticated, over a driver's raw storage. */
export class GuardedStorage implements Storage {
  readonly #cache = new StateCache();
  /** Write transactions of this connection that changed rows other than audit entries (counted before their commit). */
  #ownChanges = 0;

  constructor(readonly raw: RawStorage, readonly auth: RowAuthenticator) {}

  get schemaVersion(): number {
    return this.raw.schemaVersion;
  }

  exclusive<T>(fn: (lock: HeldLock) => Promise<T>, options?: ExclusiveOptions): Promise<T> {
    return this.raw.exclusive(fn, options);
  }

  /** The driver's file capabilities, when it keeps the store in one local file. */
  get file(): FileCapabilities | undefined {
    return this.raw.file;
  }

  /** `fn` over a guarded view of the driver's transaction, the state row saved before it commits. */
  #changing<T>(fn: (tx: StorageOps) => Promise<T>): (raw: RawOps) => Promise<T> {
    return async (raw) => {
      const tx = new GuardedTx(raw, this.auth, this.#cache);
      const result = await fn(tx);
      await tx.finish();
      // Counted before the commit: whoever asks from here on reads again, and a read waits for this transaction to end.
      if (tx.rowsChanged) this.#ownChanges++;
      return result;
    };
  }

  /**
   * A number that moves whenever the store's rows (anything but the audit
   * log) may have changed: a write of this connection that changed a row,
   * or a commit by any other connection (which may have been an audit entry
   * only: a move means "may have changed"; the driver's detector, where it
   * has one, leaves out commits that only appended audit entries). undefined while this connection
   * is inside a transaction: then nobody can tell, and a cache must not
   * answer from what it holds. Lets a long-lived process keep what it
   * derived from the store (a server's tokens and policies) exactly as long
   * as it is current, whoever changes the file. `recheck` false: other
   * connections' commits as of the last check (no query), this connection's
   * changes up to now.
   */
  changeCounter(recheck = true): number | undefined {
    // A driver without a change detector cannot say: nothing may be kept.
    if (!this.raw.changeCounter) return undefined;
    if (recheck || this.#theirs === undefined) this.#theirs = this.raw.changeCounter();
    return this.#theirs === undefined ? undefined : this.#theirs + this.#ownChanges;
  }

  /** Other connections' count as of the last recheck. */
  #theirs: number | undefined;

  write<T>(fn: (tx: StorageOps) => Promise<T>, options?: WriteOptions): Promise<T> {
    return this.raw.write(this.#changing(fn), options);
  }

  read<T>(fn: (tx: StorageOps) => Promise<T>): Promise<T> {
    return this.raw.read((raw) => fn(new GuardedTx(raw, this.auth, this.#cache)));
  }

  async close(): Promise<void> {
    this.auth.close();
    await this.raw.close();
  }

  /** Wipe the integrity key and leave the raw storage open: an open given up, to be begun again on `raw`. */
  abandon(): void {
    this.auth.close();
  }

  /** Verification's walk: unchecked here, because checkState (state.ts) checks and reports every row of the same store. */
  async scanVersions(afterSecretId: number, afterVersion: number, limit: number): Promise<ScannedVersion[]> {
    return (await this.raw.scanVersions(afterSecretId, afterVersion, limit)).map((r) => ({
      ...toVersion(r), secretId: r.secretId, name: r.name, secretUpdatedAt: r.secretUpdatedAt,
    }));
  }

  /** The view single reads go through, kept while the driver hands out the same operations (one per get would cost more than the read). */
  #direct: { ops: RawOps; tx: GuardedTx } | undefined;

  #directFor(ops: RawOps): GuardedTx {
    if (this.#direct?.ops !== ops) this.#direct = { ops, tx: new GuardedTx(ops, this.auth, this.#cache, false) };
    return this.#direct.tx;
  }

  /** A single read outside a transaction (the get path: one statement, no transaction to begin). */
  #one<R>(fn: (tx: GuardedTx) => R): R | Promise<Awaited<R>> {
    return this.raw.readOne((ops) => fn(this.#directFor(ops)));
  }

  // The get path's reads are one statement each; other reads get a read
  // transaction (one snapshot); changes a write transaction of their own.
  readVersion(name: string, version?: number) { return this.#one((tx) => tx.readVersion(name, version)); }
  readVersionAt(name: string, at: number) { return this.#one((tx) => tx.readVersionAt(name, at)); }
  readCurrent(name: string) { return this.#one((tx) => tx.readCurrent(name)); }
  getMeta(key: string) { return this.read((tx) => tx.getMeta(key)); }
  findSecret(name: string) { return this.read((tx) => tx.findSecret(name)); }
  listVersions(secretId: number) { return this.read((tx) => tx.listVersions(secretId)); }
  listSecrets(prefix: string, after: string, limit: number) { return this.read((tx) => tx.listSecrets(prefix, after, limit)); }
  counts() { return this.read((tx) => tx.counts()); }
  keys() { return this.read((tx) => tx.keys()); }
  primaryKeyId() { return this.read((tx) => tx.primaryKeyId()); }
  versionsUnderKey(keyId: number, limit: number, after?: VersionPlace) { return this.read((tx) => tx.versionsUnderKey(keyId, limit, after)); }
  remacSecrets(afterId: number, limit: number) { return this.write((tx) => tx.remacSecrets(afterId, limit)); }
  auditHead() { return this.read((tx) => tx.auditHead()); }
  auditPage(afterSeq: number, limit: number, filter?: AuditFilter) { return this.read((tx) => tx.auditPage(afterSeq, limit, filter)); }
  setMeta(key: string, value: string) { return this.write((tx) => tx.setMeta(key, value)); }
  insertSecret(name: string, now: number) { return this.write((tx) => tx.insertSecret(name, now)); }
  updateSecret(row: SecretRow) { return this.write((tx) => tx.updateSecret(row)); }
  deleteSecret(id: number) { return this.write((tx) => tx.deleteSecret(id)); }
  insertVersion(secretId: number, row: VersionRow) { return this.write((tx) => tx.insertVersion(secretId, row)); }
  setDeleted(secretId: number, versions: number[], at: number | null) { return this.write((tx) => tx.setDeleted(secretId, versions, at)); }
  destroyVersions(secretId: number, versions: number[], now: number) { return this.write((tx) => tx.destroyVersions(secretId, versions, now)); }
  pruneVersions(secretId: number, keep: number) { return this.write((tx) => tx.pruneVersions(secretId, keep)); }
  insertKey(row: KeyRow) { return this.write((tx) => tx.insertKey(row)); }
  setKeyStatus(id: number, status: KeyRow['status']) { return this.write((tx) => tx.setKeyStatus(id, status)); }
  setKeyWrapping(id: number, wrapped: Uint8Array | null) { return this.write((tx) => tx.setKeyWrapping(id, wrapped)); }
  replaceCiphertext(read: RewrapRow, toKeyId: number, ciphertext: Uint8Array, readElement?: Uint8Array) {
    return this.write((tx) => tx.replaceCiphertext(read, toKeyId, ciphertext, readElement));
  }
  insertAudit(row: AuditRow) { return this.write((tx) => tx.insertAudit(row)); }
  deleteAuditThrough(seq: number) { return this.write((tx) => tx.deleteAuditThrough(seq)); }
  getRecord(kind: string, id: string) { return this.read((tx) => tx.getRecord(kind, id)); }
  listRecords(kind: string) { return this.read((tx) => tx.listRecords(kind)); }
  putRecord(kind: string, id: string, value: string) { return this.write((tx) => tx.putRecord(kind, id, value)); }
  deleteRecord(kind: string, id: string) { return this.write((tx) => tx.deleteRecord(kind, id)); }
}
