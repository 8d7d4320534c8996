/**
 * The whole state at once: sealing a store made before rows were
 * authenticated (schema 2 and older), and checking every row and the
 * digest of them all (`verify`).
 *
 * What the digest adds to the row MACs: a row MAC proves a row was written by
 * a holder of the key for that place, not that it is the latest such row. The
 * digest in the state row is the LtHash of every authenticated row's MAC, so
 * an older authentic row put back, a row removed, or a row copied from another
 * store makes the recomputed sum differ from the authenticated one.
 */
import { LtHash } from '../../crypto/lthash.js';
import { lthashElement } from '../../crypto/mac.js';
import { fromHexStrict } from '../../crypto/bytes.js';
import { TamperedError } from '../../errors.js';
import type { RawOps, RawRecord, RawSecret, RawVersion } from '../../storage/storage.js';
import { EMPTY_AUDIT_MAC, loadState, RowChecks, saveState } from './guarded.js';
import { place, type RowAuthenticator } from './rows.js';

/** The end of an older store's audit chain: its unauthenticated head entry, else its last row. */
async function legacyAuditHead(raw: RawOps): Promise<{ seq: number; mac: Uint8Array }> {
  const head: unknown = await raw.getMeta('audit_head');
  if (typeof head === 'string') {
    const [seq, mac] = head.split(':');
    const bytes = fromHexStrict(mac ?? '');
    if (bytes && Number.isSafeInteger(Number(seq)) && Number(seq) >= 0) return { seq: Number(seq), mac: Number(seq) === 0 ? EMPTY_AUDIT_MAC : bytes };
  }
  const last = await raw.lastAudit();
  return last ?? { seq: 0, mac: EMPTY_AUDIT_MAC };
}

/**
 * Give every row of an older store its MAC and the store its state row, in
 * the caller's write transaction. The rows are trusted as they are at this
 * moment (there is nothing to check them against); a row too damaged to
 * encode fails the seal with E_TAMPERED naming it, and nothing changes.
 */
export async function sealRows(raw: RawOps, auth: RowAuthenticator): Promise<void> {
  const digest = LtHash.empty();
  const head = await legacyAuditHead(raw);
  await raw.deleteMeta('audit_head'); // the chain's end lives in the state row from now on
  for (const m of await raw.allMeta()) {
    const mac = auth.meta(m);
    await raw.putMeta({ ...m, mac });
    digest.add(lthashElement(mac));
  }
  for (const k of await raw.keys()) {
    const mac = auth.key(k);
    await raw.updateKey({ ...k, mac });
    digest.add(lthashElement(mac));
  }
  const secrets: RawSecret[] = [];
  await raw.eachSecret((s) => secrets.push(s));
  for (const s of secrets) {
    const mac = auth.secret(s);
    await raw.updateSecret({ ...s, mac });
    digest.add(lthashElement(mac));
    for (const v of await raw.listVersions(s.id)) {
      const vmac = auth.version(s.name, v);
      await raw.updateVersion({ ...v, mac: vmac });
      digest.add(lthashElement(vmac));
    }
  }
  // Records came with schema 4, after rows were authenticated: an older store has none, but seal whatever is there.
  const records: RawRecord[] = [];
  await raw.eachRecord((r) => records.push(r));
  for (const r of records) {
    const mac = auth.record(r);
    await raw.putRecord({ ...r, mac });
    digest.add(lthashElement(mac));
  }
  await saveState(raw, auth, { digest, auditSeq: head.seq, auditMac: head.mac });
}

/** Start a new store's state: the empty digest and an empty audit log. */
export async function emptyState(raw: RawOps, auth: RowAuthenticator): Promise<void> {
  await saveState(raw, auth, { digest: LtHash.empty(), auditSeq: 0, auditMac: EMPTY_AUDIT_MAC });
}

export interface StateProblem {
  message: string;
}

/**
 * Check every authenticated row and that together they sum to the
 * authenticated digest, and that the audit log ends at the authenticated
 * head; in one read transaction of the caller's, so the rows are one state.
 * Never throws for what it finds: the problems, at most `limit` of them listed.
 */
export async function checkState(raw: RawOps, auth: RowAuthenticator, limit = 50): Promise<{ problems: string[]; more: number }> {
  const problems: string[] = [];
  let more = 0;
  const add = (m: string) => (problems.length < limit ? problems.push(m) : more++);
  const checks = new RowChecks(auth);
  const sum = LtHash.empty();
  /** Check one row; count its element in the sum either way (a bad row is reported once, not again as a sum mismatch). */
  const row = (mac: Uint8Array | null, check: () => void) => {
    try {
      check();
    } catch (e) {
      if (!(e instanceof TamperedError)) throw e;
      add(e.message);
    }
    if (mac && mac.length === 32) sum.add(lthashElement(mac));
  };

  let state;
  try {
    state = (await loadState(raw, auth)).state;
  } catch (e) {
    if (!(e instanceof TamperedError)) throw e;
    add(e.message);
  }
  for (const m of await raw.allMeta()) row(m.mac, () => checks.meta(m));
  for (const k of await raw.keys()) row(k.mac, () => checks.key(k));
  const names = new Map<number, string>();
  await raw.eachSecret((s) => {
    names.set(s.id, typeof s.name === 'string' ? s.name : `secret id ${s.id}`);
    row(s.mac, () => checks.secret(s));
  });
  await raw.eachVersion((v: RawVersion) => {
    const name = names.get(v.secretId);
    if (name === undefined) add(`${place.version(`secret id ${v.secretId}`, v)} belongs to no secret`);
    row(v.mac, () => checks.version(name ?? `secret id ${v.secretId}`, v, v.secretId));
  });
  await raw.eachRecord((r) => row(r.mac, () => checks.record(r)));
  if (state) {
    if (!sum.equals(state.digest)) {
      add('the rows do not add up to the authenticated digest of the store: a row was removed, or an older copy of a row was put back');
    }
    const last = await raw.lastAudit();
    if ((last?.seq ?? 0) !== state.auditSeq) {
      add(`the audit log ends at entry ${last?.seq ?? 0}, but its authenticated end is entry ${state.auditSeq}: entries were removed or added`);
    }
  }
  return { problems, more };
}
