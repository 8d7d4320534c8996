/** `sys/metrics?format=prometheus`: the server's counters in Prometheus' text format (needs a token whose policies allow reading sys/metrics). */
import { badRequest } from '../vault-error.js';
import type { Route } from '../router.js';
import type { RouteContext } from '../route-context.js';

export function sysMetricsRoute(openConnections: () => number): Route {
  return {
    family: 'sys-metrics',
    match: (p) => (p === 'sys/metrics' ? {} : undefined),
    handlers: {
      read: async (ctx: RouteContext) => {
        const format = ctx.req.query.get('format') ?? '';
        if (format !== 'prometheus') throw badRequest('only format=prometheus is served');
        return {
          status: 200,
          headers: { 'Content-Type': 'text/plain; version=0.0.4', 'Cache-Control': 'no-store' },
          body: ctx.services.metrics.prometheus({ openConnections: openConnections() }),
        };
      },
    },
  };
}
