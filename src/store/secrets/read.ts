/**
 * Reading secrets: a value (the get hot path: one storage read and one AEAD
 * open, no extra async hops), a secret's version history, and the listing of
 * names and metadata. Auditing, the read cache and the hook are the Store's
 * (store.ts).
 */
import { openValue } from '../../crypto/envelope.js';
import { SecretBytes } from '../../crypto/secret.js';
import { reloadKeyset } from '../keys.js';
import { checkName, namePattern } from '../names.js';
import { checkVersionNumber, liveVersion, metadataOf, notFound, stateOf, toTime, usage } from './checks.js';
import type { StoreContext } from '../context.js';
import type { Awaitable, SecretAndVersion, SecretListRow, VersionRow } from '../../storage/storage.js';
import type { GetOptions, ListOptions, SecretDetail, SecretSummary, SecretVersion, VersionEntry, VersionInfo } from '../types.js';
import { StoreError } from '../../errors.js';

const LIST_PAGE = 500;

/**
 * Read the current version, a given version, or the version current at a time.
 * The answer itself when the storage answered at once (SQLite: no await on
 * the whole path, and no promise made until Store.get makes its one); a
 * promise otherwise. Throws rather than rejects on bad input: the caller
 * makes it a rejection.
 */
export function readSecret(c: StoreContext, name: string, options: GetOptions): Awaitable<SecretVersion> {
  checkName(name);
  let found: Awaitable<SecretAndVersion | undefined>;
  let what = 'current version';
  if (options.version !== undefined) {
    if (options.at !== undefined) throw usage('give a version or a time, not both');
    found = c.storage.readVersion(name, checkVersionNumber(options.version));
    what = `version ${options.version}`;
  } else if (options.at !== undefined) {
    const at = toTime(options.at);
    found = c.storage.readVersionAt(name, at);
    what = `version at ${new Date(at).toISOString()}`;
  } else {
    found = c.storage.readVersion(name);
  }
  if (found instanceof Promise) return found.then((f) => openFound(c, name, f, what));
  return openFound(c, name, found, what);
}

function openFound(c: StoreContext, name: string, found: SecretAndVersion | undefined, what: string): Awaitable<SecretVersion> {
  const v = liveVersion(name, found, what);
  // The storage checked that the row found is the one asked for (src/store/integrity/guarded.ts),
  // and the value opens only as `name` at that version (its AAD): a moved or renumbered row fails here.
  const result = (value: SecretBytes): SecretVersion => ({ name, version: v.version, createdAt: new Date(v.createdAt), value, json: v.json });
  // A key we do not hold means another process rotated: reload, then open.
  if (v.keyId !== null && !c.keyset.byId(v.keyId)) return openAfterReload(c, name, v).then(result);
  return result(openStored(c, name, v));
}

/** Open a stored version's value, reloading the keyset once if another process added a key. */
async function openAfterReload(c: StoreContext, name: string, v: VersionRow): Promise<SecretBytes> {
  await reloadKeyset(c);
  return openStored(c, name, v);
}

function openStored(c: StoreContext, name: string, v: VersionRow): SecretBytes {
  return new SecretBytes(openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext));
}

/** Every version of `name`, oldest first. */
export function readHistory(c: StoreContext, name: string): Promise<VersionInfo[]> {
  return c.storage.read(async (tx) => {
    checkName(name);
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    const keyVersion = new Map(c.keyset.info().map((k) => [k.id, k.version]));
    return (await tx.listVersions(secret.id)).map((v) => versionInfo(v, keyVersion));
  });
}

function versionInfo(v: VersionRow, keyVersion?: Map<number, number>): VersionInfo {
  const info: VersionInfo = { version: v.version, createdAt: new Date(v.createdAt), state: stateOf(v), json: v.json };
  if (v.deletedAt !== null) info.deletedAt = new Date(v.deletedAt);
  if (v.destroyedAt !== null) info.destroyedAt = new Date(v.destroyedAt);
  if (v.keyId !== null && keyVersion) {
    const kv = keyVersion.get(v.keyId);
    if (kv !== undefined) info.keyVersion = kv;
  }
  return info;
}

/**
 * A version with its secret's metadata, in one read, whatever the version's
 * state: the value only when the version is live. What a Vault read answers
 * (the version's metadata beside the data, or alone for a deleted one).
 * @throws E_NOT_FOUND for no such secret or version
 */
export async function readEntry(c: StoreContext, name: string, version: number | undefined): Promise<VersionEntry> {
  checkName(name);
  if (version !== undefined) checkVersionNumber(version);
  // The current version (what a KV read asks for most): one statement, outside a transaction, as get's.
  const { secret, row } = version === undefined
    ? await c.storage.readCurrent(name).then((found) => {
      if (!found) throw notFound(name);
      if (!found.version) throw new StoreError('E_NOT_FOUND', `${name} has no current version`);
      return { secret: found.secret, row: found.version };
    })
    : await c.storage.read(async (tx) => {
      const s = await tx.findSecret(name);
      if (!s) throw notFound(name);
      const found = await tx.readVersion(name, version);
      if (!found?.version) throw new StoreError('E_NOT_FOUND', `${name} has no version ${version}`);
      return { secret: s, row: found.version };
    });
  const entry: VersionEntry = { ...versionInfo(row), metadata: metadataOf(secret, 0) };
  if (entry.state === 'live') {
    entry.value = row.keyId !== null && !c.keyset.byId(row.keyId) ? await openAfterReload(c, name, row) : openStored(c, name, row);
  }
  return entry;
}

/** A secret's metadata and every version's, in one read. @throws E_NOT_FOUND */
export function readDetail(c: StoreContext, name: string): Promise<SecretDetail> {
  return c.storage.read(async (tx) => {
    checkName(name);
    const secret = await tx.findSecret(name);
    if (!secret) throw notFound(name);
    const keyVersion = new Map(c.keyset.info().map((k) => [k.id, k.version]));
    const rows = await tx.listVersions(secret.id);
    return { metadata: metadataOf(secret, rows[0]?.version ?? 0), versions: rows.map((v) => versionInfo(v, keyVersion)) };
  });
}

/**
 * Names and metadata (never values), a page at a time. `context` is asked
 * again for each page, so a store closed meanwhile stops the listing (E_CLOSED).
 */
async function* summaryPages(context: () => StoreContext, options: ListOptions): AsyncGenerator<SecretSummary[]> {
  const { prefix, test } = namePattern(options.pattern ?? '');
  let after = '';
  for (;;) {
    const page: SecretListRow[] = await context().storage.listSecrets(prefix, after, LIST_PAGE);
    const summaries: SecretSummary[] = [];
    for (const r of page) {
      if (test && !test(r.name)) continue;
      summaries.push({
        ...metadataOf(r, r.oldestVersion),
        versions: r.versionCount,
        state: r.currentDestroyed ? 'destroyed' : r.currentDeleted ? 'deleted' : 'live',
      });
    }
    yield summaries;
    if (page.length < LIST_PAGE) return;
    after = page[page.length - 1]!.name;
  }
}

/** The summaries one by one, as summaryPages reads them. */
export async function* secretEntries(context: () => StoreContext, options: ListOptions): AsyncGenerator<SecretSummary> {
  for await (const page of summaryPages(context, options)) yield* page;
}

/** All matching secrets' summaries, sorted by name. */
export async function listSecrets(context: () => StoreContext, options: ListOptions): Promise<SecretSummary[]> {
  // A page at a time: an async generator's every yield is a turn of the microtask queue.
  const out: SecretSummary[] = [];
  for await (const page of summaryPages(context, options)) for (const s of page) out.push(s);
  return out;
}
