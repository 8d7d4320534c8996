/**
 * A whole store's rows from one storage into another, exactly as stored:
 * header entries, data keys, secrets (with their ids), versions, audit
 * entries, records, the state row and the secret id counter. Nothing is
 * decrypted, re-encrypted or re-MAC'd: the row MACs, the digest of the state
 * and the audit chain depend on the rows' contents and the store's keys,
 * never on the driver, so the copy is the same store wherever it lands. What
 * checks it is the caller's business (a deep verification of the target).
 *
 * The source is read in one snapshot (a read transaction) and the target
 * written in one transaction, a page at a time: a big store never sits in
 * memory, and the target holds all of it or none of it.
 */
import { StoreError } from '../errors.js';
import type { RawOps, RawStorage, StateRow } from './storage.js';

/** Rows of most tables per page. */
const PAGE = 1000;
/** Versions per page: each holds a ciphertext, up to the store's value limit (1 MiB by default). */
const VERSION_PAGE = 200;

/** How many rows of each table were copied. */
export interface CopiedRows {
  meta: number;
  keys: number;
  secrets: number;
  versions: number;
  audit: number;
  records: number;
}

export interface CopyResult {
  rows: CopiedRows;
  /** The state row copied (undefined: the source had none); its MAC tells whether the source changed since. */
  state: StateRow | undefined;
}

export interface RowCopyOptions {
  /** Rows copied so far, of the total (the records' count is learnt as they come). */
  onProgress?: (done: number, total: number) => void;
  /** Called (and awaited) between pages, with the event loop turned: long work checks its lock here. */
  between?: () => void | Promise<void>;
  /**
   * Remove every row of the target first (restore over a store), in the same
   * transaction. Otherwise the target must hold no row at all.
   */
  replace?: boolean;
  /** How the target is named in messages. */
  targetShown?: string;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Whether a storage holds no row at all (a schema and nothing else). */
export async function holdsNoRows(ops: RawOps): Promise<boolean> {
  return (await ops.allMeta()).length === 0
    && (await ops.keys()).length === 0
    && (await ops.secretsPage(0, 1)).length === 0
    && (await ops.versionsPage(0, 0, 1)).length === 0
    && (await ops.lastAudit()) === undefined
    && (await ops.state()) === undefined
    && (await ops.recordsPage('', '', 1)).length === 0;
}

/** The number of audit entries, from the first and last sequence numbers (a progress total, not a check). */
async function auditEntries(ops: RawOps): Promise<number> {
  const last = await ops.lastAudit();
  const first = (await ops.auditPage(0, 1))[0];
  return last && first ? Math.max(0, last.seq - first.seq + 1) : 0;
}

/**
 * Copy every row `from` holds into `to`: `from` is a read transaction's
 * operations (one snapshot), `to` a write transaction's. Order follows the
 * foreign key (secrets before their versions).
 * @throws E_STORE_EXISTS when the target holds rows (and `replace` is not set)
 */
export async function copyRows(from: RawOps, to: RawOps, options: RowCopyOptions = {}): Promise<CopyResult> {
  if (options.replace) await to.deleteAllRows();
  else if (!(await holdsNoRows(to))) {
    throw new StoreError('E_STORE_EXISTS', `${options.targetShown ?? 'the target'} already holds a store`, ['copy into a new file or an empty database']);
  }
  const meta = await from.allMeta();
  const keys = await from.keys();
  const counts = await from.counts();
  let total = meta.length + keys.length + counts.secrets + counts.versions + (await auditEntries(from));
  let done = 0;
  const rows: CopiedRows = { meta: 0, keys: 0, secrets: 0, versions: 0, audit: 0, records: 0 };
  const step = async (n: number) => {
    done += n;
    total = Math.max(total, done);
    options.onProgress?.(done, total);
    await turn();
    await options.between?.();
  };
  options.onProgress?.(0, total);

  for (const m of meta) await to.putMeta(m);
  rows.meta = meta.length;
  for (const k of keys) await to.insertKey(k);
  rows.keys = keys.length;
  await step(meta.length + keys.length);

  for (let after = 0; ;) {
    const page = await from.secretsPage(after, PAGE);
    for (const s of page) await to.insertSecretRow(s);
    rows.secrets += page.length;
    await step(page.length);
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.id;
  }

  for (let after = [0, 0] as [number, number]; ;) {
    const page = await from.versionsPage(after[0], after[1], VERSION_PAGE);
    for (const v of page) await to.insertVersion(v);
    rows.versions += page.length;
    await step(page.length);
    if (page.length < VERSION_PAGE) break;
    const last = page[page.length - 1]!;
    after = [last.secretId, last.version];
  }

  for (let after = 0; ;) {
    const page = await from.auditPage(after, PAGE);
    for (const a of page) await to.insertAudit(a);
    rows.audit += page.length;
    await step(page.length);
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.seq;
  }

  for (let after = ['', ''] as [string, string]; ;) {
    const page = await from.recordsPage(after[0], after[1], PAGE);
    for (const r of page) await to.putRecord(r);
    rows.records += page.length;
    await step(page.length);
    if (page.length < PAGE) break;
    const last = page[page.length - 1]!;
    after = [last.kind, last.id];
  }

  const state = await from.state();
  if (state) await to.putState(state);
  // Ids of purged secrets stay used: a row MAC'd under one of them could otherwise fit a new secret.
  await to.raiseSecretIdHighWater(await from.secretIdHighWater());
  return { rows, state };
}

/**
 * Copy every row of `source`, read in one snapshot, into `target` in one
 * write transaction: the target gets all of them or, on any failure, none.
 * @throws E_STORE_EXISTS when the target holds rows (and `replace` is not set); what either driver throws
 */
export async function copyStorage(source: RawStorage, target: RawStorage, options: RowCopyOptions = {}): Promise<CopyResult> {
  if (source.schemaVersion !== target.schemaVersion) {
    throw new StoreError('E_USAGE', `the two stores are at different schema versions (${source.schemaVersion} and ${target.schemaVersion}): rows cannot be copied between them`);
  }
  // The target's transaction runs inside the source's snapshot: two connections, and nothing of
  // either waits for the other. A source with more than one connection reads beside its other work.
  const snapshot = source.readBeside ? source.readBeside.bind(source) : source.read.bind(source);
  return snapshot((from) => target.write((to) => copyRows(from, to, options)));
}
