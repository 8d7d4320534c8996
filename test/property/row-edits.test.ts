/**
 * Property: whatever a store went through (puts, deletes, undeletes,
 * destroys, rotations), one edit of one column of one row by someone without
 * the master key — any table, any column, a value of any type — leaves every
 * read answering exactly what was written or failing with a StoreError code.
 * Never another value, never an error without a code.
 */
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initStore, isStoreError, openStore, rawKey } from '../../src/index.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-prop-edits-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const KEY = new Uint8Array(32).fill(7);
const NAMES = ['a', 'b/c', 'd'];

type Op = { kind: 'put'; name: string; n: number } | { kind: 'delete' | 'undelete' | 'destroy'; name: string } | { kind: 'rotate' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), name: fc.constantFrom(...NAMES), n: fc.nat(99) }) },
  fc.record({ kind: fc.constantFrom('delete' as const, 'undelete' as const, 'destroy' as const), name: fc.constantFrom(...NAMES) }),
  fc.constant({ kind: 'rotate' as const }),
);
const TABLES = ['meta', 'data_keys', 'secrets', 'versions', 'audit', 'state'];
const newValue = fc.oneof(fc.integer({ min: -5, max: 2_000_000_000_000 }), fc.constant(null), fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)));

describe('any single-column edit of any row', () => {
  it('every read is the exact value or a StoreError', { timeout: 300_000 }, async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(), fc.nat(), newValue,
      async (ops, tablePick, rowPick, colPick, value) => {
        const path = join(base, `s${run++}.db`);
        const store = await initStore(path, rawKey(KEY));
        const expected = new Map<string, { value?: string; code?: string }>(); // name@version
        const current = new Map<string, number>();
        for (const o of ops) {
          try {
            if (o.kind === 'put') {
              const v = `${o.name}-${o.n}`;
              const r = await store.put(o.name, v);
              expected.set(`${o.name}@${r.version}`, { value: v });
              current.set(o.name, r.version);
            } else if (o.kind === 'rotate') {
              await store.rotateKeys();
            } else {
              const c = current.get(o.name);
              if (c === undefined) continue;
              if (o.kind === 'destroy') await store.destroy(o.name, [c]);
              else await store[o.kind](o.name);
              const prev = expected.get(`${o.name}@${c}`)!;
              if (o.kind === 'destroy') expected.set(`${o.name}@${c}`, { code: 'E_DESTROYED' });
              else if (o.kind === 'delete' && prev.code !== 'E_DESTROYED') expected.set(`${o.name}@${c}`, { ...prev, code: 'E_DELETED' });
              else if (o.kind === 'undelete' && prev.code === 'E_DELETED') expected.set(`${o.name}@${c}`, { value: prev.value! });
            }
          } catch (e) {
            if (!isStoreError(e)) throw e;
          }
        }
        await store.close();

        // The edit: one column of one row, by a connection that enforces nothing.
        const db = new Database(path);
        db.pragma('foreign_keys = OFF');
        db.pragma('ignore_check_constraints = ON');
        const table = TABLES[tablePick % TABLES.length]!;
        const cols = (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
        const withoutRowid = table === 'meta' || table === 'versions';
        const rows = withoutRowid ? [] : db.prepare(`SELECT rowid AS r FROM ${table}`).all() as { r: number }[];
        const count = db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
        let edited = 'nothing';
        if (count > 0) {
          const col = cols[colPick % cols.length]!;
          const rowid = withoutRowid ? undefined : rows[rowPick % rows.length]!.r;
          try {
            if (rowid === undefined) {
              // WITHOUT ROWID tables: pick by their own key order.
              const keys = db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
              const k = keys[rowPick % keys.length]!;
              const where = table === 'meta' ? 'key = @key' : 'secret_id = @secret_id AND version = @version';
              db.prepare(`UPDATE ${table} SET ${col} = @v WHERE ${where}`).run({ ...k, v: value });
            } else {
              db.prepare(`UPDATE ${table} SET ${col} = ? WHERE rowid = ?`).run(value, rowid);
            }
            edited = `${table}.${col}`;
          } catch {
            edited = 'refused by SQLite';
          }
        }
        db.close();

        const outcome = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
          try {
            return await fn();
          } catch (e) {
            if (!isStoreError(e)) throw new Error(`${what} after editing ${edited}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
            return undefined;
          }
        };
        const s = await outcome('open', () => openStore(path, rawKey(KEY)));
        if (!s) return;
        try {
          for (const [key, want] of expected) {
            const [name, v] = key.split('@') as [string, string];
            const got = await outcome(`get ${key}`, () => s.get(name, { version: Number(v) }));
            if (got) expect({ edited, key, value: got.value.text(), version: got.version }).toEqual({ edited, key, value: want.value, version: Number(v) });
            if (got) expect(want.code).toBeUndefined();
          }
          for (const [name, version] of current) {
            const got = await outcome(`get ${name}`, () => s.get(name));
            const want = expected.get(`${name}@${version}`)!;
            if (got) expect({ edited, name, value: got.value.text(), version: got.version, code: undefined }).toEqual({ edited, name, value: want.value, version, code: want.code });
          }
          await outcome('list', () => s.list());
          await outcome('verify', () => import('../../src/index.js').then((m) => m.verifyStore(s, { deep: true })));
          await outcome('audit verify', () => s.verifyAudit());
        } finally {
          await s.close().catch(() => undefined);
          rmSync(path, { force: true });
          for (const side of ['-wal', '-shm']) rmSync(`${path}${side}`, { force: true });
        }
      }), { numRuns: 400 });
  });
});
