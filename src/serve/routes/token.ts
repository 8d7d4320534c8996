/**
 * `auth/token/*`: create a child token, look up, renew and revoke one's own
 * token, and the same by token or accessor for operators. A token is only
 * ever in a response to the request that created it (or in `id` of a
 * lookup of itself); the store keeps its SHA-256.
 */
import { envelope, noContent } from '../envelope.js';
import { boolField, stringField, stringMapField } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest, permissionDenied } from '../vault-error.js';
import { authObject, lookupData } from '../auth/token-view.js';
import { RESTRICTED_USE } from '../auth/tokens.js';
import type { RouteContext } from '../route-context.js';

export function tokenRoutes(): Route[] {
  const fixed = (path: string, family: string, handlers: Route['handlers'], rest: 'none' | 'list' = 'none'): Route => ({ family, match: under(`auth/token/${path}`, rest), handlers });
  return [
    fixed('create', 'token-create', { write: create }),
    fixed('create-orphan', 'token-create', { write: (ctx) => create(ctx, true) }),
    fixed('lookup-self', 'token-self', { read: lookupSelf, write: lookupSelf }),
    fixed('renew-self', 'token-self', { write: renewSelf }),
    fixed('revoke-self', 'token-self', { write: revokeSelf }),
    fixed('lookup', 'token-lookup', { write: lookup, read: lookup }),
    fixed('lookup-accessor', 'token-lookup', { write: lookupAccessor }),
    fixed('renew', 'token-renew', { write: renew }),
    fixed('revoke', 'token-revoke', { write: revoke }),
    fixed('revoke-accessor', 'token-revoke', { write: revokeAccessor }),
    // Root-protected in Vault (PathsSpecial.Root "accessors*"): list and sudo.
    { ...fixed('accessors', 'token-accessors', { list: accessors }, 'list'), sudo: true },
  ];
}

async function create(ctx: RouteContext, orphan = false) {
  const body = ctx.body();
  const parent = ctx.self.entry;
  // Vault's first check: a use-limited token would escape its count through children (the token store checks again as stored).
  if (parent.numUses > 0) throw badRequest(RESTRICTED_USE);
  const noParent = orphan || boolField(body, 'no_parent') === true;
  // Only root or a sudo grant on the path may make a token that outlives its maker, as in Vault.
  if (noParent && !ctx.self.acl.isRoot && !ctx.self.acl.allows(ctx.path, 'sudo')) {
    throw badRequest('root or sudo privileges required to create an orphan token');
  }
  const displayName = stringField(body, 'display_name');
  const meta = stringMapField(body, 'meta');
  // The token store checks and decodes the rest (policies a subset of the parent's, TTLs, uses).
  const { token, entry } = await ctx.services.tokens.create(parent, {
    policies: body.policies,
    ttl: body.ttl ?? body.lease,
    explicitMaxTtl: body.explicit_max_ttl,
    numUses: body.num_uses,
    noDefaultPolicy: boolField(body, 'no_default_policy') === true,
    orphan: noParent,
    ...(boolField(body, 'renewable') !== undefined ? { renewable: boolField(body, 'renewable')! } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    ...(meta !== undefined ? { meta } : {}),
  });
  return envelope(null, { auth: authObject(token, entry, ctx.services.now()) });
}

async function lookupSelf(ctx: RouteContext) {
  return envelope(lookupData(ctx.self.token, ctx.self.entry, ctx.services.now()));
}

async function renewSelf(ctx: RouteContext) {
  const entry = await ctx.services.tokens.renew(ctx.self.token, ctx.body().increment);
  return envelope(null, { auth: authObject(ctx.self.token, entry, ctx.services.now()) });
}

async function revokeSelf(ctx: RouteContext) {
  await ctx.services.tokens.revoke(ctx.self.token);
  return noContent();
}

function tokenOf(ctx: RouteContext): string {
  const token = stringField(ctx.body(), 'token');
  if (!token) throw badRequest('missing token');
  return token;
}

function accessorOf(ctx: RouteContext): string {
  const accessor = stringField(ctx.body(), 'accessor');
  if (!accessor) throw badRequest('missing accessor');
  return accessor;
}

async function lookup(ctx: RouteContext) {
  const token = tokenOf(ctx);
  const entry = await ctx.services.tokens.lookup(token);
  if (!entry) throw badRequest('bad token');
  return envelope(lookupData(token, entry, ctx.services.now()));
}

async function lookupAccessor(ctx: RouteContext) {
  const entry = await ctx.services.tokens.lookupByAccessor(accessorOf(ctx));
  if (!entry) throw badRequest('invalid accessor');
  return envelope(lookupData(undefined, entry, ctx.services.now()));
}

async function renew(ctx: RouteContext) {
  const token = tokenOf(ctx);
  if (!(await ctx.services.tokens.lookup(token))) throw permissionDenied();
  const entry = await ctx.services.tokens.renew(token, ctx.body().increment);
  return envelope(null, { auth: authObject(token, entry, ctx.services.now()) });
}

async function revoke(ctx: RouteContext) {
  await ctx.services.tokens.revoke(tokenOf(ctx));
  return noContent();
}

async function revokeAccessor(ctx: RouteContext) {
  await ctx.services.tokens.revokeByAccessor(accessorOf(ctx));
  return noContent();
}

async function accessors(ctx: RouteContext) {
  const keys = (await ctx.services.tokens.list()).map((e) => e.accessor).sort();
  if (keys.length === 0) throw badRequest('no tokens');
  return envelope({ keys });
}
