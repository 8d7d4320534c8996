/**
 * The check of a store whose rows were just copied from another
 * (src/storage/copy.ts): a backup of a database store, a migrated store, a
 * restore into a database. The copy is opened with the master key the
 * source was opened with, and verified as `store verify --deep` does, plus
 * the audit chain (as `store audit verify`): every row's MAC, the digest of
 * them all, every live and deleted version decrypts, every audit entry
 * chains to the one before it and the last is the authenticated end.
 */
import { StoreError } from '../../errors.js';
import { equalBytes, hex } from '../../crypto/bytes.js';
import type { Keyset } from '../../crypto/keyset.js';
import type { MasterKey } from '../../crypto/master/master-key.js';
import type { OpenedStorage } from '../../storage/open.js';
import { AUDIT_START, AuditLog, parseAuditStart } from '../audit.js';
import { readHeader } from '../header.js';
import { unwrapHeaderKey, unwrapKeyset } from '../keys.js';
import { authenticate } from '../open.js';
import type { GuardedStorage } from '../integrity/guarded.js';
import { inspect, throwIfCouldNotLook, type Inspected, type VerifyReport } from './verify.js';

const AUDIT_PAGE = 1000;
/** As many problems as a verification lists (verify.ts); the rest are counted. */
const MAX_LISTED = 100;

/** The chain's first problem as a verification problem; undefined when it verifies (or the store has no audit key). */
async function auditProblem(storage: Pick<GuardedStorage, 'read'>, master: MasterKey, storeId: Uint8Array, auditKey: string | undefined): Promise<string | undefined> {
  if (auditKey === undefined) return undefined;
  // Only verified, never appended to: the actor and clock are never used.
  const log = new AuditLog(await unwrapHeaderKey('audit', master, storeId, auditKey), storeId, { user: 'verify', pid: process.pid }, Date.now);
  try {
    const result = await storage.read(async (tx) => {
      const start = parseAuditStart(await tx.getMeta(AUDIT_START));
      return log.verify((after) => tx.auditPage(after, AUDIT_PAGE), await tx.auditHead(), start);
    });
    return result.problem && `audit log: entry ${result.problem.seq}: ${result.problem.problem}`;
  } finally {
    log.close();
  }
}

/**
 * Verify the open store `c` deeply (as `store verify --deep`) and its audit
 * chain, recording nothing in it. The chain's problem, if any, is one more
 * problem of the report.
 */
export async function verifyDeeplyWithChain(c: Inspected, onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
  const report = await inspect(c, { deep: true, onProgress });
  let chain: string | undefined;
  try {
    chain = await auditProblem(c.storage, c.master, c.header.storeId, c.header.auditKey);
  } catch (e) {
    throwIfCouldNotLook(e);
    chain = `audit log: ${e instanceof StoreError ? e.message : 'cannot be read'}`;
  }
  if (chain !== undefined) {
    if (report.problems.length < MAX_LISTED) report.problems.push({ code: 'E_TAMPERED', message: chain });
    else report.moreProblems++;
    report.ok = false;
  }
  return report;
}

/**
 * Verify the store in `raw` (left open: it is the caller's) as a copy of
 * the store `storeId`, with that store's master key `master` (not closed:
 * it is the source's). `shownAs` names the copy in messages. Problems are in
 * the report; what keeps the copy from being opened at all is thrown.
 * @throws E_NOT_A_STORE (no header, or another store's), E_WRONG_MASTER_KEY, E_TAMPERED (header or state row)
 */
export async function verifyStoreCopy(
  raw: OpenedStorage, master: MasterKey, storeId: Uint8Array, shownAs: string, onProgress?: (done: number, total: number) => void,
): Promise<VerifyReport> {
  const unchecked = await raw.read((tx) => readHeader(tx, shownAs));
  if (!equalBytes(unchecked.storeId, storeId)) {
    throw new StoreError('E_NOT_A_STORE', `the copy ${shownAs} does not hold store ${hex(storeId)}`);
  }
  const { storage, header } = await authenticate(raw, shownAs, master);
  let keyset: Keyset | undefined;
  try {
    keyset = await unwrapKeyset(master, header.storeId, await storage.keys());
    const copy = { path: shownAs, storage, header, master, keyset };
    try {
      return await verifyDeeplyWithChain(copy, onProgress);
    } finally {
      copy.keyset.wipe(); // the keyset inspect ended with (it may have reloaded)
      keyset = undefined;
    }
  } finally {
    keyset?.wipe();
    storage.auth.close(); // never the storage: it is the caller's
  }
}
