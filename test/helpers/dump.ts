/**
 * A store's whole visible state, values included, as plain data: for
 * comparing two stores (export → import) or one store before and after a
 * refused operation. Deleted versions' values are read below the Store, in
 * a context of the same file opened again with the store's master key (the
 * public get refuses them); destroyed versions have none.
 */
import { openValue } from '../../src/crypto/envelope.js';
import { closeContext } from '../../src/store/context.js';
import { openContext } from '../../src/store/open.js';
import type { MasterKeySource, Store } from '../../src/index.js';
import { masterOf } from './store.js';

export interface DumpedVersion {
  version: number;
  createdAt: number;
  state: string;
  deletedAt?: number;
  destroyedAt?: number;
  /** hex; absent when destroyed */
  value?: string;
  /** Present (true) only for a version recorded as a JSON object's text. */
  json?: true;
}

export interface DumpedSecret {
  name: string;
  currentVersion: number;
  maxVersions: number;
  custom: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  versions: DumpedVersion[];
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** `master`: the store's master key; by default the one freshStore or reopenStore opened it with. */
export async function dump(store: Store, master: MasterKeySource = masterOf(store)): Promise<DumpedSecret[]> {
  const c = await openContext(store.path, master);
  try {
    return await dumpWith(store, c);
  } finally {
    await closeContext(c);
  }
}

async function dumpWith(store: Store, c: Awaited<ReturnType<typeof openContext>>): Promise<DumpedSecret[]> {
  const out: DumpedSecret[] = [];
  for (const s of await store.list()) {
    const versions: DumpedVersion[] = [];
    for (const h of await store.history(s.name)) {
      const v: DumpedVersion = { version: h.version, createdAt: h.createdAt.getTime(), state: h.state };
      if (h.deletedAt) v.deletedAt = h.deletedAt.getTime();
      if (h.destroyedAt) v.destroyedAt = h.destroyedAt.getTime();
      if (h.json) v.json = true;
      if (h.state !== 'destroyed') {
        const row = (await c.storage.readVersion(s.name, h.version))!.version!;
        v.value = hex(openValue(c.keyset, c.header.storeId, s.name, h.version, row.ciphertext));
      }
      versions.push(v);
    }
    out.push({
      name: s.name, currentVersion: s.currentVersion, maxVersions: s.maxVersions, custom: s.custom,
      createdAt: s.createdAt.getTime(), updatedAt: s.updatedAt.getTime(), versions,
    });
  }
  return out;
}

/**
 * What an --all-versions export carries of a store, as an import makes it
 * again: destroyed versions and secrets with nothing left dropped, but a
 * destroyed current version, which the import records as destroyed at the
 * secret's last update (docs/export-format.md).
 */
export function exportable(d: DumpedSecret[]): DumpedSecret[] {
  return d
    .map((s) => ({ ...s, versions: s.versions.filter((v) => v.state !== 'destroyed') }))
    .filter((s) => s.versions.length > 0)
    .map((s) => (s.versions.some((v) => v.version === s.currentVersion)
      ? s
      : { ...s, versions: [...s.versions, { version: s.currentVersion, createdAt: s.updatedAt, state: 'destroyed', destroyedAt: s.updatedAt }] }));
}
