/**
 * The audit log at a glance, for `store stats`: how many entries are kept,
 * where the kept chain starts and ends, and when the last entry was written.
 * Read from the chain's authenticated ends (the state row and the
 * `audit_start` header entry) and one row, so it costs the same for ten
 * entries as for ten million; walking the whole chain (`verify`) is asked for.
 */
import { AUDIT_START, parseAuditStart, wellFormed } from './audit.js';
import { verifyAudit } from './audit-ops.js';
import type { StoreContext } from './context.js';

export interface AuditSummary {
  /** Entries kept: from the first kept one to the authenticated last one. */
  entries: number;
  /** The first kept entry's number; null for an empty log. */
  firstSeq: number | null;
  /** The last entry's number, the chain's authenticated end (0: empty log). */
  lastSeq: number;
  /** When the last entry was written; null for an empty log, or when its row is not where the chain ends. */
  lastAt: Date | null;
  /** The last entry audit retention removed; null when none ever was. */
  prunedThrough: number | null;
  /**
   * `unverified`: only the ends were read (the default, cheap); `intact` or
   * `broken`: every kept entry was checked against the chain.
   */
  chain: 'unverified' | 'intact' | 'broken';
  /** With `broken`: the first entry where the chain breaks. */
  firstProblem?: { seq: number; problem: string };
}

/**
 * @param verify walk and check the whole kept chain (reads every entry)
 * @throws E_TAMPERED when the authenticated ends themselves are damaged
 */
export async function summarizeAudit(c: StoreContext, verify = false): Promise<AuditSummary> {
  const { head, start, last } = await c.storage.read(async (tx) => {
    const head = await tx.auditHead();
    const start = parseAuditStart(await tx.getMeta(AUDIT_START));
    const last = head ? (await tx.auditPage(head.seq - 1, 1))[0] : undefined;
    return { head, start, last };
  });
  const lastSeq = head?.seq ?? 0;
  const prunedThrough = start?.seq ?? null;
  const summary: AuditSummary = {
    entries: Math.max(0, lastSeq - (prunedThrough ?? 0)),
    firstSeq: lastSeq > (prunedThrough ?? 0) ? (prunedThrough ?? 0) + 1 : null,
    lastSeq,
    lastAt: last && wellFormed(last) && last.seq === lastSeq ? new Date(last.at) : null,
    prunedThrough,
    chain: 'unverified',
  };
  if (!verify) return summary;
  const r = await verifyAudit(c);
  return { ...summary, chain: r.ok ? 'intact' : 'broken', ...(r.firstProblem ? { firstProblem: r.firstProblem } : {}) };
}
