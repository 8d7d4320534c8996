/**
 * Verify (docs/design.md §4): checks a store — the live one, or a backup's
 * copy opened by backup and restore — SQLite's structure, the header, the
 * keyset, every version's key and, with `deep`, every value. Problems are
 * listed in a report, never thrown, and never hold a value; a store that
 * cannot be read just now (E_LOCKED: busy, a lost connection) is thrown.
 */
import { StoreError, type ErrorCode } from '../../errors.js';
import { openValue } from '../../crypto/envelope.js';
import { equalBytes, wipe } from '../../crypto/bytes.js';
import { readHeader, storeIdHex } from '../header.js';
import { reloadKeyset, verifyMasterCheck } from '../keys.js';
import type { Store } from '../store.js';
import type { StoreContext } from '../context.js';
import type { Storage, VersionRow } from '../../storage/storage.js';
import { checkState } from '../integrity/state.js';
import { refuseUnlogged } from '../read-only.js';

/** One thing verification found wrong. `code` is the error it stands for. */
export interface VerifyProblem {
  /** E_NOT_A_STORE: the file's structure; E_TAMPERED: a value or key that does not open; E_WRONG_MASTER_KEY; E_UNSUPPORTED_FORMAT. */
  code: ErrorCode;
  /** Names a secret, version, key id or path; never a value. */
  message: string;
}

export interface VerifyOptions {
  /** Decrypt every live and deleted version, not only check that its key is there (default false). */
  deep?: boolean;
  /** Called as versions are checked. */
  onProgress?: (done: number, total: number) => void;
}

export interface VerifyReport {
  /** True when no problem was found. */
  ok: boolean;
  deep: boolean;
  storeId: string;
  secrets: number;
  versions: number;
  liveVersions: number;
  /** Soft-deleted versions: still encrypted, still decryptable. */
  deletedVersions: number;
  destroyedVersions: number;
  /** Versions opened and authenticated (deep only): the live and the deleted ones. */
  decrypted: number;
  /** The newest write seen (a version created, deleted or destroyed, metadata changed); null for an empty store. */
  newestWriteAt: Date | null;
  /** The first problems found (at most 100). */
  problems: VerifyProblem[];
  /** How many more problems were found beyond those listed. */
  moreProblems: number;
  durationMs: number;
}

/** Verification found problems; `report` lists them. The code is the gravest problem's. */
export class VerificationError extends StoreError {
  readonly report: VerifyReport;
  constructor(message: string, report: VerifyReport, hints: readonly string[] = []) {
    super(gravestCode(report.problems), message, hints);
    this.name = 'VerificationError';
    this.report = report;
  }
}

/** The code a list of problems stands for: structure first, then keys, then values. */
export function gravestCode(problems: readonly VerifyProblem[]): ErrorCode {
  for (const code of ['E_NOT_A_STORE', 'E_WRONG_MASTER_KEY', 'E_UNSUPPORTED_FORMAT', 'E_TAMPERED'] as const) {
    if (problems.some((p) => p.code === code)) return code;
  }
  return problems[0]?.code ?? 'E_TAMPERED';
}

const MAX_LISTED = 100;
/** Versions read per query; a ciphertext is at most the store's value limit, 1 MiB by default. */
const SCAN_PAGE = 256;
/** Versions checked between two turns of the event loop (lock refresh, progress bar). */
const YIELD_EVERY = 1000;
/** Key reloads allowed during one walk (another process may rotate meanwhile). */
const MAX_RELOADS = 3;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Thrown on, not listed: a store that could not be read just now (a busy
 * file, a lost connection to a server restarting) is "try again", not a
 * problem found in the store.
 */
export function throwIfCouldNotLook(e: unknown): void {
  if (e instanceof StoreError && e.code === 'E_LOCKED') throw e;
}

function codeOf(e: unknown): ErrorCode {
  return e instanceof StoreError ? e.code : 'E_NOT_A_STORE';
}

/** A safe description of an unexpected failure: SQLite's code, never row contents. */
function describe(e: unknown): string {
  if (e instanceof StoreError) return e.message;
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'unexpected error';
}

class Findings {
  readonly list: VerifyProblem[] = [];
  more = 0;
  add(code: ErrorCode, message: string): void {
    if (this.list.length < MAX_LISTED) this.list.push({ code, message });
    else this.more++;
  }
}

/** What verification needs of an open store (or of an opened backup, which has no Store around it). */
export type Inspected = Pick<StoreContext, 'path' | 'storage' | 'header' | 'master' | 'keyset'>;

/** Verify the open store behind `c`; never throws for what it finds, only lists it. */
export async function inspect(c: Inspected, options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const deep = options.deep ?? false;
  const found = new Findings();

  // The file's structure, by SQLite: pages, indexes, foreign keys.
  try {
    for (const p of (await c.storage.file?.integrityProblems()) ?? []) found.add('E_NOT_A_STORE', `structure: ${p}`);
  } catch (e) {
    found.add('E_NOT_A_STORE', `structure: the integrity check could not run (${describe(e)})`);
  }

  // The header and keyset as stored now: the master key still opens them and every data key unwraps.
  try {
    const header = await c.storage.read((tx) => readHeader(tx, c.path));
    if (!equalBytes(header.storeId, c.header.storeId)) found.add('E_NOT_A_STORE', 'the store id in the header changed while the store was open');
    await verifyMasterCheck(c.master, header.storeId, header.masterCheck);
    await reloadKeyset(c);
  } catch (e) {
    throwIfCouldNotLook(e);
    found.add(codeOf(e), `header and keys: ${describe(e)}`);
  }

  // Every authenticated row, and that together they are the state the store last wrote (one snapshot).
  try {
    const rows = await c.storage.raw.read((tx) => checkState(tx, c.storage.auth));
    for (const p of rows.problems) found.add('E_TAMPERED', p);
    found.more += rows.more;
  } catch (e) {
    throwIfCouldNotLook(e);
    found.add(codeOf(e), `rows: ${describe(e)}`);
  }

  const n = { secrets: 0, versions: 0, live: 0, deleted: 0, destroyed: 0, decrypted: 0 };
  let newest = 0;
  let reloads = 0;
  let total = 0;
  try {
    total = (await c.storage.counts()).versions;
  } catch {
    // the walk below reports what cannot be read
  }
  options.onProgress?.(0, total);

  /** The data key a version names, reloading the keyset if another process added keys since. */
  const keyFor = async (keyId: number) => {
    let key = c.keyset.byId(keyId);
    if (!key?.material && reloads < MAX_RELOADS) {
      reloads++;
      await reloadKeyset(c).catch(() => undefined);
      key = c.keyset.byId(keyId);
    }
    return key?.material ? key : undefined;
  };

  const checkVersion = async (name: string, v: VersionRow) => {
    const what = `${name} version ${v.version}`;
    if (v.keyId === null) {
      found.add('E_TAMPERED', `${what} is not destroyed but names no data key`);
      return;
    }
    if (!(await keyFor(v.keyId))) {
      found.add('E_TAMPERED', `${what} is under data key ${v.keyId.toString(16).padStart(8, '0')}, which this store does not hold`);
      return;
    }
    if (!deep) return;
    try {
      wipe(openValue(c.keyset, c.header.storeId, name, v.version, v.ciphertext));
      n.decrypted++;
    } catch (e) {
      found.add(codeOf(e), describe(e));
    }
  };

  // One scan of every version in (secret, version) order, a page at a time.
  let afterSecret = 0;
  let afterVersion = 0;
  let lastSecret = 0;
  let sinceYield = 0;
  for (;;) {
    let page: Awaited<ReturnType<Storage['scanVersions']>>;
    try {
      page = await c.storage.scanVersions(afterSecret, afterVersion, SCAN_PAGE);
    } catch (e) {
      throwIfCouldNotLook(e);
      found.add('E_NOT_A_STORE', `cannot read the versions after secret id ${afterSecret} version ${afterVersion} (${describe(e)})`);
      break;
    }
    for (const v of page) {
      if (v.secretId !== lastSecret) {
        n.secrets++;
        lastSecret = v.secretId;
        newest = Math.max(newest, v.secretUpdatedAt);
      }
      n.versions++;
      newest = Math.max(newest, v.createdAt, v.deletedAt ?? 0, v.destroyedAt ?? 0);
      if (v.destroyedAt !== null) {
        n.destroyed++;
        if (v.ciphertext !== null) found.add('E_TAMPERED', `${v.name} version ${v.version} is marked destroyed but still holds a ciphertext`);
      } else {
        if (v.deletedAt !== null) n.deleted++;
        else n.live++;
        try {
          await checkVersion(v.name, v);
        } catch (e) {
          found.add(codeOf(e), `${v.name} version ${v.version}: ${describe(e)}`);
        }
      }
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        if (n.versions < total) options.onProgress?.(n.versions, total);
        await yieldToEventLoop();
      }
    }
    if (page.length < SCAN_PAGE) break;
    afterSecret = page[page.length - 1]!.secretId;
    afterVersion = page[page.length - 1]!.version;
  }
  options.onProgress?.(n.versions, Math.max(total, n.versions));

  return {
    ok: found.list.length === 0,
    deep,
    storeId: storeIdHex(c.header),
    secrets: n.secrets,
    versions: n.versions,
    liveVersions: n.live,
    deletedVersions: n.deleted,
    destroyedVersions: n.destroyed,
    decrypted: n.decrypted,
    newestWriteAt: newest > 0 ? new Date(newest) : null,
    problems: found.list,
    moreProblems: found.more,
    durationMs: performance.now() - started,
  };
}

/**
 * Check the open store: SQLite's integrity and foreign-key checks, the master
 * key against the stored check, every data key unwraps, every version's key
 * is present; with `deep`, every live and deleted version decrypts. Problems
 * are listed in the report (not thrown); `ok` is false when there are any.
 * The verification and its outcome are recorded in the audit log.
 * @throws E_READ_ONLY; E_LOCKED (the store could not be read just now)
 */
export async function verifyAndRecord(c: StoreContext, options: VerifyOptions = {}): Promise<VerifyReport> {
  refuseUnlogged(c, 'a verification');
  const report = await inspect(c, options);
  const outcome = report.ok ? 'ok' : gravestCode(report.problems);
  try {
    await c.storage.write((tx) => c.audit.append(tx, { action: 'verify', outcome, detail: options.deep ? 'deep' : 'structure' }), { relaxed: true });
  } catch (e) {
    // A damaged log refuses the entry; the report, which names that damage, is what the caller asked for.
    if (report.ok || !(e instanceof StoreError) || e.code !== 'E_TAMPERED') throw e;
  }
  return report;
}

/** `store.verify(options)`, as a function of the store (the library's API before the method). */
export function verifyStore(store: Store, options: VerifyOptions = {}): Promise<VerifyReport> {
  return store.verify(options);
}
