/**
 * A store's whole visible state, values included, as plain data: for
 * comparing two stores (export → import) or one store before and after a
 * refused operation. Deleted versions' values are read through the store's
 * context (the public get refuses them); destroyed versions have none.
 */
import { contextOf } from '../../src/store/store.js';
import { openValue } from '../../src/crypto/envelope.js';
import type { Store } from '../../src/index.js';

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

export async function dump(store: Store): Promise<DumpedSecret[]> {
  const c = contextOf(store);
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

/** What an --all-versions export carries of a store: destroyed versions and secrets with nothing left dropped. */
export function exportable(d: DumpedSecret[]): DumpedSecret[] {
  return d
    .map((s) => ({ ...s, versions: s.versions.filter((v) => v.state !== 'destroyed') }))
    .filter((s) => s.versions.length > 0);
}
