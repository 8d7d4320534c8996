/**
 * The store header: public facts kept in the `meta` table (format, store id,
 * master-key parameters and check, limits). Readable without any key, so the
 * CLI can tell which master key a store wants before asking for it.
 */
import { StoreError, TamperedError } from '../errors.js';
import type { MasterParams } from '../crypto/master/master-key.js';
import { hex } from '../crypto/bytes.js';
import { MAX_VALUE_BYTES } from '../crypto/envelope.js';
import type { Awaitable, StorageOps } from '../storage/storage.js';

export const STORE_FORMAT = 'strongbox/v1';
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Hard ceiling for the per-store value limit. */
export const MAX_VALUE_BYTES_LIMIT = MAX_VALUE_BYTES;

export interface StoreHeader {
  storeId: Uint8Array;
  createdAt: number;
  master: MasterParams;
  masterCheck: string;
  maxValueBytes: number;
  /** 0: unlimited. */
  defaultMaxVersions: number;
  /** The audit-log key wrapped by the master key (absent in a store from before the audit log). */
  auditKey: string | undefined;
  /** Whether reads are audited too (config audit.reads, default true). */
  auditReads: boolean;
}

/** Settings a user may change with `store config set` (kept in the header as config.KEY). */
export const CONFIG_KEYS = ['audit.reads'] as const;

/** What reads header entries: the authenticated storage, or a driver's rows before the key that checks them is known. */
export interface MetaReader {
  getMeta(key: string): Awaitable<string | undefined>;
}
export type ConfigKey = (typeof CONFIG_KEYS)[number];


export async function writeHeader(tx: Pick<StorageOps, 'setMeta'>, h: StoreHeader): Promise<void> {
  await tx.setMeta('format', STORE_FORMAT);
  await tx.setMeta('store_id', hex(h.storeId));
  await tx.setMeta('created_at', String(h.createdAt));
  await tx.setMeta('master', JSON.stringify(h.master));
  await tx.setMeta('master_check', h.masterCheck);
  await tx.setMeta('max_value_bytes', String(h.maxValueBytes));
  await tx.setMeta('default_max_versions', String(h.defaultMaxVersions));
  if (h.auditKey !== undefined) await tx.setMeta('audit_key', h.auditKey);
  await tx.setMeta('config.audit.reads', String(h.auditReads));
}

/** @throws StoreError E_UNSUPPORTED_FORMAT / E_NOT_A_STORE when the header is not one we wrote */
/**
 * A header entry read before any key can check it (to choose the key): a
 * damaged file may hold bytes or a number where text belongs.
 * @throws TamperedError naming the entry
 */
export async function headerText(store: MetaReader, key: string, path: string): Promise<string | undefined> {
  const v: unknown = await store.getMeta(key);
  if (v !== undefined && typeof v !== 'string') throw new TamperedError(`${path}: header entry ${JSON.stringify(key)} is damaged (not text)`);
  return v;
}

export async function readHeader(store: MetaReader, path: string): Promise<StoreHeader> {
  const tx = { getMeta: (key: string) => headerText(store, key, path) };
  const format = await tx.getMeta('format');
  if (format === undefined) throw new StoreError('E_NOT_A_STORE', `${path} has no Strongbox header`);
  if (format !== STORE_FORMAT) throw new StoreError('E_UNSUPPORTED_FORMAT', `${path} has store format "${format}"; this program reads ${STORE_FORMAT}`);
  const id = await tx.getMeta('store_id') ?? '';
  // Read outside the try: an entry that fails its MAC (authenticated storage) is E_TAMPERED and stays so;
  // only text that does not parse is a damaged header.
  const masterText = await tx.getMeta('master') ?? '';
  let master: MasterParams;
  try {
    master = JSON.parse(masterText) as MasterParams;
  } catch {
    throw new StoreError('E_NOT_A_STORE', `${path} has a damaged header (master)`);
  }
  if (!/^[0-9a-f]{32}$/.test(id) || typeof master?.kind !== 'string') {
    throw new StoreError('E_NOT_A_STORE', `${path} has a damaged header`);
  }
  return {
    storeId: new Uint8Array(Buffer.from(id, 'hex')),
    createdAt: Number(await tx.getMeta('created_at')),
    master,
    masterCheck: await tx.getMeta('master_check') ?? '',
    maxValueBytes: Number(await tx.getMeta('max_value_bytes') ?? DEFAULT_MAX_VALUE_BYTES),
    defaultMaxVersions: Number(await tx.getMeta('default_max_versions') ?? 0),
    auditKey: await tx.getMeta('audit_key'),
    auditReads: await tx.getMeta('config.audit.reads') !== 'false',
  };
}

export function storeIdHex(h: StoreHeader): string {
  return hex(h.storeId);
}
