/**
 * The opt-in read cache of a long-running process: decrypted values of
 * `get(name)` and `get(name, { version })`, least recently used evicted
 * first, each kept at most `ttlMs` from the moment it was read from the
 * store file. The Store drops a secret's entries whenever this process
 * writes to it. A write by another connection (another Store, process or
 * host) drops every entry as soon as the driver's change detector shows it
 * (RawStorage.changeCounter: SQLite's data_version, PostgreSQL's
 * notifications); with a driver that has none, once the entry expires.
 *
 * The cache owns copies: what it hands out is a fresh copy the caller may
 * wipe, and every entry that leaves (evicted, expired, invalidated, cleared)
 * is wiped.
 */
import { StoreError } from '../errors.js';
import { wipe } from '../crypto/bytes.js';
import { SecretBytes } from '../crypto/secret.js';
import type { SecretVersion } from './types.js';

export interface CacheOptions {
  /** How long a value read from the store may be served from memory, in ms (> 0). */
  ttlMs: number;
  /** Most values held at once (default 1000); the least recently used goes first. */
  maxEntries?: number;
}

/** Counters since the store was opened (`size`: entries held now). */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped to stay within maxEntries. */
  evictions: number;
  /** Entries dropped because their TTL had passed. */
  expirations: number;
  /** Entries dropped by writes (this process's, or another's once noticed), clearCache or close. */
  invalidations: number;
  /** Times a write by another connection, process or host was noticed (each drops every entry). */
  changes: number;
  size: number;
}

export const DEFAULT_MAX_ENTRIES = 1000;

/** What a cached read is of: the current version (0) or version N. */
export type Selector = number;
export const LATEST: Selector = 0;

interface Entry {
  key: string;
  name: string;
  version: number;
  createdAt: number;
  bytes: Uint8Array;
  json: boolean;
  /** The clock when the value was read from the store: the entry is older than the TTL from here. */
  readAt: number;
}

function checkOptions(options: CacheOptions): { ttlMs: number; maxEntries: number } {
  if (typeof options !== 'object' || options === null) throw new StoreError('E_USAGE', 'cache must be an object such as { ttlMs: 30000 }');
  const { ttlMs, maxEntries = DEFAULT_MAX_ENTRIES } = options;
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) throw new StoreError('E_USAGE', 'cache.ttlMs must be a number of milliseconds above 0');
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new StoreError('E_USAGE', 'cache.maxEntries must be a whole number from 1 up');
  return { ttlMs, maxEntries };
}

export class ReadCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** Least recently used first. */
  readonly #lru = new Map<string, Entry>();
  /** Oldest read first (the TTL is the same for all, so also soonest to expire). */
  readonly #byAge = new Map<string, Entry>();
  readonly #keysOf = new Map<string, Set<string>>();
  /** Bumped by every invalidation: a read that began before one must not fill the cache. */
  #epoch = 0;
  readonly #stats = { hits: 0, misses: 0, evictions: 0, expirations: 0, invalidations: 0, changes: 0 };
  /** The storage's change detector, when it has one; null: the entries live by their TTL alone. */
  #changes: (() => number | undefined) | null = null;
  /** What the detector said last (null: not asked yet). */
  #seen: number | null = null;

  /** @throws E_USAGE on a ttlMs or maxEntries out of range */
  constructor(options: CacheOptions, now: () => number) {
    const checked = checkOptions(options);
    this.#ttlMs = checked.ttlMs;
    this.#maxEntries = checked.maxEntries;
    this.#now = now;
  }

  /**
   * Ask `changes` before every get: a number other than the last one means
   * another connection wrote, and every entry goes; undefined means it
   * cannot tell just now, and the get reads the store. Asked once here too,
   * so a detector that must connect first starts now.
   */
  follow(changes: () => number | undefined): void {
    this.#changes = changes;
    this.#noticed();
  }

  /** Whether the entries may be served: the detector shows no write by another connection since the last get (dropping them all if it does). */
  #noticed(): boolean {
    const now = this.#changes!();
    if (now === undefined) return false;
    if (now !== this.#seen) {
      if (this.#seen !== null) this.#stats.changes++;
      this.#seen = now;
      this.clear();
    }
    return true;
  }

  /** Taken before reading the store; hand it back to `set`. */
  get epoch(): number {
    return this.#epoch;
  }

  /** The clock, for `set`'s readAt: taken before the store is read, so an entry never outlives its TTL. */
  now(): number {
    return this.#now();
  }

  /**
   * A fresh copy of the cached value, or undefined (counted as a miss).
   * Called before the store is read on a miss, so a write the detector has
   * not shown yet is one the read that follows already sees.
   */
  get(name: string, selector: Selector): SecretVersion | undefined {
    if (this.#changes !== null && !this.#noticed()) {
      this.#stats.misses++;
      return undefined;
    }
    const now = this.#now();
    this.#sweep(now);
    const key = keyOf(name, selector);
    const e = this.#lru.get(key);
    if (e === undefined || !this.#fresh(e, now)) {
      if (e !== undefined) this.#drop(e, 'expirations');
      this.#stats.misses++;
      return undefined;
    }
    this.#lru.delete(key);
    this.#lru.set(key, e);
    this.#stats.hits++;
    return { name: e.name, version: e.version, createdAt: new Date(e.createdAt), value: new SecretBytes(new Uint8Array(e.bytes)), json: e.json };
  }

  /** Keep a copy of `read` (read from the store at `readAt`) unless an invalidation came since `epoch`. */
  set(selector: Selector, read: SecretVersion, readAt: number, epoch: number): void {
    if (epoch !== this.#epoch) return;
    const key = keyOf(read.name, selector);
    const old = this.#lru.get(key);
    if (old !== undefined) this.#drop(old, undefined);
    const e: Entry = {
      key, name: read.name, version: read.version, createdAt: read.createdAt.getTime(), bytes: new Uint8Array(read.value.expose()), json: read.json, readAt,
    };
    this.#lru.set(key, e);
    this.#byAge.set(key, e);
    let keys = this.#keysOf.get(e.name);
    if (keys === undefined) this.#keysOf.set(e.name, (keys = new Set()));
    keys.add(key);
    while (this.#lru.size > this.#maxEntries) this.#drop(this.#lru.values().next().value!, 'evictions');
    this.#sweep(this.#now());
  }

  /** Drop every entry of `name`: this process wrote to it (or tried to). */
  invalidate(name: string): void {
    this.#epoch++;
    const keys = this.#keysOf.get(name);
    if (keys === undefined) return;
    for (const key of [...keys]) this.#drop(this.#lru.get(key)!, 'invalidations');
  }

  /** Drop (and wipe) every entry. */
  clear(): void {
    this.#epoch++;
    for (const e of [...this.#lru.values()]) this.#drop(e, 'invalidations');
  }

  stats(): CacheStats {
    return { ...this.#stats, size: this.#lru.size };
  }

  /** Younger than the TTL, and not from the future (a clock set back must not stretch the TTL). */
  #fresh(e: Entry, now: number): boolean {
    return now >= e.readAt && now - e.readAt < this.#ttlMs;
  }

  /** Drop expired entries from the oldest on, so no expired value lingers in memory while the store is in use. */
  #sweep(now: number): void {
    for (const e of this.#byAge.values()) {
      if (this.#fresh(e, now)) return;
      this.#drop(e, 'expirations');
    }
  }

  #drop(e: Entry, why: 'evictions' | 'expirations' | 'invalidations' | undefined): void {
    this.#lru.delete(e.key);
    this.#byAge.delete(e.key);
    const keys = this.#keysOf.get(e.name)!;
    keys.delete(e.key);
    if (keys.size === 0) this.#keysOf.delete(e.name);
    wipe(e.bytes);
    if (why) this.#stats[why]++;
  }
}

function keyOf(name: string, selector: Selector): string {
  return `${name} ${selector}`; // a name holds no space
}
