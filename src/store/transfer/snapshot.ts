/**
 * What every export reads: one consistent snapshot of the store (one read
 * transaction), the secrets it takes and their plaintext, and the audit entry
 * that must be written before the exported file is kept.
 */
import { openValue } from '../../crypto/envelope.js';
import { TamperedError } from '../../errors.js';
import { requireKey, withFreshKeyset } from '../keys.js';
import type { StoreContext } from '../context.js';
import type { SecretRow, StorageOps, VersionRow } from '../../storage/storage.js';
import type { Sink } from './files.js';
import type { ExportReport } from './types.js';

const LIST_PAGE = 500;

interface Selected {
  secret: SecretRow;
  /** Versions to export (no ciphertext), oldest first; empty when the secret is left out. */
  versions: VersionRow[];
  destroyed: number;
}

/** The secrets under `prefix` in name order, with the versions an export takes from each. */
export async function* selection(tx: StorageOps, prefix: string, allVersions: boolean): AsyncGenerator<Selected> {
  let after = '';
  for (;;) {
    const page = await tx.listSecrets(prefix, after, LIST_PAGE);
    for (const s of page) {
      const all = await tx.listVersions(s.id);
      const notDestroyed = all.filter((v) => v.destroyedAt === null);
      const versions = allVersions
        ? notDestroyed
        : notDestroyed.filter((v) => v.version === s.currentVersion && v.deletedAt === null);
      yield { secret: s, versions, destroyed: allVersions ? all.length - notDestroyed.length : 0 };
    }
    if (page.length < LIST_PAGE) return;
    after = page[page.length - 1]!.name;
  }
}

/** The plaintext of a version in a read transaction. The caller wipes it. */
export async function plaintextOf(c: StoreContext, tx: StorageOps, name: string, version: number): Promise<Uint8Array> {
  const found = (await tx.readVersion(name, version))?.version;
  // Listed in this snapshot, gone when read in it: only an edit of the file moves a row so.
  if (!found || found.destroyedAt !== null) throw new TamperedError(`${name} version ${version} was listed but is not where its row belongs`);
  requireKey(c.keyset, found.keyId); // else reload the keyset, then start over
  return openValue(c.keyset, c.header.storeId, name, version, found.ciphertext);
}

/** Run `fn` over one snapshot; if it meets a data key we lack (another process rotated), reload and start over. */
export function snapshot<T>(c: StoreContext, sink: Pick<Sink, 'reset'>, fn: (tx: StorageOps) => Promise<T>): Promise<T> {
  return withFreshKeyset(c, () => c.storage.read(fn), () => sink.reset());
}

/**
 * Record an export in the audit log before the file is kept: an export that
 * cannot be logged is removed (fail closed, like every change).
 */
export async function auditExport(c: StoreContext, r: ExportReport): Promise<ExportReport> {
  const to = r.recipients ? ` for ${r.recipients.length} recipient(s)` : '';
  const detail = `${r.format} ${r.path}${to}: ${r.secrets} secret(s), ${r.versions} version(s)${r.allVersions ? ', all versions' : ''}`;
  await c.storage.write((tx) => c.audit.append(tx, { action: 'export', outcome: 'ok', detail }));
  return r;
}
