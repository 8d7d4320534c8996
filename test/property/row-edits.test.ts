/**
 * Property: whatever a store went through (puts, deletes, undeletes,
 * destroys, rotations), one edit of one column of one row by someone without
 * the master key — any table, any column, a value of any type — leaves every
 * read answering exactly what was written or failing with a StoreError code.
 * Never another value, never an error without a code. On each driver (a
 * SQLite file, a PostgreSQL database: test/helpers/drivers.ts). A value the
 * database refuses for the column (PostgreSQL's types; a NOT NULL, a CHECK)
 * is tried again made into the column's kind; refused again, it is no edit.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initStore, isStoreError, openStore, rawKey } from '../../src/index.js';
import { DRIVERS, withRaw, type Column } from '../helpers/drivers.js';

const KEY = new Uint8Array(32).fill(7);
const NAMES = ['a', 'b/c', 'd'];

type Op = { kind: 'put'; name: string; n: number } | { kind: 'delete' | 'undelete' | 'destroy'; name: string } | { kind: 'rotate' };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), name: fc.constantFrom(...NAMES), n: fc.nat(99) }) },
  fc.record({ kind: fc.constantFrom('delete' as const, 'undelete' as const, 'destroy' as const), name: fc.constantFrom(...NAMES) }),
  fc.constant({ kind: 'rotate' as const }),
);
const TABLES = ['meta', 'data_keys', 'secrets', 'versions', 'audit', 'state'];
/** Each table's primary key: which row an edit picks, in key order. */
const KEYS: Record<string, string[]> = {
  meta: ['key'], data_keys: ['id'], secrets: ['id'], versions: ['secret_id', 'version'], audit: ['seq'], state: ['id'],
};
/**
 * Runs per driver. A PostgreSQL run takes about ten times a SQLite one
 * (~0.25 s against ~0.025 s: a database made and dropped per run, a round
 * trip per statement), so it gets 50 runs (~13 s) rather than 400 (~100 s).
 * The examples below edit every table on both.
 */
const RUNS = { sqlite: 400, postgres: 50 } as const;
type Value = number | string | Buffer | null;
const newValue: fc.Arbitrary<Value> = fc.oneof(fc.integer({ min: -5, max: 2_000_000_000_000 }), fc.constant(null), fc.string({ maxLength: 8 }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)));

/** `v` made into a value of `column`'s kind. */
function ofKind(v: Value, column: Column): Value {
  const text = v === null ? '' : Buffer.isBuffer(v) ? v.toString('hex') : String(v);
  if (column.kind === 'integer') return typeof v === 'number' ? v : text.length;
  if (column.kind === 'blob') return Buffer.isBuffer(v) ? v : Buffer.from(text);
  return text;
}

/** Where each table's `mac` column is: the examples overwrite it in the first row of each table. */
const MAC_COLUMN: Record<string, number> = { meta: 2, data_keys: 5, secrets: 7, versions: 7, audit: 9, state: 4 };
const EXAMPLE_OPS: Op[] = [{ kind: 'put', name: 'a', n: 1 }, { kind: 'put', name: 'a', n: 2 }, { kind: 'put', name: 'b/c', n: 3 }, { kind: 'delete', name: 'b/c' }];
const EXAMPLES = TABLES.map((t, i): [Op[], number, number, number, Value] => [EXAMPLE_OPS, i, 0, MAC_COLUMN[t]!, Buffer.alloc(32, 0x5a)]);

describe.each(DRIVERS)('any single-column edit of any row on $name', (driver) => {
  it('every read is the exact value or a StoreError', { timeout: 300_000 }, async () => {
    const tablesEdited = new Set<string>();
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(), fc.nat(), newValue,
      async (ops, tablePick, rowPick, colPick, value) => {
        const place = await driver.place();
        const path = place.locator;
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

        // The edit: one column of one row, by a connection that enforces as little as it can.
        const table = TABLES[tablePick % TABLES.length]!;
        const edited = await withRaw(driver, path, async (db) => {
          const cols = await db.columns(table);
          const key = KEYS[table]!;
          const rows = await db.all(`SELECT ${key.join(', ')} FROM ${table} ORDER BY ${key.join(', ')}`);
          if (rows.length === 0) return 'nothing';
          const col = cols[colPick % cols.length]!;
          const row = rows[rowPick % rows.length]!;
          const update = `UPDATE ${table} SET ${col.name} = ? WHERE ${key.map((k) => `${k} = ?`).join(' AND ')}`;
          for (const v of [value, ofKind(value, col)]) {
            try {
              await db.run(update, v, ...key.map((k) => row[k]));
              tablesEdited.add(table);
              return `${table}.${col.name}`;
            } catch {
              // refused: try the value of the column's kind, once
            }
          }
          return `refused by ${driver.name}`;
        });

        const outcome = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
          try {
            return await fn();
          } catch (e) {
            if (!isStoreError(e)) throw new Error(`${what} after editing ${edited}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
            return undefined;
          }
        };
        const s = await outcome('open', () => openStore(path, rawKey(KEY)));
        if (!s) {
          await place.remove();
          return;
        }
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
          await place.remove();
        }
      }), { numRuns: RUNS[driver.name], examples: EXAMPLES });
    expect([...tablesEdited].sort()).toEqual([...TABLES].sort());
  });
});
