/**
 * When maintenance last finished (a backup, a master-key rotation), kept as
 * header entries: authenticated like every header entry, and written in the
 * transaction of the operation's audit entry, so the two always agree.
 * `store stats` reads them without walking the audit log, which retention
 * may have pruned. A data-key rotation needs no entry: the primary key's
 * creation time is when it happened.
 */
import type { StorageOps } from '../storage/storage.js';

const ENTRY = { backup: 'last_backup_at', masterRotation: 'last_master_rotation_at' } as const;

export type Maintenance = keyof typeof ENTRY;

export async function recordMaintenance(tx: Pick<StorageOps, 'setMeta'>, what: Maintenance, at: number): Promise<void> {
  await tx.setMeta(ENTRY[what], String(at));
}

/** When `what` last finished; null when never (or only before this program recorded it). */
export async function lastMaintenance(tx: Pick<StorageOps, 'getMeta'>, what: Maintenance): Promise<Date | null> {
  const text = await tx.getMeta(ENTRY[what]);
  const at = Number(text);
  return text !== undefined && Number.isSafeInteger(at) ? new Date(at) : null;
}
