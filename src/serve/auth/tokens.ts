/**
 * Vault service tokens over the store's authenticated records
 * (src/store/records.ts). A token is `hvs.` and 32 random base62 characters;
 * the store keeps only its SHA-256 (record kind `token`, id = the hex hash)
 * and an accessor that names it without being it (kind `token-accessor`,
 * id = the accessor, value = the hash). Every change is one write
 * transaction with its audit entry, which names the accessor, never the token.
 *
 * Lifetimes, kept close to Vault's and simple:
 * - `ttl` defaults to the store's default TTL (768h, as Vault's); a token
 *   with the `root` policy and no ttl never expires.
 * - A token never lives past its hard limit: creation plus the smaller of
 *   `explicit_max_ttl` (when set) and the maximum TTL (768h by default; an
 *   AppRole's token_max_ttl lowers it; root tokens have none). A ttl longer
 *   than that limit is cut to it, and so is every renewal.
 * - A renewal sets the expiry to now + increment (the token's own ttl when
 *   no increment is given), capped at the hard limit. A token without expiry
 *   or not renewable does not renew.
 * - `num_uses` counts the uses left (0: unlimited); the use that takes it to
 *   0 revokes the token. A use-limited token makes no tokens (its children
 *   would escape the count), as in Vault.
 * - A root token that expires makes no root token that never expires.
 * - A token made by another (not an orphan) lives only as long as its
 *   parent: revoking a token revokes its children, recursively, and a lookup
 *   of a child whose parent expired finds it dead.
 * Expiry is checked against the injected clock at every lookup; an expired
 * token found is removed then (with its children), not by a sweeper.
 */
import { StoreError, TamperedError } from '../../errors.js';
import type { Store } from '../../store/store.js';
import type { RecordTx } from '../../store/records.js';
import type { RecordEntry } from '../../storage/storage.js';
import { credentialHash, MAX_CREDENTIAL_LENGTH, newAccessor, newToken, TOKEN_PREFIX } from './credentials.js';
import { parseDuration } from './duration.js';
import { DEFAULT_POLICY, policyNames, ROOT_POLICY, tokenPolicies } from './policy-names.js';
import { NOT_CACHED, RecordCache } from '../record-cache.js';

export const TOKEN_KIND = 'token';
export const ACCESSOR_KIND = 'token-accessor';
/** The `path` of a token made through the token API (or the CLI). */
export const TOKEN_CREATE_PATH = 'auth/token/create';

/** Vault's defaults for the default and the maximum lease TTL: 32 days. */
export const DEFAULT_TTL_SECONDS = 768 * 3600;
export const DEFAULT_MAX_TTL_SECONDS = 768 * 3600;

/** A token as stored (JSON in its record): everything but the token itself. */
export interface TokenEntry {
  accessor: string;
  /** Sorted; `default` included unless asked otherwise (or its non-root parent lacks it); `root` alone for a root token. */
  policies: string[];
  displayName: string;
  meta: Record<string, string> | null;
  /** ms since the epoch. */
  createdAt: number;
  /** The TTL it was created with, in seconds; 0: never expires. */
  creationTtl: number;
  /** Seconds; 0: none. */
  explicitMaxTtl: number;
  /** ms; null: never expires. */
  expireAt: number | null;
  /** The hard limit no renewal passes, ms; null: none. */
  maxExpireAt: number | null;
  lastRenewalAt: number | null;
  renewable: boolean;
  /** Uses left; 0: unlimited. */
  numUses: number;
  orphan: boolean;
  /** The accessor of the token that made it; null for an orphan or a token made without one (CLI). */
  parent: string | null;
  /** `auth/token/create` or `auth/approle/login`. */
  path: string;
}

/** What a client asks for when it creates a token (Vault's auth/token/create body, in our names). */
export interface TokenRequest {
  /** A list or "a,b"; absent: the parent's policies (or none). */
  policies?: unknown;
  noDefaultPolicy?: boolean;
  /** Seconds or a duration string ("1h"). */
  ttl?: unknown;
  explicitMaxTtl?: unknown;
  renewable?: boolean;
  displayName?: string;
  numUses?: unknown;
  /** Not revoked with its parent (a route lets only root or sudo callers ask, as Vault does). */
  orphan?: boolean;
  meta?: Record<string, string> | null;
}

/** How a token is made when not through auth/token/create (AppRole login). */
export interface IssueOptions {
  path: string;
  /** The display name as is (auth/token/create makes "token-<name>"). */
  displayName: string;
  /** A lower maximum TTL than the store's (an AppRole's token_max_ttl). */
  maxTtlSeconds?: number;
}

export interface TokenStoreOptions {
  /** The clock, ms since the epoch (tests inject one). */
  now?: () => number;
  /** Where token chains read outside a transaction are kept while the store is unchanged (a server shares one); default: a cache of its own. */
  cache?: RecordCache;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

/** A token made, not yet written: for a caller that writes it in its own transaction (AppRole login). */
export interface DraftToken {
  token: string;
  hash: string;
  entry: TokenEntry;
}

/** Reads of records, in a transaction or outside one. */
interface RecordReader {
  get(kind: string, id: string): Promise<string | undefined>;
  list(kind: string): Promise<RecordEntry[]>;
}

/**
 * A token's entry and its parents' up the chain (read once, judged against
 * the clock at every use): `orphaned` when the chain ends at a token whose
 * parent is gone.
 */
interface Chain {
  entries: readonly TokenEntry[];
  orphaned: boolean;
}

/** Vault's answers (400) to a child asked of a use-limited token, and to a non-expiring root token asked of an expiring one. */
export const RESTRICTED_USE = 'restricted use token cannot generate child tokens';
export const EXPIRING_ROOT = 'expiring root tokens cannot create non-expiring root tokens';

/** Tokens made by tokens: deeper chains than this are not made by this code. */
const MAX_CHAIN = 256;
const MAX_META_ENTRIES = 64;

/** Bad, unknown, expired or revoked token: what a route answers with 403. */
export function permissionDenied(): StoreError {
  return new StoreError('E_PERMISSION_DENIED', 'permission denied');
}

function usage(message: string): StoreError {
  return new StoreError('E_USAGE', message);
}

function malformed(kind: string, id: string): TamperedError {
  return new TamperedError(`record ${kind}/${id} does not hold what a ${kind} record holds`);
}

const isInt = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n);
const isOptInt = (n: unknown) => n === null || isInt(n);

/** A stored entry, its shape checked (the record's MAC proves we wrote it; this catches a format we did not). */
function parseEntry(hash: string, text: string): TokenEntry {
  let e: Partial<TokenEntry>;
  try {
    e = JSON.parse(text) as Partial<TokenEntry>;
  } catch {
    throw malformed(TOKEN_KIND, hash);
  }
  const ok = typeof e === 'object' && e !== null && typeof e.accessor === 'string' && Array.isArray(e.policies)
    && e.policies.every((p) => typeof p === 'string') && typeof e.displayName === 'string' && isInt(e.createdAt)
    && isInt(e.creationTtl) && isInt(e.explicitMaxTtl) && isOptInt(e.expireAt) && isOptInt(e.maxExpireAt) && isOptInt(e.lastRenewalAt)
    && typeof e.renewable === 'boolean' && isInt(e.numUses) && typeof e.orphan === 'boolean'
    && (e.parent === null || typeof e.parent === 'string') && typeof e.path === 'string'
    && (e.meta === null || (typeof e.meta === 'object' && !Array.isArray(e.meta)));
  if (!ok) throw malformed(TOKEN_KIND, hash);
  // Shared by the requests that use the token while it is cached (record-cache.ts): never changed, only copied.
  Object.freeze(e.policies);
  if (e.meta) Object.freeze(e.meta);
  return Object.freeze(e) as TokenEntry;
}

function parseAccessor(accessor: string, text: string): string {
  try {
    const v = JSON.parse(text) as { token?: unknown };
    if (typeof v?.token === 'string') return v.token;
  } catch {
    // reported below
  }
  throw malformed(ACCESSOR_KIND, accessor);
}

/** The hash a token is kept under; undefined for anything that cannot be one of ours. */
function hashOfToken(token: unknown): string | undefined {
  if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX) || token.length > MAX_CREDENTIAL_LENGTH) return undefined;
  return credentialHash(token);
}

/** @throws E_USAGE (an accessor is checked before it is looked up; a token given instead is refused without being repeated) */
function checkAccessor(accessor: unknown): asserts accessor is string {
  if (typeof accessor === 'string' && accessor.startsWith(TOKEN_PREFIX)) {
    throw usage('that is a token, not an accessor: tokens are named by their accessor (store token list shows them)');
  }
  if (typeof accessor !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(accessor)) throw usage('an accessor is 1 to 128 letters, digits, ".", "_" and "-"');
}

function wholeNumber(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^[0-9]+$/.test(value.trim()) ? Number(value) : value;
  if (!isInt(n) || n < 0) throw usage(`${field} takes a whole number from 0 up`);
  return n;
}

function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw usage(`${field} takes true or false`);
}

function checkMeta(meta: unknown): Record<string, string> | null {
  if (meta === undefined || meta === null) return null;
  if (typeof meta !== 'object' || Array.isArray(meta)) throw usage('meta takes an object of text values');
  const entries = Object.entries(meta as Record<string, unknown>);
  if (entries.length > MAX_META_ENTRIES) throw usage(`meta takes at most ${MAX_META_ENTRIES} entries`);
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > 128 || typeof v !== 'string' || v.length > 1024) throw usage('meta takes keys of 1 to 128 characters and text values of at most 1024');
  }
  return entries.length === 0 ? null : Object.fromEntries(entries) as Record<string, string>;
}

/** Vault's display name rule for auth/token/create: "token-" and the name, with runs of other characters than [a-zA-Z0-9-] made "-". */
function displayNameOf(name: unknown): string {
  if (name === undefined || name === '') return 'token';
  if (typeof name !== 'string' || name.length > 256) throw usage('display_name takes text of at most 256 characters');
  return `token-${name}`.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/-$/, '');
}

export class TokenStore {
  readonly now: () => number;
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  /** Reads outside a transaction. */
  readonly #outside: RecordReader;
  readonly #cache: RecordCache;

  constructor(readonly store: Store, options: TokenStoreOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxTtlSeconds = options.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    this.defaultTtlSeconds = Math.min(options.defaultTtlSeconds ?? DEFAULT_TTL_SECONDS, this.maxTtlSeconds);
    if (!(this.maxTtlSeconds > 0) || !(this.defaultTtlSeconds > 0)) throw usage('token TTLs must be positive');
    this.#outside = { get: (kind, id) => store.readRecord(kind, id), list: (kind) => store.listRecords(kind) };
    this.#cache = options.cache ?? new RecordCache(store);
  }

  #expired(e: TokenEntry, now = this.now()): boolean {
    return e.expireAt !== null && e.expireAt <= now;
  }

  async #hashOfAccessor(r: RecordReader, accessor: string): Promise<string | undefined> {
    const text = await r.get(ACCESSOR_KIND, accessor);
    return text === undefined ? undefined : parseAccessor(accessor, text);
  }

  /** The token kept under `hash` and its parents, as stored; undefined when there is no such token. */
  async #chain(r: RecordReader, hash: string): Promise<Chain | undefined> {
    const text = await r.get(TOKEN_KIND, hash);
    if (text === undefined) return undefined;
    const entry = parseEntry(hash, text);
    const entries = [entry];
    let node = entry;
    for (let depth = 0; node.parent !== null; depth++) {
      if (depth >= MAX_CHAIN) throw new TamperedError(`the chain of parents of token ${entry.accessor} is longer than any this program makes`);
      const parentHash = await this.#hashOfAccessor(r, node.parent);
      const parentText = parentHash === undefined ? undefined : await r.get(TOKEN_KIND, parentHash);
      if (parentText === undefined) return { entries, orphaned: true };
      node = parseEntry(parentHash!, parentText);
      entries.push(node);
    }
    return { entries, orphaned: false };
  }

  /**
   * The chain's token alive (it and every parent up its chain unexpired and
   * present), or dead: then the accessor of the highest token of its chain
   * that is dead, whose tree is to be removed.
   */
  #judge(chain: Chain): { entry: TokenEntry } | { dead: string } {
    const now = this.now();
    let dead: string | undefined;
    for (const e of chain.entries) if (this.#expired(e, now)) dead = e.accessor;
    // A parent is gone: so is everything under it, from the last token the chain reached.
    if (chain.orphaned) dead = chain.entries[chain.entries.length - 1]!.accessor;
    return dead === undefined ? { entry: chain.entries[0]! } : { dead };
  }

  /** The token kept under `hash`, alive or dead (#judge), read through `r` (a transaction's reads are never cached). */
  async #resolve(r: RecordReader, hash: string): Promise<{ entry: TokenEntry } | { dead: string } | undefined> {
    const chain = await this.#chain(r, hash);
    return chain && this.#judge(chain);
  }

  /** Remove a dead token's tree (lazily, at the lookup that found it); nothing on a read-only store. */
  async #bury(accessor: string): Promise<void> {
    if (this.store.readOnly) return;
    await this.store.changeRecords({ action: 'token.expire', detail: `accessor ${accessor}` }, (tx) => this.#revokeTree(tx, accessor));
  }

  /**
   * The live token under `hash`, burying it when it is dead. Its chain comes
   * from the cache while the store is unchanged (a revocation by any process
   * changes it); its expiry is judged now.
   */
  async #live(hash: string): Promise<TokenEntry | undefined> {
    const chain = await this.#cache.get(`token:${hash}`, () => this.#chain(this.#outside, hash));
    const found = chain && this.#judge(chain);
    if (found === undefined) return undefined;
    if ('dead' in found) {
      await this.#bury(found.dead);
      return undefined;
    }
    return found.entry;
  }

  /** Remove the token named by `accessor` and every token under it; how many tokens were removed. */
  async #revokeTree(tx: RecordTx, accessor: string): Promise<number> {
    const all = (await tx.list(TOKEN_KIND)).map((r) => ({ hash: r.id, entry: parseEntry(r.id, r.value) }));
    const hashes = new Map(all.map((t) => [t.entry.accessor, t.hash]));
    const children = new Map<string, string[]>();
    for (const { entry } of all) {
      if (entry.parent !== null) children.set(entry.parent, [...(children.get(entry.parent) ?? []), entry.accessor]);
    }
    let removed = 0;
    const queue = [accessor];
    while (queue.length > 0) {
      const next = queue.pop()!;
      const hash = hashes.get(next) ?? (await this.#hashOfAccessor(tx, next));
      if (hash !== undefined && (await tx.delete(TOKEN_KIND, hash))) removed++;
      await tx.delete(ACCESSOR_KIND, next);
      queue.push(...(children.get(next) ?? []));
    }
    return removed;
  }

  /**
   * A token made and checked but not yet written (`issueIn` writes it):
   * policies, lifetime and uses as `request` asks within what `parent` may give.
   * @throws E_USAGE for a malformed request, E_PERMISSION_DENIED for policies the parent lacks
   */
  draft(parent: TokenEntry | undefined, request: TokenRequest, how: IssueOptions): DraftToken {
    if (typeof request !== 'object' || request === null) throw usage('a token request is an object');
    // A use-limited token would escape its count through children (create, create-orphan and no_parent alike), as in Vault.
    if (parent && parent.numUses > 0) throw usage(RESTRICTED_USE);
    const noDefault = optionalBoolean(request.noDefaultPolicy, 'no_default_policy') ?? false;
    const asked = request.policies === undefined
      ? (parent?.policies ?? []).filter((p) => p !== DEFAULT_POLICY)
      : policyNames(request.policies, 'policies');
    const limited = parent !== undefined && !parent.policies.includes(ROOT_POLICY);
    if (limited) {
      // A token gives no more than it holds, `default` included (Vault: "child policies must be subset of parent").
      if (asked.some((p) => !parent.policies.includes(p))) {
        throw new StoreError('E_PERMISSION_DENIED', "a token's policies must be a subset of its parent's");
      }
    }
    // `default` is added for a non-root parent only when that parent has it (Vault's handleCreateCommon).
    const addDefault = !noDefault && (!limited || parent.policies.includes(DEFAULT_POLICY));
    const policies = tokenPolicies(asked, !addDefault);
    const root = policies.includes(ROOT_POLICY);
    const explicitMaxTtl = request.explicitMaxTtl === undefined ? 0 : parseDuration(request.explicitMaxTtl, 'explicit_max_ttl');
    const asksTtl = request.ttl === undefined ? 0 : parseDuration(request.ttl, 'ttl');
    const maxTtl = root ? 0 : Math.min(how.maxTtlSeconds || this.maxTtlSeconds, this.maxTtlSeconds);
    // The hard limit: the smaller of explicit_max_ttl and the maximum TTL, where set.
    const limit = [explicitMaxTtl, maxTtl].filter((s) => s > 0).reduce((a, b) => Math.min(a, b), Infinity);
    let ttl = asksTtl > 0 ? asksTtl : root ? 0 : this.defaultTtlSeconds;
    if (limit !== Infinity && (ttl === 0 || ttl > limit)) ttl = limit;
    // A root token that expires makes no root token that never does (Vault: its TTL 0 and the parent's not).
    if (ttl === 0 && parent && (parent.creationTtl !== 0 || parent.expireAt !== null)) throw usage(EXPIRING_ROOT);
    const numUses = request.numUses === undefined ? 0 : wholeNumber(request.numUses, 'num_uses');
    const orphan = optionalBoolean(request.orphan, 'no_parent') ?? false;
    const renewable = optionalBoolean(request.renewable, 'renewable') ?? true;
    const createdAt = this.now();
    const token = newToken();
    const entry: TokenEntry = {
      accessor: newAccessor(),
      policies,
      displayName: how.displayName,
      meta: checkMeta(request.meta),
      createdAt,
      creationTtl: ttl,
      explicitMaxTtl,
      expireAt: ttl === 0 ? null : createdAt + ttl * 1000,
      maxExpireAt: limit === Infinity ? null : createdAt + limit * 1000,
      lastRenewalAt: null,
      renewable: renewable && ttl !== 0, // nothing to renew on a token that never expires
      numUses,
      orphan,
      parent: orphan || !parent ? null : parent.accessor,
      path: how.path,
    };
    return { token, hash: credentialHash(token), entry };
  }

  /**
   * Write a drafted token in the caller's transaction. A parent must still
   * be alive (it may have been revoked since the caller looked it up).
   * @throws E_PERMISSION_DENIED when the parent is gone
   */
  async issueIn(tx: RecordTx, draft: DraftToken, parent?: TokenEntry): Promise<void> {
    if (parent) {
      const parentHash = await this.#hashOfAccessor(tx, parent.accessor);
      const alive = parentHash === undefined ? undefined : await this.#resolve(tx, parentHash);
      if (!alive || 'dead' in alive) throw permissionDenied();
      if (alive.entry.numUses > 0) throw usage(RESTRICTED_USE);
    }
    await tx.put(TOKEN_KIND, draft.hash, JSON.stringify(draft.entry));
    await tx.put(ACCESSOR_KIND, draft.entry.accessor, JSON.stringify({ token: draft.hash }));
  }

  /**
   * A new token made by `parent` (undefined: by the store's operator, the CLI).
   * The token is in the result only: the store keeps its hash.
   * @throws E_USAGE, E_PERMISSION_DENIED (policies the parent lacks, a parent revoked meanwhile), E_READ_ONLY
   */
  async create(parent: TokenEntry | undefined, request: TokenRequest = {}): Promise<{ token: string; entry: TokenEntry }> {
    const draft = this.draft(parent, request, { path: TOKEN_CREATE_PATH, displayName: displayNameOf(request.displayName) });
    const detail = `accessor ${draft.entry.accessor}, policies ${draft.entry.policies.join(',')}`;
    await this.store.changeRecords({ action: 'token.create', detail }, (tx) => this.issueIn(tx, draft, parent));
    return { token: draft.token, entry: draft.entry };
  }

  /** The token's entry while it is alive; undefined for an unknown, expired or revoked token (an expired one is removed). */
  async lookup(token: string): Promise<TokenEntry | undefined> {
    const hash = hashOfToken(token);
    return hash === undefined ? undefined : this.#live(hash);
  }

  /**
   * What use(token) answers when answering changes nothing in the store: the
   * entry of a live token without a use limit, or undefined for a token that
   * is not stored; 'use' when only use() can answer, by a change with an
   * audit entry of its own (a use-limited token takes a use, a dead one is
   * removed). Lets a server make the common lookup outside an audit context.
   */
  async usableAsIs(token: string): Promise<TokenEntry | undefined | 'use'> {
    const hash = hashOfToken(token);
    if (hash === undefined) return undefined;
    return this.#asIs(await this.#cache.get(`token:${hash}`, () => this.#chain(this.#outside, hash)));
  }

  /** usableAsIs's answer at once when the token's chain is cached, else NOT_CACHED. */
  usableAsIsCached(token: string): TokenEntry | undefined | 'use' | typeof NOT_CACHED {
    const hash = hashOfToken(token);
    if (hash === undefined) return undefined;
    const chain = this.#cache.cached<Chain | undefined>(`token:${hash}`);
    return chain === NOT_CACHED ? NOT_CACHED : this.#asIs(chain);
  }

  #asIs(chain: Chain | undefined): TokenEntry | undefined | 'use' {
    const found = chain && this.#judge(chain);
    if (found === undefined) return undefined;
    return 'dead' in found || found.entry.numUses !== 0 ? 'use' : found.entry;
  }

  /**
   * A request made with the token: lookup, and for a token of limited uses
   * one use taken, in one transaction. The entry shows the uses left after
   * this one; the last use revokes the token (and shows 0).
   */
  async use(token: string): Promise<TokenEntry | undefined> {
    const hash = hashOfToken(token);
    if (hash === undefined) return undefined;
    const entry = await this.#live(hash);
    if (entry === undefined || entry.numUses === 0) return entry;
    try {
      return await this.store.changeRecords({ action: 'token.use', detail: `accessor ${entry.accessor}` }, async (tx) => {
        const found = await this.#resolve(tx, hash);
        if (!found || 'dead' in found) throw permissionDenied(); // revoked or used up since: nothing is taken, and the attempt is recorded
        const e = found.entry;
        if (e.numUses === 0) return e;
        if (e.numUses === 1) {
          await this.#revokeTree(tx, e.accessor);
          return { ...e, numUses: 0 };
        }
        const next = { ...e, numUses: e.numUses - 1 };
        await tx.put(TOKEN_KIND, hash, JSON.stringify(next));
        return next;
      });
    } catch (e) {
      if (e instanceof StoreError && e.code === 'E_PERMISSION_DENIED') return undefined;
      throw e;
    }
  }

  /**
   * Extend the token's life by `increment` (seconds or a duration; absent or
   * 0: its own TTL) from now, never past its hard limit. A token that never
   * expires is returned as it is.
   * @throws E_PERMISSION_DENIED for a token not alive, E_USAGE when it is not renewable
   */
  async renew(token: string, increment?: unknown): Promise<TokenEntry> {
    const hash = hashOfToken(token);
    const entry = hash === undefined ? undefined : await this.#live(hash);
    if (entry === undefined) throw permissionDenied();
    const asked = increment === undefined || increment === null ? 0 : parseDuration(increment, 'increment');
    if (entry.expireAt === null) return entry;
    if (!entry.renewable) throw usage('the token is not renewable');
    return this.store.changeRecords({ action: 'token.renew', detail: `accessor ${entry.accessor}` }, async (tx) => {
      const found = await this.#resolve(tx, hash!);
      if (!found || 'dead' in found) throw permissionDenied();
      const e = found.entry;
      const now = this.now();
      const wanted = now + (asked > 0 ? asked : e.creationTtl) * 1000;
      const next: TokenEntry = { ...e, expireAt: e.maxExpireAt === null ? wanted : Math.min(wanted, e.maxExpireAt), lastRenewalAt: now };
      await tx.put(TOKEN_KIND, hash!, JSON.stringify(next));
      return next;
    });
  }

  /** Revoke the token and every token under it; how many were revoked (0: no such token, nothing written). */
  async revoke(token: string): Promise<number> {
    const hash = hashOfToken(token);
    const text = hash === undefined ? undefined : await this.store.readRecord(TOKEN_KIND, hash);
    if (text === undefined) return 0;
    const { accessor } = parseEntry(hash!, text);
    return this.store.changeRecords({ action: 'token.revoke', detail: `accessor ${accessor}` }, (tx) => this.#revokeTree(tx, accessor));
  }

  /** The entry of the live token with this accessor. @throws E_USAGE for a malformed accessor */
  async lookupByAccessor(accessor: string): Promise<TokenEntry | undefined> {
    checkAccessor(accessor);
    const hash = await this.#hashOfAccessor(this.#outside, accessor);
    return hash === undefined ? undefined : this.#live(hash);
  }

  /**
   * Revoke the token with this accessor and every token under it; how many were revoked.
   * @throws E_NOT_FOUND when no token has it, E_USAGE for a malformed accessor
   */
  async revokeByAccessor(accessor: string): Promise<number> {
    checkAccessor(accessor);
    return this.store.changeRecords({ action: 'token.revoke', detail: `accessor ${accessor}` }, async (tx) => {
      if ((await this.#hashOfAccessor(tx, accessor)) === undefined) throw new StoreError('E_NOT_FOUND', 'no token has that accessor');
      return this.#revokeTree(tx, accessor);
    });
  }

  /** Every live token's entry (never a token or its hash), oldest first. */
  async list(): Promise<TokenEntry[]> {
    const entries = (await this.store.listRecords(TOKEN_KIND)).map((r) => parseEntry(r.id, r.value));
    const byAccessor = new Map(entries.map((e) => [e.accessor, e]));
    const now = this.now();
    const alive = (e: TokenEntry): boolean => {
      for (let node: TokenEntry | undefined = e, depth = 0; node !== undefined; depth++) {
        if (this.#expired(node, now) || depth > MAX_CHAIN) return false;
        if (node.parent === null) return true;
        node = byAccessor.get(node.parent);
      }
      return false; // a parent is gone
    };
    return entries.filter(alive).sort((a, b) => a.createdAt - b.createdAt || (a.accessor < b.accessor ? -1 : 1));
  }
}
