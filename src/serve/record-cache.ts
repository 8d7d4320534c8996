/**
 * What the server derives from the store's records on every request (a
 * token's entry and its parents, a token's compiled policies, the KV
 * settings), kept for as long as the store has not changed, and not a
 * moment longer. The cache asks the store's change counter
 * (Store.changeCounter: SQLite's data_version on the server's own
 * connection, plus the changes this process made). When it moved, whoever
 * moved it (this server, the CLI, another server on the same file), all of
 * it is dropped: a revocation, a policy change or a new setting written by
 * any process applies from the next request on. Time plays no part: an
 * entry is as current after an hour as after a millisecond, and what
 * depends on the clock (a token's expiry) is judged by the caller on every
 * request from what is cached.
 *
 * The question costs a query, so a server asks it once for all the requests
 * that begin in one turn of the event loop (beginRequest): each request's
 * lookups wait for that check, made at the end of the turn, after every one
 * of those requests arrived, and then count this process's changes at once
 * and other processes' as of the check. Without beginRequest (a CLI
 * command, a test), every lookup asks.
 */
import type { Store } from '../store/store.js';

/** Entries at most: when full, everything is dropped (a flood of distinct keys cannot grow it without bound). */
export const MAX_CACHED = 10_000;

/** RecordCache.cached's answer when `key` would have to be loaded. */
export const NOT_CACHED: unique symbol = Symbol('not cached');

export class RecordCache {
  /** The change counter the entries were read under. */
  #counter: number | undefined;
  readonly #entries = new Map<string, unknown>();
  /**
   * beginRequest checked other processes' commits, so lookups need not: set
   * by every request that begins (each checks anew), cleared when a check
   * could not be made.
   */
  #checked = false;

  constructor(private readonly store: Pick<Store, 'changeCounter'>, private readonly maxEntries = MAX_CACHED) {}

  /** The check shared by the requests begun in this turn of the event loop, once one has begun. */
  #turn: Promise<void> | undefined;

  /**
   * A request begins: resolves once the store has been asked what other
   * processes committed (one query for every request begun in this turn of
   * the event loop, made at its end: after they all arrived), so that this
   * request's lookups, and those of requests already under way, can rely on it.
   */
  beginRequest(): Promise<void> {
    this.#turn ??= new Promise((resolve) => {
      setImmediate(() => {
        this.#turn = undefined;
        try {
          this.#checked = this.#current(true) !== undefined;
        } catch {
          this.#checked = false; // the lookups ask themselves, and meet the failure there
        }
        resolve();
      });
    });
    return this.#turn;
  }

  /**
   * What get(key) would answer without loading, or NOT_CACHED: for callers
   * that answer at once when everything they need is cached, with no
   * promise in between (a server's every request asks several).
   */
  cached<T>(key: string): T | typeof NOT_CACHED {
    const counter = this.#current(!this.#checked);
    if (counter !== undefined && this.#entries.has(key)) return this.#entries.get(key) as T;
    return NOT_CACHED;
  }

  /**
   * The value derived under `key` since the store last changed, or `load()`'s
   * answer, kept only if the store did not change while it ran. Callers must
   * treat what they get as read-only: it is shared between requests.
   */
  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const counter = this.#current(!this.#checked);
    if (counter !== undefined && this.#entries.has(key)) return this.#entries.get(key) as T;
    const value = await load();
    if (counter !== undefined && this.#current(!this.#checked) === counter) {
      if (this.#entries.size >= this.maxEntries) this.#entries.clear();
      this.#entries.set(key, value);
    }
    return value;
  }

  /**
   * The store's change counter (asking the database when `recheck`), the
   * entries dropped when it moved; undefined when it cannot be told now (use
   * nothing cached, keep the entries for the next answer to judge).
   */
  #current(recheck: boolean): number | undefined {
    const counter = this.store.changeCounter({ recheck });
    if (counter !== undefined && counter !== this.#counter) {
      this.#entries.clear();
      this.#counter = counter;
    }
    return counter;
  }
}
