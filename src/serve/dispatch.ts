/**
 * One request, start to end: find the route, authenticate the token, check
 * its policies before anything touches the store, rate-limit, run the
 * handler with the request described to the audit log, and turn any error
 * into Vault's status and `{"errors":[...]}`. Every request but sys/health
 * leaves one audit entry: the store operation it made carries the request's
 * description, and a request that made none (refused, or answered without
 * the store) records one of its own.
 */
import { withAuditContext, type AuditContext } from '../store/audit-context.js';
import { errors } from './envelope.js';
import { errorResponse, pathForLog, permissionDenied, VaultError } from './vault-error.js';
import { operationOf, type Operation, type Route, type Router } from './router.js';
import { RouteContext, type Caller, type ServeServices } from './route-context.js';
import type { HttpRequest, HttpResponse } from './http/types.js';
import type { RateLimiter } from './rate-limit.js';
import { NOT_CACHED, type RecordCache } from './record-cache.js';
import type { Capability } from './acl/index.js';

export interface DispatchOptions {
  router: Router;
  services: ServeServices;
  rateLimit?: RateLimiter;
  /** The cache of tokens, policies and KV settings the services share: told when each request begins. */
  cache?: RecordCache;
}

/** Namespaces are Vault Enterprise's; only the root namespace exists here, so other data never mixes in silently. */
function checkNamespace(req: HttpRequest): void {
  const ns = req.headers['x-vault-namespace'];
  if (ns !== undefined && ns !== '' && ns !== 'root' && ns !== 'root/') throw new VaultError(400, 'namespaces are not supported');
  if (req.headers['x-vault-wrap-ttl'] !== undefined) throw new VaultError(400, 'response wrapping is not supported');
}

/** The token a request carries: X-Vault-Token, or Authorization: Bearer. */
function tokenOf(req: HttpRequest): string | undefined {
  const t = req.headers['x-vault-token'];
  if (t) return t;
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim() || undefined;
  return undefined;
}

const CAPABILITY: Record<Exclude<Operation, 'write'>, Capability> = { read: 'read', head: 'read', list: 'list', patch: 'patch', delete: 'delete' };

/** An audit outcome for a status: 'ok', or the error code that status answers. */
function outcomeOf(status: number): string {
  if (status < 400) return 'ok';
  return OUTCOME_FOR[status] ?? 'E_INTERNAL';
}

const OUTCOME_FOR: Record<number, string> = {
  400: 'E_USAGE', 403: 'E_PERMISSION_DENIED', 404: 'E_NOT_FOUND', 405: 'E_USAGE', 413: 'E_VALUE_TOO_LARGE', 415: 'E_USAGE', 429: 'E_RATE_LIMITED',
};

export class Dispatcher {
  constructor(private readonly o: DispatchOptions) {}

  /** What the audit log and metrics call a request: never a token, never a value. */
  static describe(req: HttpRequest, caller: Caller | undefined): string {
    return Dispatcher.#by(caller, Dispatcher.#what(req));
  }

  /** The request part of describe: `from=… METHOD path`. */
  static #what(req: HttpRequest): string {
    return `from=${req.remoteAddress} ${req.method} ${pathForLog(req.path)}`;
  }

  static #by(caller: Caller | undefined, what: string): string {
    return `${caller ? `accessor=${caller.entry.accessor}` : 'accessor=-'} ${what}`;
  }

  async handle(req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    let family = 'unknown';
    const what = Dispatcher.#what(req);
    const audit: AuditContext = { detail: Dispatcher.#by(undefined, what), recorded: 0 };
    let response: HttpResponse;
    let audited = true;
    let op: Operation | undefined;
    try {
      // A check for what other processes changed, made after this request arrived (shared with those arriving with it): its lookups rely on it.
      await this.o.cache?.beginRequest();
      if (!req.path.startsWith('/v1/')) throw new VaultError(404, undefined);
      checkNamespace(req);
      const path = req.path.slice(4);
      const found = this.#find(path);
      family = found?.route.family ?? 'unknown';
      audited = family !== 'sys-health';
      let caller: Caller | undefined;
      if (found?.route.auth !== 'none') {
        const known = this.#caller(req, audit);
        caller = known instanceof Promise ? await known : known;
      }
      audit.detail = Dispatcher.#by(caller, what);
      if (!found) throw new VaultError(404, undefined);
      op = operationOf(req);
      const handler = found.route.handlers[op];
      if (!handler) throw new VaultError(405, 'unsupported operation');
      if (caller && this.o.rateLimit && !this.o.rateLimit.take(caller.entry.accessor)) throw new VaultError(429, 'request rate limit exceeded');
      const ctx = new RouteContext(req, path, op, found.params, this.o.services, caller, audit);
      if (caller && !found.route.skipAcl) {
        const decided = this.#authorize(ctx, found.route, audit);
        if (decided) await decided;
      }
      response = found.route.auditsOwnReads?.includes(op) ? await handler(ctx) : await withAuditContext(audit, () => handler(ctx));
    } catch (e) {
      response = errorResponse(e);
    }
    if (audited && audit.recorded === 0 && !(await this.#unloggedRead(op, response))) response = await this.#recordRequest(family, audit, response);
    this.o.services.metrics.record(family, response.status, (performance.now() - started) / 1000);
    return response;
  }

  /** With reads not audited (store config audit.reads false), a read answered is not recorded either. Asked only of a request with no entry yet. */
  async #unloggedRead(op: Operation | undefined, response: HttpResponse): Promise<boolean> {
    if (response.status >= 400 || !(op === 'read' || op === 'list' || op === 'head')) return false;
    return (await this.o.services.store.getConfig('audit.reads')) === 'false';
  }

  #find(path: string): { route: Route; params: Record<string, string> } | undefined {
    try {
      return this.o.router.find(path);
    } catch {
      return undefined;
    }
  }

  /**
   * The caller's token, checked and counted (a use-limited token uses one
   * up); 403 when missing or not valid. Only a lookup that changes the store
   * (a use taken, a dead token removed) runs in the request's audit context:
   * entering it costs every promise from then on (Route.auditsOwnReads).
   */
  #caller(req: HttpRequest, audit: AuditContext): Caller | Promise<Caller> {
    const token = tokenOf(req);
    if (!token) throw permissionDenied();
    // All of it cached (the store unchanged since): answered at once, without a promise.
    const asIs = this.o.services.tokens.usableAsIsCached(token);
    if (asIs !== NOT_CACHED && asIs !== 'use') {
      if (!asIs) throw permissionDenied();
      const acl = this.o.services.policies.aclCached(asIs.policies);
      if (acl !== NOT_CACHED) return { token, entry: asIs, acl };
    }
    return this.#callerLoaded(token, audit);
  }

  async #callerLoaded(token: string, audit: AuditContext): Promise<Caller> {
    const tokens = this.o.services.tokens;
    const asIs = await tokens.usableAsIs(token);
    // A use-limited token's use is a store change: it records the request (the token is not known yet).
    const entry = asIs === 'use' ? await withAuditContext(audit, () => tokens.use(token)) : asIs;
    if (!entry) throw permissionDenied();
    const acl = await this.o.services.policies.acl(entry.policies);
    return { token, entry, acl };
  }

  /** 403 unless the caller's policies allow the request; a promise only when a write must ask whether its target exists. */
  #authorize(ctx: RouteContext, route: Route, audit: AuditContext): Promise<void> | undefined {
    if (ctx.op !== 'write') {
      if (!ctx.self.acl.allows(ctx.path, CAPABILITY[ctx.op], route.sudo)) throw permissionDenied();
      return undefined;
    }
    return this.#authorizeWrite(ctx, route, audit);
  }

  async #authorizeWrite(ctx: RouteContext, route: Route, audit: AuditContext): Promise<void> {
    const acl = ctx.self.acl;
    // A write is a create when its target does not exist yet; ask only when the policies tell the two apart.
    const create = acl.allows(ctx.path, 'create', route.sudo);
    const update = acl.allows(ctx.path, 'update', route.sudo);
    if (create && update) return;
    if (!create && !update) throw permissionDenied();
    const exists = route.exists ? await withAuditContext(audit, () => route.exists!(ctx)) : true;
    if (exists ? !update : !create) throw permissionDenied();
    // Allowed only as a create: the handler writes so that a target made since this check is refused (RouteContext.createOnly).
    if (!exists) ctx.createOnly = true;
  }

  /** One audit entry for a request that made no store operation; a request that cannot be logged is not answered (503). */
  async #recordRequest(family: string, audit: AuditContext, response: HttpResponse): Promise<HttpResponse> {
    try {
      await this.o.services.store.recordRequest({
        action: `http.${family}`,
        outcome: outcomeOf(response.status),
        detail: `${audit.detail} -> ${response.status}`,
      });
      return response;
    } catch {
      return errors(503, ['the request could not be recorded in the audit log']);
    }
  }
}
