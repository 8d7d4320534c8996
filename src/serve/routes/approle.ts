/**
 * `auth/approle/*`: machine logins. An operator defines a role (its
 * policies and token TTLs), reads its role-id and issues secret-ids; an app
 * logs in with both and gets a token. The secret-id is in the response that
 * issued it and nowhere else (the store keeps its SHA-256).
 */
import { envelope, noContent } from '../envelope.js';
import { stringField } from '../request-body.js';
import { type Route } from '../router.js';
import { badRequest, notFound } from '../vault-error.js';
import { authObject } from '../auth/token-view.js';
import { roleData } from '../auth/approle.js';
import type { RouteContext } from '../route-context.js';

const ROLE = /^auth\/approle\/role\/([A-Za-z0-9_.-]+)(\/role-id|\/secret-id)?$/;

export function approleRoutes(): Route[] {
  return [
    { family: 'approle-login', auth: 'none', match: (p) => (p === 'auth/approle/login' ? {} : undefined), handlers: { write: login } },
    { family: 'approle-role', match: (p) => (p === 'auth/approle/role' || p === 'auth/approle/role/' ? {} : undefined), handlers: { list: listRoles } },
    {
      family: 'approle-role',
      match: (p) => {
        const m = ROLE.exec(p);
        return m ? { name: m[1]!, sub: m[2] ?? '' } : undefined;
      },
      handlers: {
        read: (ctx) => (ctx.params.sub === '/role-id' ? roleId(ctx) : ctx.params.sub === '' ? readRole(ctx) : Promise.reject(notFound())),
        write: (ctx) => (ctx.params.sub === '/secret-id' ? secretId(ctx) : ctx.params.sub === '' ? writeRole(ctx) : Promise.reject(notFound())),
        delete: (ctx) => (ctx.params.sub === '' ? deleteRole(ctx) : Promise.reject(notFound())),
      },
    },
  ];
}

async function login(ctx: RouteContext) {
  const body = ctx.body();
  if (!stringField(body, 'role_id')) throw badRequest('missing role_id');
  const { token, entry } = await ctx.services.approle.login(body.role_id, body.secret_id);
  return envelope(null, { auth: authObject(token, entry, ctx.services.now()) });
}

async function listRoles(ctx: RouteContext) {
  const keys = (await ctx.services.approle.listRoles()).sort();
  if (keys.length === 0) throw notFound();
  return envelope({ keys });
}

async function writeRole(ctx: RouteContext) {
  // The role decodes its fields: hvac's "a,b" token_policies, node-vault's legacy policies, TTLs as seconds or "1h".
  await ctx.services.approle.createOrUpdateRole(ctx.params.name!, ctx.body());
  return noContent();
}

async function readRole(ctx: RouteContext) {
  const role = await ctx.services.approle.readRole(ctx.params.name!);
  if (!role) throw notFound();
  return envelope(roleData(role));
}

async function deleteRole(ctx: RouteContext) {
  await ctx.services.approle.deleteRole(ctx.params.name!);
  return noContent();
}

async function roleId(ctx: RouteContext) {
  const id = await ctx.services.approle.roleId(ctx.params.name!);
  if (id === undefined) throw notFound();
  return envelope({ role_id: id });
}

async function secretId(ctx: RouteContext) {
  const issued = await ctx.services.approle.generateSecretId(ctx.params.name!, { metadata: ctx.body().metadata });
  return envelope({
    secret_id: issued.secretId,
    secret_id_accessor: issued.accessor,
    secret_id_num_uses: issued.numUses,
    secret_id_ttl: issued.ttl,
  });
}
