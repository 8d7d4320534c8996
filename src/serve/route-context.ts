/** What a route handler is given: the request, its caller, and the server's services. */
import { parseBody, type Body } from './request-body.js';
import { handOverAuditContext, type AuditContext } from '../store/audit-context.js';
import type { Store } from '../store/store.js';
import type { Acl } from './acl/acl.js';
import type { TokenEntry, TokenStore } from './auth/tokens.js';
import type { AppRole } from './auth/approle.js';
import type { HttpRequest } from './http/types.js';
import type { Operation } from './router.js';
import type { KvSettings } from './kv-settings.js';
import type { PolicyStore } from './policy-store.js';
import type { Metrics } from './metrics.js';

/** What routes use; made once the store is open (until then seal.ts answers every request). */
export interface ServeServices {
  store: Store;
  /** The KV v2 mount's name (`secret` by default), without slashes. */
  mount: string;
  tokens: TokenStore;
  approle: AppRole;
  policies: PolicyStore;
  kv: KvSettings;
  metrics: Metrics;
  /** Wall-clock milliseconds (tests drive a clock of their own). */
  now(): number;
  /** Reported by sys/health. */
  version: string;
  /** The store's id: sys/health's cluster_id and the mount's uuid. */
  clusterId: string;
}

/** The token that made the request, checked: known, not expired, its policies loaded. */
export interface Caller {
  token: string;
  entry: TokenEntry;
  acl: Acl;
}

export class RouteContext {
  #body: Body | undefined;
  /**
   * The write was allowed only because its target did not exist (the
   * policies grant create, not update): the handler must write so that a
   * target created since that check is refused, atomically (KV: cas 0).
   */
  createOnly = false;

  constructor(
    readonly req: HttpRequest,
    /** The logical path: after `/v1/`, percent-decoded. */
    readonly path: string,
    readonly op: Operation,
    readonly params: Record<string, string>,
    readonly services: ServeServices,
    readonly caller: Caller | undefined,
    /** What the request's audit entries say it was (its detail final once the caller is known). */
    readonly audit?: AuditContext,
  ) {}

  /**
   * Start a store read (get, getEntry, describe, history, list) with this
   * request's audit context handed to it: for handlers run outside
   * withAuditContext (Route.auditsOwnReads). Call the store method directly
   * in `read`, with no await before it.
   */
  auditedRead<T>(read: () => T): T {
    return this.audit ? handOverAuditContext(this.audit, read) : read();
  }

  /** The JSON body (`{}` when there is none). @throws 400 when it is not a JSON object */
  body(): Body {
    this.#body ??= parseBody(this.req.body);
    return this.#body;
  }

  /** The body as text (a KV write keeps its `data` member's own bytes). */
  bodyText(): string {
    return this.req.body.toString('utf8');
  }

  /** The caller, for routes that need one (every route but the token-less ones). */
  get self(): Caller {
    if (!this.caller) throw new Error('route needs a caller');
    return this.caller;
  }
}
