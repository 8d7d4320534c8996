/**
 * `{mount}/delete|undelete|destroy/{path}` with `{"versions":[...]}`: soft
 * delete, restore, or erase for good. Versions that do not exist (and
 * numbers of 0 or less) are skipped, as the KV plugin does (path_delete.go,
 * path_destroy.go).
 */
import { StoreError } from '../../errors.js';
import { noContent } from '../envelope.js';
import { versionsField } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest } from '../vault-error.js';
import type { RouteContext } from '../route-context.js';

type Action = 'delete' | 'undelete' | 'destroy';

export function kvVersionsRoutes(mount: string): Route[] {
  return (['delete', 'undelete', 'destroy'] as const).map((action) => ({
    family: `kv-${action}`,
    match: under(`${mount}/${action}`, 'required'),
    // Vault's ACL sees these as updates of their own path.
    handlers: { write: (ctx: RouteContext) => act(ctx, action) },
  }));
}

async function act(ctx: RouteContext, action: Action) {
  const name = ctx.params.rest!;
  const listed = versionsField(ctx.body());
  if (listed.length === 0) throw badRequest('No version number provided');
  // The plugin looks each number up among the secret's versions: 0 or less names none, and is skipped as a missing one is.
  const versions = listed.filter((v) => v > 0);
  if (versions.length === 0) return noContent();
  const store = ctx.services.store;
  try {
    if (action === 'destroy') await store.destroy(name, versions, { skipMissing: true });
    else await store[action](name, { versions, skipMissing: true });
  } catch (e) {
    // A missing secret is nothing to do, as in Vault.
    if (!(e instanceof StoreError && e.code === 'E_NOT_FOUND')) throw e;
  }
  return noContent();
}
