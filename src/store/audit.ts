/**
 * The audit log: append-only, hash-chained, keyed. Every operation appends an
 * entry (time, actor, pid, action, name, versions, outcome; never a value) in
 * the same transaction as the change it records, so a change that cannot be
 * logged does not happen (fail closed, as Vault does).
 *
 * Each entry carries mac = HMAC-SHA256(auditKey, previous mac ‖ entry), the
 * first chained to a genesis value bound to the store id. The audit key is 32
 * random bytes wrapped by the master key (like a data key), so someone who
 * can write the file but lacks the master key cannot edit, drop, reorder or
 * insert entries without `verify` naming the first bad one. The head (last
 * seq and mac) is kept in the header too, to catch a dropped tail; rolling
 * the whole file back to an older copy is beyond what the file can show.
 */
import { Hmac } from '../crypto/mac.js';
import { TamperedError } from '../errors.js';
import { concat, equalBytes, utf8, wipe } from '../crypto/bytes.js';
import type { AuditHead, AuditRow, StorageOps } from '../storage/storage.js';
import { inAuditContext } from './audit-context.js';

export interface AuditEntry {
  action: string;
  name?: string;
  versions?: number[];
  /** 'ok', or the error code the operation failed with. */
  outcome: string;
  /** Non-secret context: a list pattern, a key version, a file path. */
  detail?: string;
}

export interface AuditActor {
  user: string;
  pid: number;
}

export interface AuditProblem {
  seq: number;
  problem: string;
}

const GENESIS_LABEL = utf8.encode('strongbox/audit/v1');

/**
 * What an entry's MAC covers: the previous MAC, then each field, numbers as
 * u64 big-endian and text length-prefixed (u64) UTF-8, written straight into
 * the HMAC's buffer at `at` (this runs on every audited operation, reads
 * included); the length written.
 */
function writeChained(hmac: Hmac, at: number, previous: Uint8Array, r: Omit<AuditRow, 'mac'>): number {
  const name = r.name ?? '';
  const versions = r.versions ?? '';
  const detail = r.detail ?? '';
  const size = previous.length + 3 * 8 + 6 * 8 + Buffer.byteLength(r.actor, 'utf8') + Buffer.byteLength(r.action, 'utf8') + Buffer.byteLength(name, 'utf8')
    + Buffer.byteLength(versions, 'utf8') + Buffer.byteLength(r.outcome, 'utf8') + Buffer.byteLength(detail, 'utf8');
  const out = hmac.room(size);
  out.set(previous, at);
  let off = u64(out, at + previous.length, r.seq);
  off = u64(out, off, r.at);
  off = lp(out, off, r.actor);
  off = u64(out, off, r.pid);
  off = lp(out, off, r.action);
  off = lp(out, off, name);
  off = lp(out, off, versions);
  off = lp(out, off, r.outcome);
  off = lp(out, off, detail);
  return off - at;
}

function u64(out: Buffer, off: number, n: number): number {
  out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), off);
  out.writeUInt32BE(n >>> 0, off + 4);
  return off + 8;
}

function lp(out: Buffer, off: number, t: string): number {
  const len = out.write(t, off + 8, 'utf8');
  u64(out, off, len);
  return off + 8 + len;
}

/** Header entry: where the kept audit chain starts after retention (see Store.pruneAudit). */
export const AUDIT_START = 'audit_start';

/** `seq:hex mac` of the last entry retention removed, as the header keeps it (`audit_start`). */
export function parseAuditStart(text: string | undefined): AuditHead | undefined {
  if (text === undefined) return undefined;
  const m = /^([1-9][0-9]*):([0-9a-f]{64})$/.exec(text);
  if (!m) throw new TamperedError(`the audit log's kept start ("audit_start") is damaged`);
  return { seq: Number(m[1]), mac: new Uint8Array(Buffer.from(m[2]!, 'hex')) };
}

export function formatAuditStart(h: AuditHead): string {
  return `${h.seq}:${Buffer.from(h.mac).toString('hex')}`;
}

/** Every field of the type the MAC encoding needs (a damaged file may hold NULLs or text in number columns). */
export function wellFormed(r: AuditRow): boolean {
  const int = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  const text = (s: unknown) => typeof s === 'string';
  const optText = (s: unknown) => s === null || typeof s === 'string';
  return int(r.seq) && int(r.at) && text(r.actor) && int(r.pid) && text(r.action) && optText(r.name) && optText(r.versions)
    && text(r.outcome) && optText(r.detail) && r.mac instanceof Uint8Array;
}

export class AuditLog {
  #key: Uint8Array | undefined;
  readonly #genesis: Uint8Array;
  /** HMAC-SHA256 under the audit key (native: an audited read pays for one per get). */
  readonly #hmac: Hmac;

  /** Takes ownership of `key` (wiped at close). */
  constructor(key: Uint8Array, storeId: Uint8Array, readonly actor: AuditActor, private readonly now: () => number) {
    this.#key = key;
    this.#hmac = new Hmac(key);
    this.#genesis = this.#hmac.of(concat(GENESIS_LABEL, storeId));
  }

  #mac(previous: Uint8Array, row: Omit<AuditRow, 'mac'>): Uint8Array {
    if (!this.#key) throw new Error('audit log: used after close');
    return this.#hmac.mac(writeChained(this.#hmac, Hmac.MESSAGE_AT, previous, row));
  }

  /**
   * Append inside the caller's transaction, with the request it is made for
   * when the caller runs inside withAuditContext (audit-context.ts).
   * @throws TamperedError when the log does not end at its authenticated head (nothing is appended)
   */
  append(tx: StorageOps, e: AuditEntry): Promise<void> {
    return this.appendCaptured(tx, inAuditContext(e));
  }

  /**
   * Append `e` exactly as given: an entry whose request context was taken
   * when it was made, committed later by another flow (audit-batch.ts).
   * @throws TamperedError as append does
   */
  async appendCaptured(tx: StorageOps, e: AuditEntry): Promise<void> {
    const last = await tx.auditHead();
    const row: Omit<AuditRow, 'mac'> = {
      seq: (last?.seq ?? 0) + 1,
      at: this.now(),
      actor: this.actor.user,
      pid: this.actor.pid,
      action: e.action,
      name: e.name ?? null,
      versions: e.versions && e.versions.length > 0 ? e.versions.join(',') : null,
      outcome: e.outcome,
      detail: e.detail ?? null,
    };
    const mac = this.#mac(last?.mac ?? this.#genesis, row);
    await tx.insertAudit({ ...row, mac });
  }

  /**
   * Check the chain page by page. Returns the first problem, or undefined
   * when every entry and the head agree.
   */
  /**
   * `start`: where the kept chain begins after retention removed older
   * entries (the last removed entry's number and MAC), from the
   * authenticated header; undefined when nothing was ever removed.
   */
  async verify(pages: (afterSeq: number) => Promise<AuditRow[]>, head: AuditHead | undefined, start?: AuditHead): Promise<{ entries: number; problem?: AuditProblem }> {
    let previous = start?.mac ?? this.#genesis;
    let expected = (start?.seq ?? 0) + 1;
    let entries = 0;
    for (;;) {
      const page = await pages(expected - 1);
      for (const row of page) {
        if (!wellFormed(row)) return { entries, problem: { seq: expected, problem: `entry ${expected} or the one after it is damaged (a field holds the wrong type)` } };
        if (row.seq !== expected) {
          return { entries, problem: { seq: expected, problem: row.seq > expected ? `entries ${expected}..${row.seq - 1} are missing` : `entry ${row.seq} is out of order` } };
        }
        if (!equalBytes(this.#mac(previous, row), row.mac)) {
          return { entries, problem: { seq: row.seq, problem: 'entry was altered, inserted or moved (its MAC does not match the chain)' } };
        }
        previous = row.mac;
        expected++;
        entries++;
      }
      if (page.length === 0) break;
    }
    const headSeq = head?.seq ?? 0;
    if (headSeq !== expected - 1 || (head !== undefined && !equalBytes(head.mac, previous))) {
      if (start !== undefined && headSeq < start.seq) {
        return { entries, problem: { seq: expected, problem: `the log's authenticated end, entry ${headSeq}, is before its kept start, entry ${start.seq}` } };
      }
      return { entries, problem: { seq: expected, problem: `the log ends at entry ${expected - 1} but its authenticated end is entry ${headSeq}: entries were removed from the end or added` } };
    }
    return { entries };
  }

  /** The audit key wrapped under `master` (for master-key rotation), without letting the key out. */
  async wrapKeyWith(wrap: (key: Uint8Array) => Promise<string>): Promise<string> {
    if (!this.#key) throw new Error('audit log: used after close');
    return wrap(this.#key);
  }

  close(): void {
    wipe(this.#key, this.#genesis);
    this.#hmac.wipe();
    this.#key = undefined;
  }
}
