/**
 * The mount table: one KV v2 mount. `sys/internal/ui/mounts/{path}` and
 * `sys/mounts-all/{path}` are the `vault kv` CLI's version preflight: it
 * must see `options.version` "2" for the mount and anything below it, and
 * a 404 would make it fall back to KV v1 paths, so an unknown mount is 403
 * as Vault answers. `sys/mounts` lists the mount (hvac reads it under
 * `data` and older clients at the top level, so it is in both).
 */
import { envelope, envelopeAndTopLevel } from '../envelope.js';
import { pathForLog, VaultError } from '../vault-error.js';
import type { Route } from '../router.js';
import type { RouteContext } from '../route-context.js';
import { errors } from '../envelope.js';

function mountInfo(ctx: RouteContext): Record<string, unknown> {
  return {
    accessor: `kv_${ctx.services.clusterId.slice(0, 8)}`,
    config: { default_lease_ttl: 0, force_no_cache: false, max_lease_ttl: 0 },
    description: 'Strongbox store',
    external_entropy_access: false,
    local: false,
    options: { version: '2' },
    plugin_version: '',
    running_plugin_version: '',
    running_sha256: '',
    seal_wrap: false,
    type: 'kv',
    uuid: ctx.services.clusterId,
  };
}

export function sysMountsRoutes(): Route[] {
  const preflight = (prefix: string): Route => ({
    family: 'sys-mounts',
    skipAcl: true, // needs a token, no policy rule of its own (as in Vault)
    match: (p) => (p.startsWith(prefix) ? { rest: p.slice(prefix.length) } : undefined),
    handlers: { read: mountOf },
  });
  return [
    preflight('sys/internal/ui/mounts/'),
    preflight('sys/mounts-all/'),
    { family: 'sys-mounts', match: (p) => (p === 'sys/mounts' ? {} : undefined), handlers: { read: mounts } },
  ];
}

async function mountOf(ctx: RouteContext) {
  const rest = ctx.params.rest!.replace(/^\/+/, '');
  const mount = ctx.services.mount;
  if (rest !== mount && !rest.startsWith(`${mount}/`)) {
    const asked = pathForLog(`${rest.split('/')[0] ?? ''}/`);
    throw new VaultError(403, undefined, errors(403, [`preflight capability check returned 403, please ensure client's policies grant access to path "${asked}"`]));
  }
  return envelope({ ...mountInfo(ctx), path: `${mount}/` });
}

async function mounts(ctx: RouteContext) {
  return envelopeAndTopLevel({ [`${ctx.services.mount}/`]: mountInfo(ctx) });
}
