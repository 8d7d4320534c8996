/**
 * `sys/health` (GET and HEAD, no token): 200 when serving, 503 when the
 * store is sealed (locked and not yet unlocked: seal.ts answers then). The
 * status codes can be chosen by query, as load balancers do
 * (`?sealedcode=200`, `?standbyok`…); this server is never a standby or
 * uninitialised.
 */
import { json } from '../envelope.js';
import { parseGoBool } from '../request-body.js';
import { badRequest } from '../vault-error.js';
import type { Route } from '../router.js';
import type { RouteContext } from '../route-context.js';

export function sysHealthRoute(): Route {
  return { family: 'sys-health', auth: 'none', skipAcl: true, match: (p) => (p === 'sys/health' ? {} : undefined), handlers: { read: health, head: health } };
}

/** A status code asked for by query: only 200-599, what the transport sends (a 1xx or a 999 would fail as the answer is written). */
function code(query: URLSearchParams, param: string, fallback: number): number {
  const q = query.get(param);
  if (q === null || q === '') return fallback;
  const n = /^\d{3}$/.test(q) ? Number(q) : 0;
  if (n < 200 || n > 599) throw badRequest(`${param} must be an HTTP status code from 200 to 599`);
  return n;
}

/** The status the query asks for in this state. @throws 400 for a code that is not one, whether or not it applies now */
export function parseHealthQuery(query: URLSearchParams, sealed: boolean): { status: number } {
  const standbyOk = parseGoBool(query.get('standbyok') ?? 'false') === true;
  void standbyOk; // never a standby: accepted for compatibility
  // Both checked: a bad sealedcode shows while the server is up, not first when it is sealed.
  const active = code(query, 'activecode', 200);
  const sealedCode = code(query, 'sealedcode', 503);
  return { status: sealed ? sealedCode : active };
}

/** The body; as Vault does, a sealed server names no cluster (it cannot read its id yet). */
export function healthBody(facts: { sealed: boolean; nowMs: number; version: string; clusterId?: string }): Record<string, unknown> {
  return {
    initialized: true,
    sealed: facts.sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: 'disabled',
    replication_dr_mode: 'disabled',
    server_time_utc: Math.floor(facts.nowMs / 1000),
    version: facts.version,
    ...(facts.clusterId !== undefined ? { cluster_name: 'strongbox', cluster_id: facts.clusterId } : {}),
  };
}

async function health(ctx: RouteContext) {
  const { status } = parseHealthQuery(ctx.req.query, false);
  return json(status, healthBody({ sealed: false, nowMs: ctx.services.now(), version: ctx.services.version, clusterId: ctx.services.clusterId }));
}
