/**
 * `sys/health` (GET and HEAD, no token): 200 when serving, 503 when the
 * store is sealed (locked and not yet unlocked). The status codes can be
 * chosen by query, as load balancers do (`?sealedcode=200`, `?standbyok`…);
 * this server is never a standby or uninitialised.
 */
import { json } from '../envelope.js';
import { parseGoBool } from '../request-body.js';
import { badRequest } from '../vault-error.js';
import type { Route } from '../router.js';
import type { RouteContext } from '../route-context.js';

export function sysHealthRoute(): Route {
  return { family: 'sys-health', auth: 'none', skipAcl: true, match: (p) => (p === 'sys/health' ? {} : undefined), handlers: { read: health, head: health } };
}

function code(ctx: RouteContext, param: string, fallback: number): number {
  const q = ctx.req.query.get(param);
  if (q === null || q === '') return fallback;
  if (!/^\d{3}$/.test(q)) throw badRequest(`${param} must be an HTTP status code`);
  return Number(q);
}

async function health(ctx: RouteContext) {
  const sealed = !ctx.services.unsealed();
  const standbyOk = parseGoBool(ctx.req.query.get('standbyok') ?? 'false') === true;
  void standbyOk; // never a standby: accepted for compatibility
  const status = sealed ? code(ctx, 'sealedcode', 503) : code(ctx, 'activecode', 200);
  return json(status, {
    initialized: true,
    sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(ctx.services.now() / 1000),
    version: ctx.services.version,
    cluster_name: 'strongbox',
    cluster_id: ctx.services.clusterId,
  });
}
