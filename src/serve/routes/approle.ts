/**
 * `auth/approle/*`: machine logins. An operator defines a role (its
 * policies and token TTLs), reads its role-id and issues secret-ids; an app
 * logs in with both and gets a token. The secret-id is in the response that
 * issued it and nowhere else (the store keeps its SHA-256).
 */
import { envelope, noContent } from '../envelope.js';
import { boolField, durationField, intField, stringField, stringListField, stringMapField } from '../request-body.js';
import { type Route } from '../router.js';
import { badRequest, notFound } from '../vault-error.js';
import { authBlock } from './token-shapes.js';
import type { RouteContext } from '../route-context.js';
import type { RoleSettings } from '../auth/approle.js';

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
  const roleId = stringField(body, 'role_id');
  if (!roleId) throw badRequest('missing role_id');
  const secret = stringField(body, 'secret_id');
  const { token, entry } = await ctx.services.approle.login(roleId, secret ?? undefined);
  return envelope(null, { auth: authBlock(token, entry, ctx.services.now()) });
}

async function listRoles(ctx: RouteContext) {
  const keys = (await ctx.services.approle.listRoles()).sort();
  if (keys.length === 0) throw notFound();
  return envelope({ keys });
}

async function writeRole(ctx: RouteContext) {
  const body = ctx.body();
  const settings: Partial<RoleSettings> = {};
  // hvac sends token_policies as "a,b"; node-vault the legacy `policies`.
  const policies = stringListField(body, 'token_policies') ?? stringListField(body, 'policies');
  if (policies) settings.policies = policies;
  const ttl = durationField(body, 'token_ttl');
  if (ttl !== undefined) settings.tokenTtl = ttl;
  const maxTtl = durationField(body, 'token_max_ttl');
  if (maxTtl !== undefined) settings.tokenMaxTtl = maxTtl;
  const secretIdTtl = durationField(body, 'secret_id_ttl');
  if (secretIdTtl !== undefined) settings.secretIdTtl = secretIdTtl;
  const uses = intField(body, 'secret_id_num_uses');
  if (uses !== undefined) {
    if (uses < 0) throw badRequest('secret_id_num_uses must be 0 or more');
    settings.secretIdNumUses = uses;
  }
  const tokenUses = intField(body, 'token_num_uses');
  if (tokenUses !== undefined) settings.tokenNumUses = tokenUses;
  const bind = boolField(body, 'bind_secret_id');
  if (bind !== undefined) settings.bindSecretId = bind;
  await ctx.services.approle.writeRole(ctx.params.name!, settings);
  return noContent();
}

async function readRole(ctx: RouteContext) {
  const role = await ctx.services.approle.readRole(ctx.params.name!);
  if (!role) throw notFound();
  return envelope({
    bind_secret_id: role.bindSecretId,
    policies: role.policies,
    token_policies: role.policies,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    token_max_ttl: role.tokenMaxTtl,
    token_num_uses: role.tokenNumUses,
    token_ttl: role.tokenTtl,
    token_type: 'default',
  });
}

async function deleteRole(ctx: RouteContext) {
  await ctx.services.approle.deleteRole(ctx.params.name!);
  return noContent();
}

async function roleId(ctx: RouteContext) {
  const role = await ctx.services.approle.readRole(ctx.params.name!);
  if (!role) throw notFound();
  return envelope({ role_id: role.roleId });
}

async function secretId(ctx: RouteContext) {
  const metadata = stringMapField(ctx.body(), 'metadata');
  const issued = await ctx.services.approle.generateSecretId(ctx.params.name!, metadata ?? {});
  return envelope({
    secret_id: issued.secretId,
    secret_id_accessor: issued.accessor,
    secret_id_num_uses: issued.numUses,
    secret_id_ttl: issued.ttl,
  });
}
