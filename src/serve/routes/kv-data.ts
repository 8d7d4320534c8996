/**
 * `{mount}/data/{path}`: read a version, write one (with check-and-set),
 * merge-patch the latest, soft-delete the latest. The KV plugin's
 * path_data.go, over the store.
 */
import { StoreError } from '../../errors.js';
import { envelope, noContent, RawJson } from '../envelope.js';
import { rawMember } from '../json-member.js';
import { NOT_CACHED } from '../record-cache.js';
import { mergePatch, parsedData, vaultData } from '../kv-values.js';
import { intField, wholeNumber } from '../request-body.js';
import { under, type Route } from '../router.js';
import { badRequest, notFound, permissionDenied, VaultError } from '../vault-error.js';
import { entryMetadata, readableAt, requireMergePatch, secretExists, versionMetadata } from './kv-shared.js';
import type { WriteResult } from '../../store/types.js';
import type { RouteContext } from '../route-context.js';
import type { KvKeySettings } from '../kv-settings.js';

const KV = { mountType: 'kv' } as const;

export function kvDataRoute(mount: string): Route {
  return {
    family: 'kv-data',
    match: under(`${mount}/data`, 'required'),
    handlers: { read, write, patch, delete: remove },
    exists: (ctx) => secretExists(ctx, ctx.params.rest!),
    auditsOwnReads: ['read'],
  };
}

async function read(ctx: RouteContext) {
  const name = ctx.params.rest!;
  const q = ctx.req.query.get('version');
  let version: number | undefined;
  if (q !== null && q !== '') {
    const n = wholeNumber(q);
    if (n === undefined) throw badRequest('version must be a whole number');
    version = n > 0 ? n : undefined; // 0 or less means the latest, as in the plugin
  }
  const cached = ctx.services.kv.effectiveCached(name);
  const settings = cached !== NOT_CACHED ? cached : await ctx.services.kv.effective(name);
  const entry = await ctx.auditedRead(() => ctx.services.store.getEntry(name, version === undefined ? {} : { version }));
  const metadata = entryMetadata(entry, settings);
  if (!entry.value || !readableAt(entry, settings, ctx.services.now())) {
    entry.value?.wipe();
    // Deleted or destroyed: 404 with the full envelope and no errors (what the CLI prints as metadata).
    throw new VaultError(404, undefined, envelope({ data: null, metadata }, KV, 404));
  }
  try {
    const data = vaultData(entry.value, entry.json);
    // The stored JSON text spliced in as is (the bytes JSON.stringify with stringifyWithRaw would make, built directly: every KV read goes here).
    if (data instanceof RawJson) return envelope(new RawJson(`{"data":${data.text},"metadata":${JSON.stringify(metadata)}}`), KV);
    return envelope({ data, metadata }, KV);
  } finally {
    entry.value.wipe();
  }
}

function casOf(ctx: RouteContext): number | undefined {
  const options = ctx.body().options;
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object' || Array.isArray(options)) throw badRequest('options must be an object');
  // A cas given as null is given, and is 0 (only if absent): the plugin decodes it so (validateCheckAndSetOption).
  if ((options as Record<string, unknown>).cas === null) return 0;
  return intField(options as Record<string, unknown>, 'cas');
}

/** The body's `data` object. @throws 400 when there is none or it is not an object */
function dataOf(ctx: RouteContext): Record<string, unknown> {
  const data = ctx.body().data;
  if (data === undefined || data === null) throw badRequest('no data provided');
  if (typeof data !== 'object' || Array.isArray(data)) throw badRequest('data must be a JSON object');
  return data as Record<string, unknown>;
}

/** The write's check-and-set and the settings that apply; 400 when CAS is required and missing. */
async function writeChecks(ctx: RouteContext, name: string): Promise<{ cas: number | undefined; settings: KvKeySettings }> {
  const cas = casOf(ctx);
  const settings = await ctx.services.kv.effective(name);
  if (settings.casRequired && cas === undefined) throw badRequest('check-and-set parameter required for this call');
  return { cas, settings };
}

async function write(ctx: RouteContext) {
  const name = ctx.params.rest!;
  dataOf(ctx);
  const { cas, settings } = await writeChecks(ctx, name);
  // The `data` object's own bytes, as sent: a read answers exactly these.
  const text = rawMember(ctx.bodyText(), 'data')!;
  const written = ctx.createOnly
    ? await createOnlyPut(ctx, name, text, cas)
    : await ctx.services.store.put(name, Buffer.from(text, 'utf8'), { json: true, ...(cas !== undefined ? { cas } : {}) });
  return envelope(writtenMetadata(written, settings), KV);
}

/**
 * A write the policies allow only as a create (create without update): the
 * secret had no version when the dispatcher checked, and the write is made
 * with cas 0, so that the store refuses it atomically if one was written
 * since (concurrent first writes: one creates, the others would update).
 * Answered as the same write made after the other is (403); a cas other
 * than 0 is a mismatch with a secret that does not exist, as Vault answers.
 */
async function createOnlyPut(ctx: RouteContext, name: string, text: string, cas: number | undefined): Promise<WriteResult> {
  if (cas !== undefined && cas !== 0) throw new StoreError('E_CAS_MISMATCH', 'check-and-set mismatch');
  try {
    return await ctx.services.store.put(name, Buffer.from(text, 'utf8'), { json: true, cas: 0 });
  } catch (e) {
    if (e instanceof StoreError && e.code === 'E_CAS_MISMATCH') throw permissionDenied();
    throw e;
  }
}

function writtenMetadata(written: WriteResult, settings: KvKeySettings): Record<string, unknown> {
  return versionMetadata({ version: written.version, createdAt: written.createdAt, state: 'live', json: true }, settings, written.custom);
}

/** How many times a PATCH without the client's cas is made before it is answered as a check-and-set mismatch. */
const PATCH_TRIES = 10;

async function patch(ctx: RouteContext) {
  requireMergePatch(ctx);
  const name = ctx.params.rest!;
  const data = dataOf(ctx);
  const { cas, settings } = await writeChecks(ctx, name);
  for (let tries = 1; ; tries++) {
    try {
      return await patchLatest(ctx, name, data, cas, settings);
    } catch (e) {
      // Without the client's cas, a mismatch means another write landed between this read and this write. Vault holds
      // the secret's lock through both, so every patch lands: read, merge and write again. The client's cas is answered as is.
      if (cas !== undefined || tries === PATCH_TRIES || !(e instanceof StoreError && e.code === 'E_CAS_MISMATCH')) throw e;
    }
  }
}

/** Merge `data` into the latest version and write the result, checked and set against the version read. */
async function patchLatest(ctx: RouteContext, name: string, data: Record<string, unknown>, cas: number | undefined, settings: KvKeySettings) {
  let entry;
  try {
    entry = await ctx.services.store.getEntry(name);
  } catch (e) {
    if (e instanceof StoreError && e.code === 'E_NOT_FOUND') throw notFound();
    throw e;
  }
  if (!entry.value || !readableAt(entry, settings, ctx.services.now())) {
    entry.value?.wipe();
    throw new VaultError(404, undefined, envelope(entryMetadata(entry, settings), KV, 404));
  }
  if (cas !== undefined && cas !== entry.version) throw new StoreError('E_CAS_MISMATCH', 'check-and-set mismatch');
  let merged: string;
  try {
    merged = JSON.stringify(mergePatch(parsedData(entry.value, entry.json), data));
  } finally {
    entry.value.wipe();
  }
  // The version read is the one patched: a write in between fails the check-and-set (patch tries again).
  const written = await ctx.services.store.put(name, Buffer.from(merged, 'utf8'), { json: true, cas: entry.version });
  return envelope(writtenMetadata(written, settings), KV);
}

/** Soft-delete the latest version; a missing secret, or a latest version already deleted or destroyed, is still 204. */
async function remove(ctx: RouteContext) {
  try {
    await ctx.services.store.delete(ctx.params.rest!);
  } catch (e) {
    if (!(e instanceof StoreError && (e.code === 'E_NOT_FOUND' || e.code === 'E_DELETED' || e.code === 'E_DESTROYED'))) throw e;
  }
  return noContent();
}
