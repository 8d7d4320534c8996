/**
 * Sealed until the store opens. When `store serve` starts and the store's
 * master key is not to be had (a passphrase store nobody has unlocked, and
 * no terminal to ask on), the server listens anyway, as a sealed Vault does:
 * sys/health says `sealed: true` (503) and every other request gets 503
 * `Vault is sealed`. Meanwhile it tries to open the store again, every 2 s
 * and on a request (at most once a second), so that a later `store unlock`
 * unseals it without a restart. Only a missing key is waited for: a wrong
 * key, a missing or damaged store file end the start at once, since waiting
 * would not mend them.
 */
import { StoreError } from '../errors.js';
import { parseHealthQuery, healthBody } from './routes/sys-health.js';
import { errors, json } from './envelope.js';
import { errorResponse } from './vault-error.js';
import type { Store } from '../store/store.js';
import type { HttpRequest, HttpResponse } from './http/types.js';

/** How often a sealed server tries to open the store on its own. */
export const RETRY_EVERY_MS = 2000;
/** A request to a sealed server tries again only when the last try began at least this long ago. */
export const REQUEST_RETRY_GAP_MS = 1000;

/** The store did not open because its key is not available (yet): worth another try later. */
export function keyUnavailable(e: unknown): boolean {
  return e instanceof StoreError && (e.code === 'E_MASTER_KEY' || e.code === 'E_AGENT');
}

export interface UnsealerOptions<T> {
  /** Open the store; `mayPrompt` is true only for the first try (later ones run unattended). */
  open(how: { mayPrompt: boolean }): Promise<Store>;
  /** Make what serves requests out of the opened store. When it fails the store is closed again. */
  ready(store: Store): Promise<T>;
  /** A later try failed for another reason than a missing key (said once per distinct message). */
  onRetryError?(error: Error): void;
  now(): number;
}

/**
 * Owns the store once it opens (and closes it), and what `ready` made of
 * it. Tries never overlap: a request arriving during one waits for it.
 */
export class Unsealer<T> {
  #store: Store | undefined;
  #served: T | undefined;
  #attempt: Promise<void> | undefined;
  #lastAttemptAt = -Infinity;
  #lastError = '';
  #sealedBecause = '';
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly o: UnsealerOptions<T>) {}

  /** What `ready` made, once the store is open; undefined while sealed. */
  get served(): T | undefined {
    return this.#served;
  }

  /** Why the last try failed, while sealed (the store's own message, which never holds a key). */
  get sealedBecause(): string {
    return this.#served ? '' : this.#sealedBecause;
  }

  /**
   * The first try, before the server listens: what `ready` made, or undefined
   * when the key is not available (sealed). Any other failure is thrown.
   */
  async first(): Promise<T | undefined> {
    this.#lastAttemptAt = this.o.now();
    let store: Store;
    try {
      store = await this.o.open({ mayPrompt: true });
    } catch (e) {
      if (!keyUnavailable(e)) throw e;
      this.#sealedBecause = (e as Error).message;
      return undefined;
    }
    await this.#adopt(store);
    return this.#served;
  }

  /** While sealed, try again every RETRY_EVERY_MS until the store opens or close(). */
  retryInBackground(): void {
    if (this.#served || this.#closed || this.#timer) return;
    this.#timer = setInterval(() => void this.#tryOpen(), RETRY_EVERY_MS);
  }

  /**
   * For a request to a sealed server: try now unless a try began less than
   * REQUEST_RETRY_GAP_MS ago; wait for a try under way. Then what `ready`
   * made, or undefined when still sealed.
   */
  async unsealedForRequest(): Promise<T | undefined> {
    if (!this.#served && !this.#attempt && this.o.now() - this.#lastAttemptAt >= REQUEST_RETRY_GAP_MS) void this.#tryOpen();
    await this.#attempt;
    return this.#served;
  }

  /** Stop trying; wait for a try under way; close the store if it is open. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopTimer();
    await this.#attempt;
    await this.#store?.close();
  }

  #tryOpen(): Promise<void> {
    if (this.#served || this.#closed) return Promise.resolve();
    this.#attempt ??= (async () => {
      this.#lastAttemptAt = this.o.now();
      try {
        const store = await this.o.open({ mayPrompt: false });
        if (this.#closed) {
          await store.close();
          return;
        }
        await this.#adopt(store);
        this.#stopTimer();
      } catch (e) {
        this.#sealedBecause = e instanceof Error ? e.message : String(e);
        if (!keyUnavailable(e)) this.#reportOnce(e);
      } finally {
        this.#attempt = undefined;
      }
    })();
    return this.#attempt;
  }

  async #adopt(store: Store): Promise<void> {
    try {
      this.#served = await this.o.ready(store);
    } catch (e) {
      await store.close();
      throw e;
    }
    this.#store = store;
  }

  #reportOnce(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    if (error.message === this.#lastError) return;
    this.#lastError = error.message;
    this.o.onRetryError?.(error);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The answer of a sealed server: sys/health (GET or HEAD) reports the seal,
 * everything else is refused as Vault refuses it. Nothing is audited: there
 * is no open store to log to.
 */
export function sealedResponse(req: HttpRequest, facts: { nowMs: number; version: string }): HttpResponse {
  if (req.path === '/v1/sys/health' && (req.method === 'GET' || req.method === 'HEAD')) {
    try {
      const { status } = parseHealthQuery(req.query, true);
      return json(status, healthBody({ sealed: true, nowMs: facts.nowMs, version: facts.version }));
    } catch (e) {
      return errorResponse(e);
    }
  }
  return errors(503, ['Vault is sealed']);
}
