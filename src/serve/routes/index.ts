/** Every route the server answers, in the order they are tried. */
import { Router, type Route } from '../router.js';
import { approleRoutes } from './approle.js';
import { kvConfigRoute } from './kv-config.js';
import { kvDataRoute } from './kv-data.js';
import { kvMetadataRoute } from './kv-metadata.js';
import { kvVersionsRoutes } from './kv-versions.js';
import { sysHealthRoute } from './sys-health.js';
import { sysMetricsRoute } from './sys-metrics.js';
import { sysMountsRoutes } from './sys-mounts.js';
import { sysPolicyRoutes } from './sys-policies.js';
import { tokenRoutes } from './token.js';

export function buildRouter(mount: string, openConnections: () => number): Router {
  const routes: Route[] = [
    kvDataRoute(mount),
    kvMetadataRoute(mount),
    ...kvVersionsRoutes(mount),
    kvConfigRoute(mount),
    ...tokenRoutes(),
    ...approleRoutes(),
    sysHealthRoute(),
    ...sysMountsRoutes(),
    ...sysPolicyRoutes(),
    sysMetricsRoute(openConnections),
  ];
  return new Router(routes);
}
