/**
 * The write side every import shares (bundle and plaintext): one transaction
 * under the stored primary key, the conflict policies, max versions, the
 * audit entries, and the look at Ctrl-C before anything is written.
 */
import { StoreError } from '../../errors.js';
import { equalBytes, wipe } from '../../crypto/bytes.js';
import { openValue } from '../../crypto/envelope.js';
import type { AuditEntry } from '../audit.js';
import { requireKey, sealingWrite, withFreshKeyset } from '../keys.js';
import type { StoreContext } from '../context.js';
import { appendVersion, insertSealed, pruneVersions, versionsKept } from '../versions.js';
import type { SecretRow, StorageOps } from '../../storage/storage.js';
import type { ConflictPolicy, ImportActionKind, ImportFormat, ImportReport } from './types.js';
import { stopIfAborted } from './checks.js';

function emptyReport(path: string, format: ImportFormat, dryRun: boolean, onConflict: ConflictPolicy): ImportReport {
  return {
    path, format, dryRun, onConflict, created: [], overwritten: [], appended: [], unchanged: [], skipped: [], noCurrentValue: [], versions: 0, pruned: 0,
    actions: [],
  };
}

/** stopIfAborted (./checks.ts) for an import: only called before its transaction, so "nothing was imported" is always true. */
export function stopIfInterrupted(signal: AbortSignal | undefined, path: string): Promise<void> {
  return stopIfAborted(signal, () => new StoreError('E_INTERRUPTED', `the import of ${path} was interrupted before anything was written: nothing was imported`, [
    'run it again: it starts from the beginning (an import writes everything in one transaction, or nothing)',
  ]));
}

/**
 * Run `fn` in a write transaction (a read one for a dry run) whose sealing
 * key is the stored primary; reload the keyset and retry if another process rotated.
 */
function sealingTransaction(c: StoreContext, dryRun: boolean, fn: (tx: StorageOps) => Promise<void>): Promise<void> {
  // No cached read outlives an import: the Store's #change drops them all once it returns or fails.
  return withFreshKeyset(c, () => (dryRun ? c.storage.read(fn) : sealingWrite(c, fn)));
}

/** A dry run's comparisons, audited once its read transaction is over (a read that cannot be recorded fails, as a get does). */
async function auditComparisons(c: StoreContext, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length > 0) await c.storage.write(async (tx) => { for (const e of entries) await c.audit.append(tx, e); }, { relaxed: true });
}

/**
 * The write of an import: `fn` gets an Importer in one transaction (a read
 * one for a dry run), started over with a fresh report if the keyset must be
 * reloaded; then the checkpoint an overwrite calls for, and a dry run's
 * comparisons audited.
 */
export async function writeImport(
  c: StoreContext, path: string, format: ImportFormat, dryRun: boolean, onConflict: ConflictPolicy, fn: (im: Importer) => Promise<void>,
): Promise<ImportReport> {
  let report = emptyReport(path, format, dryRun, onConflict);
  let compared: AuditEntry[] = [];
  await sealingTransaction(c, dryRun, async (tx) => {
    report = emptyReport(path, format, dryRun, onConflict);
    const im = new Importer(c, tx, report, dryRun);
    compared = im.compared;
    await fn(im);
  });
  if (!dryRun && report.overwritten.length > 0) await c.storage.file?.checkpoint();
  await auditComparisons(c, compared);
  return report;
}

/** Writes (or, in a dry run, counts) inside one transaction; shared by bundle and plain imports. */
export class Importer {
  readonly #detail: string;
  /** Dry run: the comparisons made (reads of current values), audited after the read transaction. */
  readonly compared: AuditEntry[] = [];

  constructor(
    private readonly c: StoreContext,
    private readonly tx: StorageOps,
    private readonly report: ImportReport,
    private readonly dryRun: boolean,
  ) {
    this.#detail = `${report.format} ${report.path} (on conflict: ${report.onConflict})`;
  }

  /** One audit entry per secret written, in the import's own transaction (fail closed, like every change). */
  async audit(name: string, versions: number[]): Promise<void> {
    if (!this.dryRun) await this.c.audit.append(this.tx, { action: 'import', name, versions, outcome: 'ok', detail: this.#detail });
  }

  #act(name: string, action: ImportActionKind, list: string[]): void {
    list.push(name);
    this.report.actions.push({ name, action });
  }

  /** The bundle holds no live current value for an existing name (new-version, update): left alone. */
  noCurrentValue(name: string): void {
    this.#act(name, 'no-current-value', this.report.noCurrentValue);
  }

  /** The secret row to import versions into, or what the policy says instead. */
  async begin(name: string, createdAt: number): Promise<{ mode: 'create'; row: SecretRow | undefined } | { mode: 'skip' } | { mode: 'append'; row: SecretRow }> {
    const existing = await this.tx.findSecret(name);
    if (existing) {
      switch (this.report.onConflict) {
        case 'skip':
          this.#act(name, 'skip', this.report.skipped);
          return { mode: 'skip' };
        case 'new-version':
        case 'update':
          return { mode: 'append', row: existing };
        case 'overwrite':
          this.#act(name, 'overwrite', this.report.overwritten);
          if (!this.dryRun) await this.tx.deleteSecret(existing.id);
          break;
      }
    } else {
      this.#act(name, 'create', this.report.created);
    }
    return { mode: 'create', row: this.dryRun ? undefined : await this.tx.insertSecret(name, createdAt) };
  }

  /** Insert a version as it was in the source (number, times, state, JSON or bytes). */
  async insert(
    row: SecretRow | undefined, name: string, version: number, createdAt: number, deletedAt: number | null, value: Uint8Array, json: boolean,
  ): Promise<void> {
    this.report.versions++;
    if (row) await insertSealed(this.tx, this.c, { id: row.id, name }, { version, createdAt, deletedAt, json }, value);
  }

  /**
   * Append `value` as version n+1 of an existing secret, as a put would
   * (under `update`, only when it differs from the current live value, or is
   * the same bytes but JSON where that is not, or the other way round).
   */
  async append(row: SecretRow, value: Uint8Array, json: boolean): Promise<void> {
    if (this.report.onConflict === 'update' && await this.#isCurrent(row, value, json)) {
      this.#act(row.name, 'unchanged', this.report.unchanged);
      return;
    }
    this.#act(row.name, 'update', this.report.appended);
    this.report.versions++;
    if (this.dryRun) {
      this.#countPruned(row.maxVersions, (await this.tx.listVersions(row.id)).length + 1);
      return;
    }
    const { version, pruned } = await appendVersion(this.tx, this.c, row, value, json, this.c.now());
    this.report.pruned += pruned.length;
    await this.audit(row.name, [version]);
  }

  /**
   * Whether `value` is the secret's current live value. Decrypting it is a
   * read, so it is audited as reads are (config audit.reads): in the import's
   * transaction, or for a dry run (a read transaction) just after it.
   * The value is compared in constant time and wiped.
   */
  async #isCurrent(row: SecretRow, value: Uint8Array, json: boolean): Promise<boolean> {
    const current = (await this.tx.readVersion(row.name, row.currentVersion))?.version;
    // Deleted or destroyed: importing the value makes it live again, so it is a change.
    if (!current || current.deletedAt !== null || current.destroyedAt !== null) return false;
    // Another content type is a change too, and needs no decryption to tell.
    if (current.json !== json) return false;
    requireKey(this.c.keyset, current.keyId); // else another process rotated: reload, start over
    const plain = openValue(this.c.keyset, this.c.header.storeId, row.name, current.version, current.ciphertext);
    try {
      if (this.c.header.auditReads) {
        const entry: AuditEntry = { action: 'import.compare', name: row.name, versions: [current.version], outcome: 'ok', detail: this.#detail };
        if (this.dryRun) this.compared.push(entry);
        else await this.c.audit.append(this.tx, entry);
      }
      return equalBytes(plain, value);
    } finally {
      wipe(plain);
    }
  }

  /** Set a created secret's metadata once its versions are in. */
  async finish(row: SecretRow | undefined, fields: Pick<SecretRow, 'currentVersion' | 'maxVersions' | 'custom' | 'updatedAt'>, versions: number[]): Promise<void> {
    if (!row) {
      this.#countPruned(fields.maxVersions, versions.length);
      return;
    }
    const next = { ...row, ...fields };
    if (!versions.includes(fields.currentVersion)) {
      // An export leaves every destroyed version out, the current one too (it has no value to carry), and
      // the secret keeps its number: record that version as destroyed here, as it is in the source, so a
      // get says so (not a missing current version, which reads as a damaged store) and a put goes on after it.
      await this.tx.insertVersion(row.id, {
        version: fields.currentVersion, createdAt: fields.updatedAt, deletedAt: null, destroyedAt: fields.updatedAt, keyId: null, ciphertext: null, json: false,
      });
    }
    await this.tx.updateSecret(next);
    await this.audit(row.name, versions);
    this.report.pruned += (await pruneVersions(this.tx, this.c, next)).length;
  }

  /** A dry run's count of what max versions would prune from `versions` versions. */
  #countPruned(maxVersions: number, versions: number): void {
    const keep = versionsKept(this.c, maxVersions);
    if (keep > 0) this.report.pruned += Math.max(0, versions - keep);
  }
}
