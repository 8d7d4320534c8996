/**
 * `store doctor`: a store's health as a list of findings, each saying what to
 * do. The checks need no master key where they can (the file, its modes, the
 * lock; for a store in PostgreSQL those of health-database.ts instead); the
 * rest (integrity, audit chain, key ages, rotations) open the store, and are
 * reported as skipped when no key was given (none recorded either); a key
 * given or recorded that cannot be used (a key file moved away, an HSM token
 * or key object gone) fails the master-key check. Nothing found is thrown:
 * every problem is a finding.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors.js';
import { isMasterKeyNotGiven } from '../crypto/master/master-key.js';
import { lockState } from '../platform/lock.js';
import { openStore, type MasterKeyChoice } from './open.js';
import type { Store } from './store.js';
import { modeText } from '../platform/file-mode.js';
import { probeStoreFile } from '../storage/sqlite/open.js';
import { writeBlocked } from '../storage/sqlite/errors.js';
import { describeReadOnly } from './read-only.js';
import { shellWord } from '../platform/shell-quote.js';
import { SCHEMA_VERSION } from '../storage/sqlite/schema.js';
import { isPostgresLocator } from '../storage/locator.js';

/** ok: sound; warn: worth doing something about; fail: broken or unsafe; skip: could not be checked. */
export type FindingLevel = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  /** Stable id of the check: store-file, file-modes, directory, key-file, lock, master-key, integrity, audit-log, key-age, rewrap, rotation, expiry. */
  check: string;
  level: FindingLevel;
  /** What was found; names paths, secrets, key versions, never a value. */
  message: string;
  /** What to do, a command where there is one. */
  fix?: string;
}

export interface HealthOptions {
  /** The key file the store is opened with, for its mode check. */
  keyFile?: string;
  /** Decrypt every live and deleted version (default false: check that each one's key is there). */
  deep?: boolean;
  /** A primary data key older than this is a warning (default 90 days). */
  maxKeyAgeMs?: number;
  /** Clock in ms since the epoch (tests). */
  now?: () => number;
}

export interface HealthReport {
  path: string;
  /** True when no finding failed (warnings allowed). */
  ok: boolean;
  findings: Finding[];
  counts: Record<FindingLevel, number>;
}

const DAY_MS = 86_400_000;
export const DEFAULT_MAX_KEY_AGE_MS = 90 * DAY_MS;
/** Secret names listed in one finding; `store due` lists them all. */
const NAMES_SHOWN = 5;
/** Checks that need the store opened with its master key. */
export const KEYED_CHECKS = ['integrity', 'audit-log', 'key-age', 'rewrap', 'rotation', 'expiry'] as const;

/** An age in whole days, rounded down, as doctor's findings say it (`90 days`). */
function wholeDays(ms: number): string {
  return `${Math.floor(ms / DAY_MS)} days`;
}

export function describe(e: unknown): string {
  if (e instanceof StoreError) return e.message;
  return (e as NodeJS.ErrnoException)?.code ?? (e as Error)?.message ?? String(e);
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode;
  } catch {
    return undefined;
  }
}

/** Finishes a rewrap without making yet another key while the primary is younger than the limit. */
function finishRewrap(maxKeyAgeMs: number): string {
  return `store rotate-keys --if-older-than ${Math.max(1, Math.ceil(maxKeyAgeMs / DAY_MS))}d`;
}

function names(list: { name: string }[]): string {
  const shown = list.slice(0, NAMES_SHOWN).map((d) => d.name).join(', ');
  return list.length > NAMES_SHOWN ? `${shown} and ${list.length - NAMES_SHOWN} more` : shown;
}

export class Findings {
  readonly list: Finding[] = [];
  add(check: string, level: FindingLevel, message: string, fix?: string): void {
    this.list.push({ check, level, message, ...(fix !== undefined ? { fix } : {}) });
  }
  failed(check: string): boolean {
    return this.list.some((f) => f.check === check && f.level === 'fail');
  }
}

/** The store file: there, a store, a schema this program reads. Undefined when nothing else can be checked. */
function checkStoreFile(path: string, f: Findings): { opensWithKey: boolean } | undefined {
  let schema: number;
  try {
    schema = probeStoreFile(path);
  } catch (e) {
    const code = e instanceof StoreError ? e.code : 'E_IO';
    if (code === 'E_NO_STORE') {
      f.add('store-file', 'fail', `no store at ${path}`, 'create one with store init, or name the right one with --store PATH (or STORE_PATH)');
      return undefined;
    }
    if (code === 'E_SCHEMA_TOO_NEW') {
      f.add('store-file', 'fail', describe(e), 'upgrade Strongbox to a version that knows this schema');
      return { opensWithKey: false };
    }
    if (code === 'E_IO' && e instanceof StoreError && e.hints.length > 0) {
      // A full disk or a read-only mount: restoring a backup would not help, and would lose recent writes.
      f.add('store-file', 'fail', describe(e), e.hints.join('; '));
      return undefined;
    }
    f.add('store-file', 'fail', describe(e), 'check the path; if the store was damaged, restore it from a backup: store restore FILE');
    return undefined;
  }
  const older = schema < SCHEMA_VERSION ? ` (older than this program's ${SCHEMA_VERSION}: opening it migrates it, under the exclusive lock)` : '';
  const blocked = writeBlocked(path);
  const readOnly = blocked ? `; read-only here: ${describeReadOnly(blocked)}` : '';
  f.add('store-file', 'ok', `${path} is a Strongbox store, schema ${schema}${older}${readOnly}`);
  return { opensWithKey: true };
}

/**
 * The store and its -wal and -shm: 0600, or 0640 where a group of read-only
 * consumers reads it (docs/design.md §6; README: Read-only consumers). Group write or anything
 * for others fails.
 */
function checkFileModes(path: string, f: Findings): void {
  const files = [path, `${path}-wal`, `${path}-shm`];
  const open = files.flatMap((p) => {
    const mode = modeOf(p);
    return mode !== undefined && (mode & 0o037) !== 0 ? [`${p} is mode ${modeText(mode)}`] : [];
  });
  if (open.length === 0) {
    const groupReads = files.some((p) => ((modeOf(p) ?? 0) & 0o040) !== 0);
    f.add('file-modes', 'ok', groupReads
      ? 'the store file (and its -wal and -shm) can be written by its owner only, and read by its owner and group (read-only consumers)'
      : 'the store file (and its -wal and -shm) can be read by its owner only');
    return;
  }
  const targets = files.filter((p) => modeOf(p) !== undefined).map(shellWord).join(' ');
  f.add('file-modes', 'fail', `${open.join(', ')}: group or others may read or write it`, `chmod 600 ${targets}`);
}

/** Whoever can write the directory can replace the store, or plant its -wal. */
function checkDirectory(path: string, f: Findings): void {
  const dir = dirname(path);
  const mode = modeOf(dir);
  if (mode === undefined) return;
  if ((mode & 0o022) === 0) {
    f.add('directory', 'ok', `${dir} is writable by its owner only`);
    return;
  }
  // Sticky (like /tmp): others cannot rename or remove our files, but can still create the -wal before we do.
  const sticky = (mode & 0o1000) !== 0;
  f.add('directory', sticky ? 'warn' : 'fail',
    `${dir} is mode ${modeText(mode)}: group or others can ${sticky ? 'create files beside the store' : 'replace the store file'}`,
    sticky ? `move the store to a private directory (mkdir -m 700 DIR)` : `chmod go-w ${shellWord(dir)}`);
}

/** A key file must be 0600, as ssh wants of a private key. */
export function checkKeyFile(keyFile: string | undefined, f: Findings): void {
  if (keyFile === undefined) return;
  let st;
  try {
    st = statSync(keyFile);
  } catch (e) {
    f.add('key-file', 'fail', `cannot read the key file ${keyFile}: ${describe(e)}`, 'name the store\'s key file with --keyfile PATH (or STORE_KEYFILE)');
    return;
  }
  if (!st.isFile()) f.add('key-file', 'fail', `the key file ${keyFile} is not a regular file`, 'name the store\'s key file with --keyfile PATH (or STORE_KEYFILE)');
  else if ((st.mode & 0o077) !== 0) f.add('key-file', 'fail', `the key file ${keyFile} is mode ${modeText(st.mode)}: group or others may read it`, `chmod 600 ${shellWord(keyFile)}`);
  else f.add('key-file', 'ok', `the key file ${keyFile} can be read by its owner only`);
}

/** The exclusive lock: free, held by a running operation, or left by a dead one. */
function checkLock(path: string, now: number, maxKeyAgeMs: number, f: Findings): void {
  const s = lockState(path, now);
  if (!s.held) {
    f.add('lock', 'ok', 'no exclusive operation holds the lock');
    return;
  }
  const lockFiles = `rm -r ${shellWord(`${path}.lock`)}${s.owner ? ` ${shellWord(`${path}.lock-owner`)}` : ''}`;
  const who = s.owner ? `pid ${s.owner.pid} on ${s.owner.host}` : 'a process that recorded no owner';
  if (s.stale) {
    const why = s.owner?.alive === false ? `${who}, which no longer runs` : `${who}, not refreshed for ${Math.round((s.sinceRefreshMs ?? 0) / 1000)} s`;
    f.add('lock', 'warn', `a stale lock was left by ${why} (a rotation or restore that was killed)`,
      `the next exclusive operation takes it over; if it was store rotate-keys, run it again to finish its work (${finishRewrap(maxKeyAgeMs)}); or remove it now: ${lockFiles}`);
    return;
  }
  const running = s.owner?.alive === undefined ? 'its host is not this one: it cannot be checked from here' : 'it is running now';
  f.add('lock', 'warn', `locked by ${who} (${running}): rotate-keys, rotate-master, restore or a migration`,
    'wait for it to finish; meanwhile other exclusive operations exit 75, or wait with --wait');
}

async function checkIntegrity(store: Store, deep: boolean, f: Findings): Promise<void> {
  const r = await store.verify({ deep });
  if (r.ok) {
    const how = deep ? `all ${r.decrypted} decrypt` : 'each one\'s data key is there (--deep decrypts them)';
    const sound = isPostgresLocator(store.path) ? 'Master key and data keys sound' : 'SQLite structure, master key and data keys sound';
    f.add('integrity', 'ok', `${sound}; every row authenticated and the state digest exact; ${r.versions} version(s): ${how}`);
    return;
  }
  const more = r.problems.length + r.moreProblems - 3;
  const shown = r.problems.slice(0, 3).map((p) => p.message).join('; ') + (more > 0 ? `; and ${more} more` : '');
  f.add('integrity', 'fail', `${r.problems.length + r.moreProblems} problem(s): ${shown}`,
    'store verify --deep lists every problem; restore from a backup (store restore FILE) after checking it with store --store FILE verify --deep');
}

async function checkAuditLog(store: Store, f: Findings): Promise<void> {
  const r = await store.verifyAudit();
  if (r.ok) {
    f.add('audit-log', 'ok', `audit chain intact: ${r.entries} entries`);
    return;
  }
  const p = r.firstProblem!;
  const who = isPostgresLocator(store.path)
    ? 'the table was edited outside Strongbox: find which roles can write strongbox.audit'
    : `the file was edited outside Strongbox: find who can write ${shellWord(store.path)}`;
  f.add('audit-log', 'fail', `audit log broken at entry ${p.seq}: ${p.problem}`,
    `${who}, and compare with a backup (store --store FILE audit); the ${r.entries} entries before it are intact`);
}

async function checkKeys(store: Store, now: number, maxAgeMs: number, f: Findings): Promise<void> {
  const keys = await store.keys();
  const primary = keys.find((k) => k.status === 'primary')!;
  const age = Math.max(0, now - primary.createdAt.getTime());
  if (age > maxAgeMs) {
    f.add('key-age', 'warn', `primary data key ${primary.version} is ${wholeDays(age)} old (more than ${wholeDays(maxAgeMs)})`,
      `store rotate-keys (for cron: store rotate-keys --if-older-than ${Math.floor(maxAgeMs / DAY_MS)}d)`);
  } else {
    f.add('key-age', 'ok', `primary data key ${primary.version} is ${wholeDays(age)} old`);
  }
  const old = keys.filter((k) => k.status !== 'primary' && k.versions > 0);
  const count = old.reduce((n, k) => n + k.versions, 0);
  if (count > 0) {
    f.add('rewrap', 'warn', `${count} version(s) are still sealed under older data key(s) ${old.map((k) => k.version).join(', ')} (an interrupted rotation, or rotate-keys --no-rewrap)`,
      finishRewrap(maxAgeMs));
  } else {
    f.add('rewrap', 'ok', 'every version is sealed under the primary data key');
  }
}

async function checkRotations(store: Store, now: number, f: Findings): Promise<void> {
  let due;
  try {
    due = await store.dueAmong(store.entries(), now);
  } catch (e) {
    const fix = e instanceof StoreError && e.hints.length > 0 ? e.hints.join('; ') : 'store policy set NAME --rotate-every 90d';
    f.add('rotation', 'warn', describe(e), fix);
    f.add('expiry', 'skip', 'skipped: a rotation policy could not be read');
    return;
  }
  const overdue = due.filter((d) => !d.expired);
  const expired = due.filter((d) => d.expired);
  const rotate = (list: { name: string }[]) => (list.length === 1 ? `store rotate ${shellWord(list[0]!.name)} [--generate]` : 'store rotate NAME [--generate] for each (store due lists them)');
  // Expired ones are due too (store due lists them), but reported under expiry: said here, so neither line is false alone.
  const andExpired = expired.length > 0 ? `; ${expired.length} more past it and expired (see expiry)` : '';
  if (overdue.length > 0) f.add('rotation', 'warn', `${overdue.length} secret(s) past their rotation date: ${names(overdue)}${andExpired}`, rotate(overdue));
  else f.add('rotation', 'ok', expired.length > 0 ? `no secret is past its rotation date but the ${expired.length} expired (see expiry)` : 'no secret is past its rotation date');
  if (expired.length > 0) {
    f.add('expiry', 'warn', `${expired.length} secret(s) expired: ${names(expired)} (store get --strict refuses them)`, rotate(expired));
  } else {
    f.add('expiry', 'ok', 'no secret has expired');
  }
}

/** Open the store, or say why not (and whether that is a failure or only a check that could not run). */
export async function openForChecks(path: string, master: MasterKeyChoice | undefined, f: Findings, now?: () => number): Promise<Store | undefined> {
  if (master === undefined) {
    f.add('master-key', 'skip', 'skipped: no master key given');
    return undefined;
  }
  try {
    const store = await openStore(path, master, now ? { now } : {});
    f.add('master-key', 'ok', 'the master key opens the store');
    return store;
  } catch (e) {
    const code = e instanceof StoreError ? e.code : undefined;
    const hint = e instanceof StoreError ? e.hints.join('; ') : '';
    if (code === 'E_MASTER_KEY' && isMasterKeyNotGiven(e)) {
      // No key at all (none given, none recorded): doctor never fails for want of a master key.
      f.add('master-key', 'skip', `skipped: ${describe(e)}`, hint || 'give the master key to run the checks that need it');
    } else if (code === 'E_MASTER_KEY') {
      // A key given or recorded (a key file, an HSM token and key) that cannot be used: the store cannot be opened as configured.
      f.add('master-key', 'fail', `the store's master key cannot be used: ${describe(e)}`,
        hint || 'restore the key (the key file, or the HSM token and key object) or give the right one; without it the store cannot be opened');
    } else if (code === 'E_INSECURE_KEYFILE' && f.failed('key-file')) {
      f.add('master-key', 'skip', 'skipped: the key file is refused (see key-file)');
    } else if (code === 'E_WRONG_MASTER_KEY') {
      f.add('master-key', 'fail', describe(e), 'give this store\'s master key (--keyfile, STORE_MASTER_KEY, --passphrase-file or STORE_PASSPHRASE, or the HSM key it was made with)');
    } else {
      f.add('master-key', 'fail', describe(e), hint || 'store verify says more; restore from a backup if the keys are damaged: store restore FILE');
    }
    return undefined;
  }
}

/**
 * Check the store at `path`: the file, its modes and directory's, the key
 * file, the lock; then, opened with `master` (undefined: those checks are
 * skipped), integrity, the audit chain, data key ages, versions left under
 * old keys, and value rotations past due or expired. Opening and verifying
 * are recorded in the audit log as usual.
 */
export async function checkHealth(path: string, master: MasterKeyChoice | undefined, options: HealthOptions = {}): Promise<HealthReport> {
  if (isPostgresLocator(path)) {
    const { checkDatabaseHealth } = await import('./health-database.js');
    return checkDatabaseHealth(path, master, options);
  }
  const f = new Findings();
  const now = options.now ?? Date.now;
  const file = checkStoreFile(path, f);
  if (file) {
    checkFileModes(path, f);
    checkDirectory(path, f);
  }
  checkKeyFile(options.keyFile, f);
  const maxKeyAgeMs = options.maxKeyAgeMs ?? DEFAULT_MAX_KEY_AGE_MS;
  if (file) checkLock(path, now(), maxKeyAgeMs, f);

  const store = file?.opensWithKey ? await openForChecks(path, master, f, options.now) : undefined;
  if (!store) {
    if (file) for (const check of KEYED_CHECKS) f.add(check, 'skip', 'skipped: needs the store opened with its master key');
  } else {
    await runKeyedChecks(store, options, f);
  }
  return reportOf(path, f);
}

/** The checks of an opened store (integrity, audit chain, keys, rotations); closes it. */
export async function runKeyedChecks(store: Store, options: HealthOptions, f: Findings): Promise<void> {
  const now = options.now ?? Date.now;
  const maxKeyAgeMs = options.maxKeyAgeMs ?? DEFAULT_MAX_KEY_AGE_MS;
  try {
    const guarded = async (check: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        // A read-only store refuses what it would have to log: nothing is wrong with it.
        if (e instanceof StoreError && e.code === 'E_READ_ONLY') f.add(check, 'skip', `skipped: ${describe(e)}`, e.hints.join('; '));
        else f.add(check, 'fail', `the check could not run: ${describe(e)}`);
      }
    };
    await guarded('integrity', () => checkIntegrity(store, options.deep ?? false, f));
    await guarded('audit-log', () => checkAuditLog(store, f));
    await guarded('key-age', () => checkKeys(store, now(), maxKeyAgeMs, f));
    await guarded('rotation', () => checkRotations(store, now(), f));
  } finally {
    await store.close();
  }
}

/** The findings as doctor reports them. */
export function reportOf(path: string, f: Findings): HealthReport {
  const counts: Record<FindingLevel, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const x of f.list) counts[x.level]++;
  return { path, ok: counts.fail === 0, findings: f.list, counts };
}
