/**
 * `store serve`: the Vault HTTP API over a store. Puts the parts together
 * (transport, routes, tokens, policies, AppRole, audit, metrics) and owns
 * their lifetime: it opens the store (or, when the key is not there yet,
 * serves sealed until it can: seal.ts), and a graceful stop finishes the
 * requests in flight, then closes the store.
 */
import { StoreError } from '../errors.js';
import { AppRole } from './auth/approle.js';
import { TokenStore } from './auth/tokens.js';
import { Dispatcher } from './dispatch.js';
import { createHttpServer } from './http/index.js';
import { KvSettings } from './kv-settings.js';
import { Metrics } from './metrics.js';
import { PolicyStore } from './policy-store.js';
import { RateLimiter } from './rate-limit.js';
import { RecordCache } from './record-cache.js';
import { buildRouter } from './routes/index.js';
import { Unsealer, sealedResponse } from './seal.js';
import type { Store } from '../store/store.js';
import type { HttpRequest, HttpResponse, TransportLimits } from './http/index.js';
import type { ServeServices } from './route-context.js';

export type ListenTarget = { host: string; port: number } | { socketPath: string };

export interface ServeOptions {
  /**
   * Open the store. A failure for want of the key (E_MASTER_KEY, E_AGENT)
   * leaves the server sealed and the store is opened again later, with
   * `mayPrompt` false; any other failure of the first try ends the start.
   */
  openStore(how: { mayPrompt: boolean }): Promise<Store>;
  /** Told once the store is open, before it serves a request: at start, or when it unseals later. */
  onUnseal?(services: ServeServices, afterSealed: boolean): Promise<void>;
  /** Told when a later try to open the store failed for another reason than a missing key. */
  onRetryError?(error: Error): void;
  listen: ListenTarget;
  tls?: { cert: Buffer; key: Buffer };
  /** KV v2 mount name (default `secret`). */
  mount?: string;
  limits?: Partial<TransportLimits>;
  /** Requests per second per token (with bursts of 2× that); undefined: no limit. */
  rateLimit?: number;
  /** Wall clock (ms); tests pass their own. */
  now?: () => number;
  version: string;
}

export interface RunningServer {
  /** What VAULT_ADDR should be: `http://127.0.0.1:8200`, `https://…`, or `unix:///path`. */
  address: string;
  /** Still waiting for the store's key (answering 503). */
  readonly sealed: boolean;
  /** While sealed, why the store did not open. */
  readonly sealedBecause: string;
  setTls(tls: { cert: Buffer; key: Buffer }): void;
  /** Stop accepting, finish in-flight requests, close idle connections, then close the store. */
  close(): Promise<void>;
}

const MOUNT_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;

/** Loopback: 127.0.0.0/8, ::1, localhost. Anything else needs TLS. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** What serves requests once the store is open. */
interface Serving {
  services: ServeServices;
  dispatcher: Dispatcher;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const mount = o.mount ?? 'secret';
  if (!MOUNT_NAME.test(mount) || ['sys', 'auth', 'identity', 'cubbyhole'].includes(mount)) {
    throw new StoreError('E_USAGE', `the mount name "${mount.slice(0, 64)}" is not usable: letters, digits, _ . - and not sys, auth, identity or cubbyhole`);
  }
  if ('host' in o.listen && !isLoopback(o.listen.host) && !o.tls) {
    throw new StoreError('E_USAGE', `refusing to listen on ${o.listen.host} without TLS: tokens and secrets would cross the network in clear`, [
      'give --tls-cert and --tls-key, or listen on 127.0.0.1 or a unix socket',
    ]);
  }
  const now = o.now ?? Date.now;
  let http: ReturnType<typeof createHttpServer> | undefined;
  const router = buildRouter(mount, () => http?.openConnections ?? 0);
  let sealedAtStart = false;

  const ready = async (store: Store): Promise<Serving> => {
    // Tokens, compiled policies and KV settings, kept while the store is unchanged (whoever changes it).
    const cache = new RecordCache(store);
    const tokens = new TokenStore(store, { now, cache });
    const status = await store.status();
    const services: ServeServices = {
      store,
      mount,
      tokens,
      approle: new AppRole(store, tokens),
      policies: new PolicyStore(store, cache),
      kv: new KvSettings(store, cache),
      metrics: new Metrics(),
      now,
      version: o.version,
      clusterId: status.storeId,
    };
    await o.onUnseal?.(services, sealedAtStart);
    const dispatcher = new Dispatcher({
      router,
      services,
      cache,
      ...(o.rateLimit ? { rateLimit: new RateLimiter(o.rateLimit, Math.max(1, 2 * o.rateLimit), now) } : {}),
    });
    return { services, dispatcher };
  };
  const unsealer = new Unsealer<Serving>({
    open: (how) => o.openStore(how),
    ready,
    now,
    ...(o.onRetryError ? { onRetryError: (e: Error) => o.onRetryError!(e) } : {}),
  });
  sealedAtStart = (await unsealer.first()) === undefined;

  const handleSealed = async (req: HttpRequest): Promise<HttpResponse> => {
    const serving = await unsealer.unsealedForRequest();
    if (serving) return serving.dispatcher.handle(req);
    return sealedResponse(req, { nowMs: now(), version: o.version });
  };
  // Unsealed, the dispatcher's promise itself: no async wrapper around every request.
  const handle = (req: HttpRequest): Promise<HttpResponse> => unsealer.served?.dispatcher.handle(req) ?? handleSealed(req);
  try {
    http = createHttpServer(handle, { ...(o.limits ? { limits: o.limits } : {}), ...(o.tls ? { tls: o.tls } : {}) });
    const address = await http.listen(o.listen);
    unsealer.retryInBackground();
    const server = http;
    return {
      address,
      get sealed() {
        return unsealer.served === undefined;
      },
      get sealedBecause() {
        return unsealer.sealedBecause;
      },
      setTls: (tls) => server.setTls(tls),
      close: async () => {
        await server.close();
        await unsealer.close();
      },
    };
  } catch (e) {
    await http?.close();
    await unsealer.close();
    throw e;
  }
}
