/**
 * The audit log's operations on an open store: its entries (a page at a
 * time, filtered), verifying its chain, and pruning its oldest entries while
 * keeping the chain verifiable. The log's format and MACs are audit.ts's.
 */
import { TamperedError } from '../errors.js';
import { AUDIT_START, formatAuditStart, parseAuditStart, wellFormed } from './audit.js';
import { toTime } from './secrets/checks.js';
import type { StoreContext } from './context.js';
import type { AuditRow } from '../storage/storage.js';
import type { AuditPruneReport, AuditQuery, AuditRecord, AuditVerifyReport } from './types.js';

const AUDIT_PAGE = 1000;

/** Entries, oldest first; `context` is asked again for each page, so a store closed meanwhile stops the listing. */
export async function* auditEntries(context: () => StoreContext, filter: AuditQuery): AsyncGenerator<AuditRecord> {
  const q = { ...filter, since: filter.since === undefined ? undefined : toTime(filter.since), until: filter.until === undefined ? undefined : toTime(filter.until) };
  let after = 0;
  for (;;) {
    const page = await context().storage.auditPage(after, AUDIT_PAGE, q);
    for (const r of page) {
      if (!wellFormed(r)) throw new TamperedError(`audit entry ${String(r.seq)} is damaged (a field holds the wrong type): run store audit verify`);
      yield {
        seq: r.seq, at: new Date(r.at), actor: r.actor, pid: r.pid, action: r.action, outcome: r.outcome,
        ...(r.name !== null ? { name: r.name } : {}),
        ...(r.versions !== null ? { versions: r.versions.split(',').map(Number) } : {}),
        ...(r.detail !== null ? { detail: r.detail } : {}),
      };
    }
    if (page.length < AUDIT_PAGE) return;
    after = page[page.length - 1]!.seq;
  }
}

export async function verifyAudit(c: StoreContext): Promise<AuditVerifyReport> {
  const { result, start } = await c.storage.read(async (tx) => {
    const start = parseAuditStart(await tx.getMeta(AUDIT_START));
    return { start, result: await c.audit.verify((after) => tx.auditPage(after, AUDIT_PAGE), await tx.auditHead(), start) };
  });
  return {
    ok: result.problem === undefined, entries: result.entries,
    ...(start ? { keptAfter: start.seq } : {}), ...(result.problem ? { firstProblem: result.problem } : {}),
  };
}

/** Remove the entries before `before`, never the last; a damaged log is not pruned. */
export function pruneAudit(c: StoreContext, options: { before: Date | number | string }): Promise<AuditPruneReport> {
  const before = toTime(options.before);
  return c.storage.write(async (tx) => {
    const head = await tx.auditHead();
    const start = parseAuditStart(await tx.getMeta(AUDIT_START));
    const check = await c.audit.verify((after) => tx.auditPage(after, AUDIT_PAGE), head, start);
    if (check.problem) throw new TamperedError(`the audit log is damaged at entry ${check.problem.seq} (${check.problem.problem}): it is not pruned`);
    // The longest run of oldest entries before the time, never the last entry (the chain's end stays in the log).
    let last: AuditRow | undefined;
    let removed = 0;
    let after = start?.seq ?? 0;
    scan: for (;;) {
      const page = await tx.auditPage(after, AUDIT_PAGE);
      for (const r of page) {
        if (r.at >= before || r.seq >= (head?.seq ?? 0)) break scan;
        last = r;
        removed++;
      }
      if (page.length < AUDIT_PAGE) break;
      after = page[page.length - 1]!.seq;
    }
    if (last) {
      await tx.setMeta(AUDIT_START, formatAuditStart({ seq: last.seq, mac: last.mac }));
      await tx.deleteAuditThrough(last.seq);
    }
    await c.audit.append(tx, { action: 'audit.prune', outcome: 'ok', detail: `removed ${removed} entries before ${new Date(before).toISOString()}` });
    const keptAfter = last?.seq ?? start?.seq;
    return { removed, ...(keptAfter !== undefined ? { keptAfter } : {}) };
  });
}
