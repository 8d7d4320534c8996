/**
 * `{mount}/metadata/{path}`: a secret's metadata and its versions', list the
 * keys under a folder, change max versions, custom metadata, cas_required
 * and delete_version_after (a write, or a merge-PATCH), and delete a secret
 * with every version. The KV plugin's path_metadata.go, over the store.
 */
import { StoreError } from '../../errors.js';
import { checkName } from '../../store/names.js';
import { envelope, noContent } from '../envelope.js';
import { boolField, durationField, goDuration, intField, parseGoBool, stringMapField, type Body } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest, notFound } from '../vault-error.js';
import { mergePatch, vaultTime } from '../kv-values.js';
import { deletionTime, oneAtATime, requireMergePatch, secretExists } from './kv-shared.js';
import type { RouteContext } from '../route-context.js';
import type { KvKeySettings } from '../kv-settings.js';

const KV = { mountType: 'kv' } as const;

export function kvMetadataRoute(mount: string): Route {
  return {
    family: 'kv-metadata',
    match: under(`${mount}/metadata`, 'optional'),
    handlers: { read, list, write, patch, delete: remove },
    exists: (ctx) => secretExists(ctx, ctx.params.rest!),
  };
}

/**
 * The secret a read, write or delete names: the path's rest as sent, which
 * the policies were checked on. A rest ending in '/' (`prod/db/`) is not
 * trimmed to another secret's name: it names none, and is refused (400).
 */
function secretName(ctx: RouteContext): string {
  return checkName(ctx.params.rest!);
}

async function read(ctx: RouteContext) {
  if (ctx.params.rest === '') throw notFound();
  const name = secretName(ctx);
  const [detail, own, effective] = await Promise.all([
    ctx.services.store.describe(name),
    ctx.services.kv.key(name),
    ctx.services.kv.effective(name),
  ]);
  const m = detail.metadata;
  const versions: Record<string, unknown> = {};
  for (const v of detail.versions) {
    versions[String(v.version)] = {
      created_time: vaultTime(v.createdAt),
      deletion_time: vaultTime(deletionTime(v, effective)),
      destroyed: v.state === 'destroyed',
    };
  }
  return envelope({
    cas_required: own.casRequired,
    created_time: vaultTime(m.createdAt),
    current_version: m.currentVersion,
    custom_metadata: Object.keys(m.custom).length > 0 ? m.custom : null,
    delete_version_after: goDuration(own.deleteVersionAfter),
    max_versions: m.maxVersions,
    // Vault reports 0 until versions were first trimmed.
    oldest_version: m.oldestVersion <= 1 ? 0 : m.oldestVersion,
    updated_time: vaultTime(m.updatedAt),
    versions,
  }, KV);
}

/** The direct children of a folder: keys, and sub-folders ending in '/'. None: 404. */
async function list(ctx: RouteContext) {
  // One trailing '/' is the list form (the ACL reads a list's path with one); more would be an empty segment, which no key has.
  const folder = ctx.params.rest!.replace(/\/$/, '');
  if (folder.endsWith('/')) throw notFound();
  const prefix = folder === '' ? '' : `${folder}/`;
  const excludeDeleted = parseGoBool(ctx.req.query.get('exclude_deleted') ?? 'false') === true;
  const keys = new Set<string>();
  for await (const s of ctx.services.store.entries({ pattern: prefix })) {
    if (!s.name.startsWith(prefix)) continue;
    const rest = s.name.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash >= 0) keys.add(rest.slice(0, slash + 1));
    else if (!(excludeDeleted && s.state !== 'live')) keys.add(rest);
  }
  if (keys.size === 0) throw notFound();
  return envelope({ keys: [...keys].sort() }, KV);
}

/** What a metadata write or patch changes; undefined: left as it is. */
interface MetadataChange {
  maxVersions: number | undefined;
  /** The whole custom map, as it is to be. */
  custom: Record<string, string> | undefined;
  settings: Partial<KvKeySettings>;
}

/** The change a body asks for, checked; for a patch, `patching` is the stored custom map its custom_metadata merges into. */
function metadataChange(body: Body, patching?: Record<string, string>): MetadataChange {
  const maxVersions = intField(body, 'max_versions');
  if (maxVersions !== undefined && maxVersions < 0) throw badRequest('max_versions must be 0 or more');
  const settings: Partial<KvKeySettings> = {};
  const cas = boolField(body, 'cas_required');
  if (cas !== undefined) settings.casRequired = cas;
  const dva = durationField(body, 'delete_version_after');
  if (dva !== undefined) settings.deleteVersionAfter = dva;
  return { maxVersions, custom: customOf(body, patching), settings };
}

function customOf(body: Body, patching: Record<string, string> | undefined): Record<string, string> | undefined {
  if (patching === undefined || body.custom_metadata === undefined) return stringMapField(body, 'custom_metadata');
  // RFC 7386 over the stored map: null removes a member (null for the whole field, every one); the result is checked as a write's.
  return stringMapField({ custom_metadata: mergePatch(patching, body.custom_metadata) ?? {} }, 'custom_metadata');
}

async function write(ctx: RouteContext) {
  if (ctx.params.rest === '') throw badRequest('missing path');
  const name = secretName(ctx);
  const change = metadataChange(ctx.body());
  await oneAtATime(ctx, name, () => apply(ctx, name, change));
  return noContent();
}

/**
 * `vault kv metadata patch`: the fields given are merged into the secret's
 * metadata (custom_metadata member by member), the others kept; 404 for a
 * secret with none.
 */
async function patch(ctx: RouteContext) {
  requireMergePatch(ctx);
  if (ctx.params.rest === '') throw badRequest('missing path');
  const name = secretName(ctx);
  await oneAtATime(ctx, name, async () => {
    let stored: Record<string, string>;
    try {
      stored = (await ctx.services.store.getMetadata(name)).custom;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'E_NOT_FOUND') throw notFound();
      throw e;
    }
    await apply(ctx, name, metadataChange(ctx.body(), stored));
  });
  return noContent();
}

/** Make a metadata change: max versions and custom metadata on the secret (which must hold a version), the settings beside it. */
async function apply(ctx: RouteContext, name: string, { maxVersions, custom, settings }: MetadataChange): Promise<void> {
  if (maxVersions !== undefined || custom !== undefined) {
    // Allowed only as a create (the secret had no version when checked): these change an existing secret, so they are
    // refused as they are for a secret with none, never applied to one written since (an update the policies do not allow).
    if (ctx.createOnly) throw needsVersion(name);
    try {
      await ctx.services.store.setMetadata(name, {
        ...(maxVersions !== undefined ? { maxVersions } : {}),
        ...(custom !== undefined ? { custom } : {}),
      });
    } catch (e) {
      if (e instanceof StoreError && e.code === 'E_NOT_FOUND') throw needsVersion(name);
      throw e;
    }
  }
  // cas_required and delete_version_after are kept apart from the secret (kv-settings.ts), and a create-only caller may
  // set them on a name with no secret: set at the moment a first version is being written elsewhere, they are what the
  // same caller could have set just before it, so no check of the secret is made with them.
  if (Object.keys(settings).length > 0) await ctx.services.kv.setKey(name, settings);
}

function needsVersion(name: string) {
  return badRequest(`max_versions and custom_metadata need ${name} to hold a version first: write its data, then its metadata`);
}

/** Every version and the metadata; a missing key is still 204. */
async function remove(ctx: RouteContext) {
  if (ctx.params.rest === '') throw badRequest('missing path');
  const name = secretName(ctx);
  try {
    await ctx.services.store.purge(name);
  } catch (e) {
    if (!(e instanceof StoreError && e.code === 'E_NOT_FOUND')) throw e;
  }
  await ctx.services.kv.deleteKey(name);
  return noContent();
}
