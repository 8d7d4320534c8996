/**
 * Data-key rotation (docs/design.md §4 rotate-keys): a new primary key, then
 * rewrap — every version still under an older key is opened and sealed again
 * under the primary, batch by batch: read and sealed anew outside the write
 * lock, then written in one short BEGIN IMMEDIATE transaction, so other
 * processes' writers wait at most one batch's writes (readers never wait,
 * WAL). All progress lives in the rows themselves: a run killed at any point
 * leaves every version under some key we hold, and the next run picks up
 * what is left.
 * Keys that nothing references any more become `retired`.
 */
import { StoreError } from '../errors.js';
import { availableParallelism } from 'node:os';
import { prepareReseal, resealed, resealValue, type SealedValue } from '../crypto/envelope.js';
import { ResealWorker } from '../crypto/reseal-worker.js';
import type { DataKey } from '../crypto/keyset.js';
import { KEY_BYTES } from '../crypto/aead.js';
import { upgradeSecretMacs } from './secret-macs.js';
import { wipe } from '../crypto/bytes.js';
import { canDestroy, canRetire, demote } from '../crypto/keyset-manager.js';
import { reloadKeyset, wrapKey, type KeysetHolder } from './keys.js';
import type { HeldLock, RewrapRow, Storage, VersionPlace } from '../storage/storage.js';
import type { AuditLog } from './audit.js';

export interface RotateOptions {
  /** Make a new primary only if the current one is at least this old (ms); rewrap still resumes. */
  ifOlderThanMs?: number;
  /** Re-encrypt old versions under the new primary (default true). */
  rewrap?: boolean;
  /** Versions per transaction (default 200). */
  batchSize?: number;
  /** Wait for the store's exclusive lock instead of failing with E_LOCKED. */
  wait?: boolean;
  /** Called after each batch. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stop between two batches once aborted (Ctrl-C): what was rewrapped
   * stays rewrapped, the report says `interrupted`, and a later run resumes.
   * Aborted before the lock is held, no new key is made either.
   */
  signal?: AbortSignal;
  /**
   * Open and seal in a worker thread, on another CPU, while this thread reads
   * the next batch and writes the last (default: when there are at least
   * 1,000 versions to rewrap and the host has more than one CPU).
   */
  parallel?: boolean;
}

export interface RotateReport {
  /** True when a new primary key was made. */
  rotated: boolean;
  primaryVersion: number;
  /** Age of the primary before this run, in ms. */
  previousPrimaryAgeMs: number;
  rewrapped: number;
  /**
   * Versions under older keys when the rewrap began: all of them are rewrapped unless `interrupted`, but for
   * those another writer destroyed or purged meanwhile (nothing is left of them to rewrap).
   */
  toRewrap: number;
  /** True when `signal` stopped the run: `toRewrap - rewrapped` versions stay under older keys (which still open them). */
  interrupted: boolean;
  /** Key versions that became retired. */
  retired: number[];
  batches: number;
  /** The longest single batch transaction, in ms: what a concurrent writer may have waited. */
  longestBatchMs: number;
  /** True when the rewrap's opening and sealing ran in a worker thread (RotateOptions.parallel). */
  parallel: boolean;
  durationMs: number;
}

export interface RotationContext extends KeysetHolder {
  path: string;
  storage: Storage;
  now: () => number;
  audit: AuditLog;
}

const DEFAULT_BATCH = 200;
const MAX_BATCH = 10_000;

/** Make a new primary: the old one becomes `active` (decrypt only). One transaction. */
async function addPrimary(c: RotationContext): Promise<number> {
  const fresh = c.keyset.generate(c.now(), 'primary');
  let row;
  try {
    row = await wrapKey(c.master, c.header.storeId, fresh);
  } finally {
    wipe(fresh.material); // an HSM that fails to wrap it leaves no copy behind either
  }
  const old = c.keyset.primary();
  await c.storage.write(async (tx) => {
    if (old) await tx.setKeyStatus(old.id, demote(old));
    await tx.insertKey(row);
  });
  await reloadKeyset(c);
  return fresh.version;
}

/**
 * Between two batches' write transactions the write lock stays free at least
 * this long, for the other processes' writers, which poll for it every
 * millisecond: they wait for one batch's writes, not the whole rewrap. The
 * next batch's reading and sealing fill the gap (some milliseconds for 200
 * versions); a sleep tops up what is left, as with small batches.
 */
const BATCH_GAP_MS = 3;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A turn of the event loop: timers (the lock refresh, a progress bar) and a Ctrl-C handler run. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** From this many versions to rewrap, a worker thread seals (when the host has a second CPU): below it, starting one costs more than it saves. */
const PARALLEL_FROM = 1_000;

/**
 * Re-encrypt every version not under the primary, batch by batch, until done
 * or `signal` is aborted. Each batch is read (every row checked) and sealed
 * anew outside the write lock, then written in one short transaction, each
 * version only if it is still exactly as read (its key and MAC): a version
 * another writer changed meanwhile is read again by the next batch, one
 * deleted or destroyed is left as it now is. So other writers wait only for
 * a batch's writes, never for its decryption and encryption.
 *
 * With a worker (options.parallel), the next batch is read and sealed there
 * while this one is written; it is dropped, and read again from the right
 * place, when the write finds a version changed.
 */
async function rewrapAll(c: RotationContext, lock: HeldLock, batchSize: number, options: RotateOptions) {
  const { onProgress, signal } = options;
  // A copy of its own: a reload of the keyset in this process (a keys() or verify() between two batches) wipes
  // the keys it replaces, and sealing went on under the wiped, all-zero material.
  const current = c.keyset.primary()!;
  const primary: DataKey = { ...current, material: current.material?.slice() };
  const byKey = (await c.storage.counts()).byKey;
  const oldKeys = c.keyset.info().filter((k) => k.id !== primary.id && (byKey.get(k.id) ?? 0) > 0);
  const total = oldKeys.reduce((n, k) => n + (byKey.get(k.id) ?? 0), 0);
  const parallel = total > 0 && (options.parallel ?? (total >= PARALLEL_FROM && availableParallelism() > 1));
  const worker = parallel ? new ResealWorker() : undefined;
  /** A batch read and checked, and its values sealed anew (by the worker: on their way). */
  const readBatch = async (keyId: number, after: VersionPlace): Promise<Batch> => {
    const rows = await c.storage.versionsUnderKey(keyId, batchSize, after);
    const sealed = worker
      ? resealInWorker(worker, c, primary, rows)
      : Promise.resolve(rows.map((r) => resealValue(c.keyset, primary, c.header.storeId, r.name, r.version, r.ciphertext)));
    sealed.catch(() => undefined); // seen when awaited, or dropped with its batch
    return { rows, sealed };
  };
  let done = 0;
  let batches = 0;
  let longestBatchMs = 0;
  let interrupted = false;
  let lastWrite = -Infinity;
  onProgress?.(0, total);
  try {
    rewrap: for (const old of oldKeys) {
      // Where the last batch stopped: the next reads on from there, so the whole rewrap reads the table once.
      let after: VersionPlace = { secretId: 0, version: 0 };
      let next: Promise<Batch> | undefined;
      for (;;) {
        await turn();
        if (signal?.aborted && done < total) {
          interrupted = true;
          break rewrap;
        }
        lock.check();
        const { rows, sealed: sealing } = await (next ?? readBatch(old.id, after));
        next = undefined;
        if (rows.length === 0) break;
        if (worker && rows.length === batchSize) {
          next = readBatch(old.id, placeOf(rows[rows.length - 1]!));
          // Read, checked and handed to the worker before this batch's write, so none of it runs inside that
          // transaction and lengthens it; a failure is met at the next turn, as it would be without a worker.
          await next.then(() => undefined, () => undefined);
        }
        const sealed = await sealing;
        const rest = BATCH_GAP_MS - (performance.now() - lastWrite);
        if (rest > 0) await sleep(rest);
        const started = performance.now();
        // The first version that changed since it was read (-1: none); a body run again after a conflict writes the same.
        const { written, changed } = await c.storage.write(async (tx) => {
          let n = 0;
          let first = -1;
          for (let i = 0; i < rows.length; i++) {
            if (await tx.replaceCiphertext(rows[i]!, sealed[i]!.keyId, sealed[i]!.blob, sealed[i]!.readElement)) n++;
            else if (first < 0) first = i;
          }
          return { written: n, changed: first };
        });
        lastWrite = performance.now();
        longestBatchMs = Math.max(longestBatchMs, lastWrite - started);
        batches++;
        done += written;
        onProgress?.(Math.min(done, total), total);
        // On from the last version read, or from just before the first one that changed, which the next batch reads again.
        const resume = changed < 0 ? rows[rows.length - 1]! : changed > 0 ? rows[changed - 1]! : undefined;
        if (resume) after = placeOf(resume);
        if (changed >= 0) next = undefined;
        if (changed < 0 && rows.length < batchSize) break;
      }
    }
  } finally {
    await worker?.close();
    wipe(primary.material);
  }
  return { rewrapped: done, toRewrap: total, interrupted, batches, longestBatchMs, parallel };
}

interface Batch {
  rows: RewrapRow[];
  /** Each row's value sealed anew; from the worker, with the element its read MAC leaves the digest with. */
  sealed: Promise<(SealedValue & { readElement?: Uint8Array })[]>;
}

const placeOf = (r: RewrapRow): VersionPlace => ({ secretId: r.secretId, version: r.version });

/** A batch sealed by the worker: checked and made ready here, the subkeys handed over (zeroed here if they cannot be). */
async function resealInWorker(worker: ResealWorker, c: RotationContext, primary: DataKey, rows: readonly RewrapRow[]): Promise<(SealedValue & { readElement: Uint8Array })[]> {
  const keys = new Uint8Array(2 * KEY_BYTES * rows.length);
  let prepared;
  try {
    prepared = rows.map((r, i) => prepareReseal(c.keyset, primary, c.header.storeId, r.name, r.version, r.ciphertext, r.mac, keys.subarray(2 * KEY_BYTES * i, 2 * KEY_BYTES * (i + 1))));
  } catch (e) {
    wipe(keys);
    throw e;
  }
  const bodies = await worker.reseal(keys, prepared.map((p) => p.job));
  return prepared.map((p, i) => resealed(p, bodies[i]!));
}

/** Every non-primary key that no version references becomes `retired`; the run is audited in the same transaction. */
function retireUnused(c: RotationContext, summary: (retired: number[]) => string, outcome: string): Promise<number[]> {
  return c.storage.write(async (tx) => {
    const byKey = (await tx.counts()).byKey;
    const retired: number[] = [];
    for (const k of await tx.keys()) {
      const next = canRetire(k, byKey.get(k.id) ?? 0);
      if (next) {
        await tx.setKeyStatus(k.id, next);
        retired.push(k.version);
      }
    }
    await c.audit.append(tx, { action: 'rotate-keys', outcome, detail: summary(retired) });
    return retired;
  });
}

export async function rotateKeys(c: RotationContext, options: RotateOptions = {}): Promise<RotateReport> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new StoreError('E_USAGE', `batch size must be 1..${MAX_BATCH}`);
  }
  if (options.ifOlderThanMs !== undefined && !(options.ifOlderThanMs >= 0)) {
    throw new StoreError('E_USAGE', 'ifOlderThanMs must be 0 or more');
  }
  const started = performance.now();
  return c.storage.exclusive(async (lock) => {
    await reloadKeyset(c); // another process may have rotated since we opened
    const current = c.keyset.primary()!;
    const previousPrimaryAgeMs = Math.max(0, c.now() - current.createdAt);
    // Stopped while waiting for the lock: no new key (a rewrap left over from before is counted, not done).
    const stoppedEarly = options.signal?.aborted === true;
    const due = !stoppedEarly && (options.ifOlderThanMs === undefined || previousPrimaryAgeMs >= options.ifOlderThanMs);
    const primaryVersion = due ? await addPrimary(c) : current.version;
    const work = options.rewrap === false
      ? { rewrapped: 0, toRewrap: 0, interrupted: false, batches: 0, longestBatchMs: 0, parallel: false }
      : await rewrapAll(c, lock, batchSize, options);
    const interrupted = stoppedEarly || work.interrupted;
    // Secret rows from before schema 9 take the v2 MAC too: after this run every get checks one MAC.
    const remaced = interrupted || options.signal?.aborted ? 0 : await upgradeSecretMacs(c.storage, lock);
    const left = work.toRewrap - work.rewrapped;
    const retired = await retireUnused(c, (r) =>
      `primary key ${primaryVersion}${due ? ' (new)' : ''}; rewrapped ${work.rewrapped}${interrupted ? ` of ${work.toRewrap}, interrupted with ${left} left` : ''}` +
      `${r.length ? `; retired ${r.join(',')}` : ''}${remaced ? `; ${remaced} secret rows given the v2 MAC` : ''}`, interrupted ? 'E_INTERRUPTED' : 'ok');
    await reloadKeyset(c);
    return {
      rotated: due,
      primaryVersion,
      previousPrimaryAgeMs,
      ...work,
      interrupted,
      retired,
      durationMs: performance.now() - started,
    };
  }, { wait: options.wait });
}

/**
 * Erase a retired key's material for good. Refused for a key that still
 * encrypts anything, and for the primary or an active key.
 */
export async function destroyKey(c: RotationContext, keyVersion: number, options: { wait?: boolean } = {}): Promise<void> {
  await c.storage.exclusive(async () => {
    await c.storage.write(async (tx) => {
      const key = (await tx.keys()).find((k) => k.version === keyVersion);
      if (!key) throw new StoreError('E_NOT_FOUND', `no data key version ${keyVersion}`);
      if (key.status === 'destroyed') return;
      const uses = (await tx.counts()).byKey.get(key.id) ?? 0;
      const next = canDestroy(key, uses);
      if (next instanceof StoreError) throw next;
      await tx.setKeyWrapping(key.id, null);
      await tx.setKeyStatus(key.id, next);
      await c.audit.append(tx, { action: 'keys.destroy', outcome: 'ok', detail: `key ${keyVersion}` });
    });
    await c.storage.file?.checkpoint();
    await reloadKeyset(c);
  }, options);
}
