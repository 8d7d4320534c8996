/**
 * The `onEvent` hook: one event per call of a Store method, for logging and
 * metrics (the functions that take a Store, such as backupStore, call one). An event says which operation, on which secret, how long it took
 * and how it ended; never a value, version data or key material. A hook that
 * throws (or rejects) never changes the operation's result.
 */
import { StoreError, type ErrorCode } from '../errors.js';
import { nameProblem } from './names.js';

/**
 * The Store method an event reports. backup, verify, exportBundle,
 * exportPlain, importBundle and importPlain report under the names of the
 * functions that came first (backupStore, verifyStore, exportStore…).
 */
export type StoreOperation =
  | 'get' | 'put' | 'list' | 'history' | 'delete' | 'undelete' | 'destroy' | 'purge' | 'rollback'
  | 'getMetadata' | 'setMetadata' | 'status' | 'rotateKeys' | 'keys' | 'destroyKey' | 'rotateMaster' | 'pruneAudit'
  | 'verifyAudit' | 'getConfig' | 'setConfig'
  | 'setPolicy' | 'rotateValue' | 'policyStatus' | 'expiryOf' | 'dueSecrets' | 'dueAmong' | 'stats' | 'auditSummary'
  | 'recordRequest'
  | 'backupStore' | 'verifyStore' | 'exportStore' | 'exportPlain' | 'importBundle' | 'importPlain';

export interface StoreEvent {
  operation: StoreOperation;
  /** The secret, for operations on one (left out when the name given was not a valid name: it may be a value typed in the wrong place). */
  name?: string;
  /** Wall time of the call, in ms (performance.now, not the store's clock). */
  durationMs: number;
  /** 'ok', the StoreError code the call failed with, or 'E_INTERNAL' for anything else thrown. */
  outcome: 'ok' | ErrorCode | 'E_INTERNAL';
  /** get only: served from the read cache. */
  cached?: boolean;
}

export type EventHook = (event: StoreEvent) => void;

/** @throws E_USAGE when `hook` is given and is not a function */
export function checkHook(hook: unknown): EventHook | undefined {
  if (hook !== undefined && typeof hook !== 'function') throw new StoreError('E_USAGE', 'onEvent must be a function');
  return hook as EventHook | undefined;
}

export function outcomeOf(e: unknown): StoreEvent['outcome'] {
  return e instanceof StoreError ? e.code : 'E_INTERNAL';
}

/** Run an operation and report it to `events`, if there are any. */
export async function reported<T>(events: EventSink | undefined, operation: StoreOperation, name: string | undefined, fn: () => Promise<T> | T): Promise<T> {
  if (events === undefined) return fn();
  const started = performance.now();
  try {
    const result = await fn();
    events.emit(operation, name, started, 'ok');
    return result;
  } catch (e) {
    events.emit(operation, name, started, outcomeOf(e));
    throw e;
  }
}

/** Calls the hook, shielding the operation from it. */
export class EventSink {
  readonly #hook: EventHook;
  #warned = false;

  constructor(hook: EventHook) {
    this.#hook = hook;
  }

  emit(operation: StoreOperation, name: string | undefined, started: number, outcome: StoreEvent['outcome'], cached?: boolean): void {
    const event: StoreEvent = { operation, durationMs: performance.now() - started, outcome };
    if (name !== undefined && nameProblem(name) === undefined) event.name = name;
    if (cached !== undefined) event.cached = cached;
    try {
      const r: unknown = this.#hook(event);
      // An async hook's rejection must not become an unhandled rejection that ends the process.
      if (r instanceof Promise) r.catch((e: unknown) => this.#failed(e));
    } catch (e) {
      this.#failed(e);
    }
  }

  /**
   * The first failure per store becomes a process warning (stderr, never
   * stdout) naming only the error's class: its message is the hook's own
   * text and is not ours to print. Later ones are ignored.
   */
  #failed(e: unknown): void {
    if (this.#warned) return;
    this.#warned = true;
    const kind = e instanceof Error ? e.name : typeof e;
    process.emitWarning(`the onEvent hook threw (${kind}); the operation went on, and later failures of the hook are ignored`, {
      code: 'STRONGBOX_EVENT_HOOK',
    });
  }
}
