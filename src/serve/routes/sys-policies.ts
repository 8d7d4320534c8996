/**
 * `sys/policies/acl` (and the older `sys/policy`): list, read, write and
 * delete ACL policies, in the HCL or JSON form Vault users write.
 * `sys/capabilities-self` answers what the caller's policies allow on paths.
 */
import { envelope, envelopeAndTopLevel, noContent } from '../envelope.js';
import { stringField, stringListField } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest, notFound } from '../vault-error.js';
import type { RouteContext } from '../route-context.js';

export function sysPolicyRoutes(): Route[] {
  const family = 'sys-policies';
  return [
    { family, match: under('sys/policies/acl', 'optional'), handlers: { list, read: (ctx) => (ctx.params.rest ? read(ctx) : list(ctx)), write, delete: remove } },
    { family, match: under('sys/policy', 'optional'), handlers: { read: (ctx) => (ctx.params.rest ? read(ctx, true) : listLegacy(ctx)), write, delete: remove } },
    // Checked as Vault checks it: update on sys/capabilities-self (the default policy grants it).
    { family: 'sys-capabilities', match: under('sys/capabilities-self', 'none'), handlers: { write: capabilitiesSelf } },
  ];
}

async function list(ctx: RouteContext) {
  if (ctx.params.rest) throw notFound();
  return envelope({ keys: await ctx.services.policies.names() });
}

async function listLegacy(ctx: RouteContext) {
  const names = await ctx.services.policies.names();
  return envelopeAndTopLevel({ keys: names, policies: names });
}

async function read(ctx: RouteContext, legacy = false) {
  const name = ctx.params.rest!;
  const text = await ctx.services.policies.text(name);
  if (text === undefined) throw notFound();
  return legacy ? envelopeAndTopLevel({ name, rules: text }) : envelope({ name, policy: text });
}

async function write(ctx: RouteContext) {
  const name = ctx.params.rest!;
  if (!name) throw badRequest('missing policy name');
  const body = ctx.body();
  const text = stringField(body, 'policy') ?? stringField(body, 'rules');
  if (text === undefined) throw badRequest("missing 'policy' (the policy's HCL or JSON text)");
  await ctx.services.policies.write(name, text);
  return noContent();
}

async function remove(ctx: RouteContext) {
  const name = ctx.params.rest!;
  if (!name) throw badRequest('missing policy name');
  await ctx.services.policies.delete(name);
  return noContent();
}

async function capabilitiesSelf(ctx: RouteContext) {
  const body = ctx.body();
  const paths = stringListField(body, 'paths') ?? (stringField(body, 'path') !== undefined ? [stringField(body, 'path')!] : undefined);
  if (!paths || paths.length === 0) throw badRequest("missing 'paths'");
  const out: Record<string, string[]> = {};
  for (const p of paths) out[p] = ctx.self.acl.isRoot ? ['root'] : ctx.self.acl.capabilities(p);
  return envelope({ ...out, ...(paths.length === 1 ? { capabilities: out[paths[0]!] } : {}) });
}
