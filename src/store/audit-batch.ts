/**
 * Group commit for the audit entries that come with no change of their own:
 * audited reads, failed reads, and requests a server records. Each used to
 * be its own write transaction, so concurrent reads queued one commit each
 * behind the connection's single transaction. Here the first entry starts a
 * commit at once (a lone read waits for nothing: no timer); entries made
 * while that commit runs queue, and the next commit appends all of them, in
 * the order they came, in one relaxed write transaction, chained as usual.
 *
 * A server's requests are gathered a little longer: an entry made for one
 * (in an audit context, or recorded by recordRequest) starts its commit at
 * the end of the current turn of the event loop (setImmediate, not a timer),
 * so the requests that the same turn brings in, each from its own socket,
 * share it. A commit runs in a few microtasks, so without this each request
 * would find the batcher idle and commit alone. A server that starts the
 * requests of a turn together (store serve: after its once-a-turn check)
 * hands their context over (handOverAuditContext), and their entries commit
 * as soon as the microtasks under way have run: waiting for the next turn
 * would split each turn's requests over two commits.
 *
 * Fail closed: each caller's promise settles only with the commit that holds
 * its entry, and if that commit fails every caller in it gets the error, so
 * no read whose entry was not committed returns its value.
 */
import { StoreError } from '../errors.js';
import type { AuditEntry, AuditLog } from './audit.js';
import { capturedAuditContext, inAuditContext, type AuditFlow } from './audit-context.js';
import type { GuardedStorage } from './integrity/guarded.js';

/** Entries per transaction at most: a flood of reads does not hold the write lock for one long commit. */
export const MAX_BATCH_ENTRIES = 1000;

interface Batch {
  entries: AuditEntry[];
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { entries: [], done, resolve, reject };
}

/** What the batcher writes through, looked up at each commit (a store's context). */
export interface AuditTarget {
  storage: Pick<GuardedStorage, 'write'>;
  audit: AuditLog;
}

export class AuditBatcher {
  /** A commit is under way; entries made meanwhile wait in #queue for the next. */
  #busy = false;
  /** Batches waiting their turn, oldest first; only the last still takes entries. */
  readonly #queue: Batch[] = [];
  #closed = false;
  /** Woken when the last commit under way has settled (close waits for it). */
  #idle: (() => void)[] = [];

  constructor(private readonly target: AuditTarget) {}

  /**
   * Append `entry` (with the current flow's request context, taken now, or
   * `flow`, taken by the caller when its operation began) in the next
   * commit. Resolves once that commit has committed.
   * @param gather wait before committing, so that other requests' entries join (default: when the entry is made for a request, i.e. a server's): until the end of this turn of the event loop, or, for a context handed over (handOverAuditContext: requests started together), until the microtasks under way have run
   * @throws E_CLOSED after close(); whatever the commit failed with (E_TAMPERED for a cut log, E_IO…)
   */
  append(entry: AuditEntry, gather?: boolean, flow: AuditFlow | undefined = capturedAuditContext()): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('E_CLOSED', 'the store is closed'));
    const e = inAuditContext(entry, flow);
    if (!this.#busy) {
      this.#busy = true;
      if (!(gather ?? flow !== undefined)) return this.#commit([e]);
      const batch = newBatch();
      batch.entries.push(e);
      this.#queue.push(batch);
      // A tick queued from a microtask runs once the microtask queue is empty: after every request started with this one has made its entry.
      if (flow?.handed) process.nextTick(this.#next);
      else setImmediate(this.#next);
      return batch.done;
    }
    let last = this.#queue[this.#queue.length - 1];
    if (last === undefined || last.entries.length >= MAX_BATCH_ENTRIES) this.#queue.push((last = newBatch()));
    last.entries.push(e);
    return last.done;
  }

  /** Take no more entries; resolves when those already taken are committed (or failed). */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#busy) return Promise.resolve();
    return new Promise((wake) => this.#idle.push(wake));
  }

  #commit(entries: AuditEntry[]): Promise<void> {
    let done: Promise<void>;
    try {
      const { storage, audit } = this.target;
      done = storage.write(async (tx) => {
        for (const e of entries) await audit.appendCaptured(tx, e);
      }, { relaxed: true });
    } catch (e) {
      done = Promise.reject(e);
    }
    // Registered before the caller's await: the next batch starts as soon as this one settles.
    done.then(this.#next, this.#next);
    return done;
  }

  readonly #next = (): void => {
    const batch = this.#queue.shift();
    if (batch === undefined) {
      this.#busy = false;
      for (const wake of this.#idle.splice(0)) wake();
      return;
    }
    this.#commit(batch.entries).then(batch.resolve, batch.reject);
  };
}
