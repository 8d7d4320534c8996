/**
 * `{mount}/config`: the mount's defaults. `cas_required` and
 * `delete_version_after` are kept as the server's settings; `max_versions`
 * is the store's own default (set when the store is made), reported here and
 * not changed through the API.
 */
import { envelope, noContent } from '../envelope.js';
import { boolField, durationField, goDuration, intField } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest } from '../vault-error.js';
import type { RouteContext } from '../route-context.js';
import type { KvKeySettings } from '../kv-settings.js';

export function kvConfigRoute(mount: string): Route {
  return { family: 'kv-config', match: under(`${mount}/config`, 'none'), handlers: { read, write } };
}

async function read(ctx: RouteContext) {
  const [m, status] = await Promise.all([ctx.services.kv.mount(), ctx.services.store.status()]);
  return envelope({ cas_required: m.casRequired, delete_version_after: goDuration(m.deleteVersionAfter), max_versions: status.defaultMaxVersions }, { mountType: 'kv' });
}

async function write(ctx: RouteContext) {
  const body = ctx.body();
  const max = intField(body, 'max_versions');
  if (max !== undefined) {
    const current = (await ctx.services.store.status()).defaultMaxVersions;
    if (max !== current) throw badRequest(`max_versions of the mount is the store's default (${current}) and is not changed through the API; set max_versions per secret on {mount}/metadata/{path}`);
  }
  const update: Partial<KvKeySettings> = {};
  const cas = boolField(body, 'cas_required');
  if (cas !== undefined) update.casRequired = cas;
  const dva = durationField(body, 'delete_version_after');
  if (dva !== undefined) update.deleteVersionAfter = dva;
  if (Object.keys(update).length > 0) {
    await ctx.services.kv.setMount(update, Object.entries(update).map(([k, v]) => `${k}=${String(v)}`).join(' '));
  }
  return noContent();
}
