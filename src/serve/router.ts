/**
 * Routes: which handler answers a logical path (the part after `/v1/`) for
 * an operation. Vault's operations are not HTTP methods: GET is a read or,
 * with `?list=true`, a list; LIST is a list; POST and PUT are both a write
 * (create or update, told apart by whether the target exists); PATCH,
 * DELETE. A path a route matches but whose operation it lacks is 405; no
 * route at all is 404.
 */
import { parseGoBool } from './request-body.js';
import { badRequest, methodNotAllowed, notFound } from './vault-error.js';
import type { HttpRequest, HttpResponse } from './http/types.js';
import type { RouteContext } from './route-context.js';

export type Operation = 'read' | 'list' | 'write' | 'patch' | 'delete' | 'head';

export type RouteHandler = (ctx: RouteContext) => Promise<HttpResponse>;

export interface Route {
  /** Family name, for metrics and the audit entry: 'kv-data', 'token', 'sys-health'… */
  family: string;
  /** The route's parameters when it answers `path`, else undefined. */
  match(path: string): Record<string, string> | undefined;
  handlers: Partial<Record<Operation, RouteHandler>>;
  /** Who may call it: 'none' needs no token (sys/health, logins). Default 'token'. */
  auth?: 'none' | 'token';
  /**
   * How the ACL sees the request, when not simply (path, capability of the
   * operation): a write is 'create' when the target does not exist yet.
   */
  exists?(ctx: RouteContext): Promise<boolean>;
  /** The route checks policies itself (token self-service, preflight) or needs none. */
  skipAcl?: boolean;
  /**
   * One of Vault's root-protected paths (a backend's PathsSpecial.Root, such
   * as auth/token/accessors): a caller other than root needs `sudo` on the
   * path as well as the operation's capability.
   */
  sudo?: boolean;
  /**
   * Operations whose handler changes nothing in the store and passes the
   * request's audit context to each audited read itself
   * (RouteContext.auditedRead): they run outside AsyncLocalStorage, which,
   * once entered, costs every promise the process makes. The others run
   * inside withAuditContext.
   */
  auditsOwnReads?: readonly Operation[];
}

/** The operation an HTTP request asks for. */
export function operationOf(req: HttpRequest): Operation {
  switch (req.method) {
    case 'GET': {
      const list = req.query.get('list');
      if (list !== null) {
        const b = parseGoBool(list);
        if (b === undefined) throw badRequest('list must be a boolean');
        if (b) return 'list';
      }
      return 'read';
    }
    case 'LIST': return 'list';
    case 'POST':
    case 'PUT': return 'write';
    case 'PATCH': return 'patch';
    case 'DELETE': return 'delete';
    case 'HEAD': return 'head';
    default: throw methodNotAllowed();
  }
}

export class Router {
  constructor(private readonly routes: readonly Route[]) {}

  /** The route for `path` and its parameters; 404 when none answers it. */
  find(path: string): { route: Route; params: Record<string, string> } {
    for (const route of this.routes) {
      const params = route.match(path);
      if (params) return { route, params };
    }
    throw notFound();
  }
}

/**
 * A matcher for `prefix` followed by a rest. `rest: 'required'` needs a
 * non-empty rest not ending in '/' (a secret path), 'optional' allows the
 * empty rest and a rest ending in '/' (list paths), 'none' wants the prefix
 * alone, and 'list' the prefix with or without one '/' (a route that only
 * lists).
 *
 * The rest is given exactly as sent, never trimmed: the policies are
 * checked on the path as sent, so a handler must act on that name and no
 * other (`prod/db/` is not `prod/db`, as in Vault). Only a list may ignore
 * one trailing '/': Vault adds one to every list path, and so does the ACL.
 */
export function under(prefix: string, rest: 'required' | 'optional' | 'none' | 'list'): (path: string) => Record<string, string> | undefined {
  const bare = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const withSlash = `${bare}/`;
  return (path): Record<string, string> | undefined => {
    if (rest === 'none') return path === bare ? {} : undefined;
    if (rest === 'list') return path === bare || path === withSlash ? {} : undefined;
    if (path === bare) return rest === 'optional' ? { rest: '' } : undefined;
    if (!path.startsWith(withSlash)) return undefined;
    const tail = path.slice(withSlash.length);
    if (rest === 'required') return tail !== '' && !tail.endsWith('/') ? { rest: tail } : undefined;
    return { rest: tail };
  };
}
