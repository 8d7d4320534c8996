/**
 * Model-based test of data-key and master-key rotation with fc.commands, on
 * each driver (a SQLite file, a PostgreSQL database: test/helpers/drivers.ts).
 * Two Store handles on one store stand for two processes (each has its own
 * connection or pool and its own in-memory keyset). Any interleaving of put, get,
 * complete rotations, cron-style rotations (--if-older-than), rotations
 * without rewrap, rotations "killed" between batches (onProgress throws
 * after a committed batch: the exception leaves rotateKeys() exactly where a
 * SIGKILL between two batches would), master-key rotations between raw keys,
 * close-and-reopen and key destruction must keep every version's value equal
 * to the model's, and every key a version names present and not destroyed.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initStore, isStoreError, openStore, rawKey, type Store } from '../../src/index.js';
import { DRIVERS, type RawDb, type StoreDriver } from '../helpers/drivers.js';

const NAMES = ['app/db', 'app/api-key', 'ci/token', 'x'] as const;
const THIRTY_DAYS = 30 * 86_400_000;

// ---------------------------------------------------------------- model and real

interface Model {
  /** Every version's value, version n at index n - 1. */
  values: Map<string, string[]>;
}

interface Real {
  driver: StoreDriver;
  /** The store's path or URL. */
  locator: string;
  /** The current master key: whatever opens the store now. */
  key: Uint8Array;
  handles: [Store, Store];
  /** A raw connection, for the invariants the API cannot show. */
  db: RawDb;
  /** The kinds of command that ran (every one must, on every driver). */
  ran: Set<string>;
}

type H = 0 | 1;

class Killed extends Error {
  constructor() {
    super('killed between batches');
  }
}

const fresh = () => new Uint8Array(randomBytes(32));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (isStoreError(e)) return e.code;
    throw e;
  }
}

// ---------------------------------------------------------------- invariants

interface KeyRowLite {
  id: number;
  version: number;
  status: string;
  wrapped: Buffer | null;
}

function sqlKeys(r: Real): Promise<KeyRowLite[]> {
  return r.db.all<KeyRowLite>('SELECT id, version, status, wrapped FROM data_keys ORDER BY version');
}

async function versionsByKey(r: Real): Promise<Map<number, number>> {
  const rows = await r.db.all<{ key_id: number; n: number }>('SELECT key_id, count(*) AS n FROM versions WHERE key_id IS NOT NULL GROUP BY key_id');
  return new Map(rows.map((x) => [x.key_id, x.n]));
}

const modelTotal = (m: Model) => [...m.values.values()].reduce((n, vs) => n + vs.length, 0);

/** After every command: one primary; every version under a key that exists, is not destroyed and still has material. */
async function checkInvariants(m: Model, r: Real): Promise<void> {
  const keys = await sqlKeys(r);
  expect(keys.filter((k) => k.status === 'primary')).toHaveLength(1);
  const usable = new Set(keys.filter((k) => k.status !== 'destroyed' && k.wrapped !== null).map((k) => k.id));
  const orphans = await r.db.value(
    "SELECT count(*) FROM versions WHERE key_id IS NULL OR key_id NOT IN (SELECT id FROM data_keys WHERE status != 'destroyed' AND wrapped IS NOT NULL)",
  );
  expect(orphans).toBe(0);
  const byKey = await versionsByKey(r);
  for (const id of byKey.keys()) expect(usable.has(id)).toBe(true);
  for (const k of keys) {
    if (k.status === 'retired' || k.status === 'destroyed') expect(byKey.get(k.id) ?? 0).toBe(0);
    if (k.status === 'destroyed') expect(k.wrapped).toBeNull();
  }
  expect(await r.db.value('SELECT count(*) FROM versions')).toBe(modelTotal(m));
}

/**
 * Every version's value and the keys as a newly opened store sees them. A
 * third handle, so the checks never refresh the actors' keysets: those stay
 * as stale as another process's would.
 */
async function checkAllValues(m: Model, r: Real): Promise<void> {
  const store = await openStore(r.locator, rawKey(r.key));
  try {
    for (const [name, values] of m.values) {
      for (let i = 0; i < values.length; i++) {
        const got = await store.get(name, { version: i + 1 });
        expect(got.value.text()).toBe(values[i]);
      }
      expect((await store.get(name)).version).toBe(values.length);
    }
    const keys = await store.keys();
    const byKey = await versionsByKey(r);
    expect(keys.map((k) => [k.version, k.status, k.versions])).toEqual(
      (await sqlKeys(r)).map((k) => [k.version, k.status, byKey.get(k.id) ?? 0]),
    );
    expect(keys.filter((k) => k.status === 'primary')).toHaveLength(1);
  } finally {
    await store.close();
  }
}

/** A complete rotation leaves every version under the primary and every other key retired or destroyed. */
async function expectFullyRotated(r: Real): Promise<void> {
  const keys = await sqlKeys(r);
  const primary = keys.find((k) => k.status === 'primary')!;
  const byKey = await versionsByKey(r);
  for (const k of keys) {
    if (k.id === primary.id) continue;
    expect(byKey.get(k.id) ?? 0).toBe(0);
    expect(['retired', 'destroyed']).toContain(k.status);
  }
}

async function notUnderPrimary(r: Real): Promise<number> {
  const primary = (await sqlKeys(r)).find((k) => k.status === 'primary')!;
  return r.db.value<number>('SELECT count(*) FROM versions WHERE key_id IS NOT NULL AND key_id != ?', primary.id);
}

// ---------------------------------------------------------------- commands

class PutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H, readonly name: string, readonly value: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('put');
    const w = await r.handles[this.h].put(this.name, this.value);
    const values = m.values.get(this.name) ?? [];
    values.push(this.value);
    m.values.set(this.name, values);
    expect(w.version).toBe(values.length);
    await checkInvariants(m, r);
  }
  toString = () => `put[${this.h}](${this.name}, ${JSON.stringify(this.value)})`;
}

class GetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H, readonly name: string, readonly pick: number | undefined) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('get');
    const values = m.values.get(this.name);
    if (!values) {
      expect(await codeOf(r.handles[this.h].get(this.name))).toBe('E_NOT_FOUND');
      return;
    }
    const version = this.pick === undefined ? values.length : 1 + (this.pick % values.length);
    const got = await r.handles[this.h].get(this.name, this.pick === undefined ? {} : { version });
    expect(got.version).toBe(version);
    expect(got.value.text()).toBe(values[version - 1]);
  }
  toString = () => `get[${this.h}](${this.name}${this.pick === undefined ? '' : `, #${this.pick}`})`;
}

type RotateMode = 'full' | 'cron' | 'no-rewrap';

class RotateCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H, readonly mode: RotateMode, readonly batch: number, readonly parallel: boolean) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add(`rotate ${this.mode}`);
    const keysBefore = (await sqlKeys(r)).length;
    const pending = await notUnderPrimary(r);
    const report = await r.handles[this.h].rotateKeys({
      batchSize: this.batch,
      parallel: this.parallel,
      ...(this.mode === 'cron' ? { ifOlderThanMs: THIRTY_DAYS } : {}),
      ...(this.mode === 'no-rewrap' ? { rewrap: false } : {}),
    });
    // Every key in these runs is seconds old: cron makes no new key.
    expect(report.rotated).toBe(this.mode !== 'cron');
    // The worker seals when asked to and there is something to seal.
    expect(report.parallel).toBe(this.parallel && this.mode !== 'no-rewrap' && report.toRewrap > 0);
    expect(await sqlKeys(r)).toHaveLength(this.mode === 'cron' ? keysBefore : keysBefore + 1);
    if (this.mode === 'no-rewrap') {
      expect(report.rewrapped).toBe(0);
      expect(await notUnderPrimary(r)).toBe(modelTotal(m));
    } else {
      // A new key: everything moves; cron: whatever an earlier run left behind.
      expect(report.rewrapped).toBe(this.mode === 'full' ? modelTotal(m) : pending);
      await expectFullyRotated(r);
    }
    await checkInvariants(m, r);
    await checkAllValues(m, r);
  }
  toString = () => `rotateKeys[${this.h}](${this.mode}, batch ${this.batch}${this.parallel ? ', parallel' : ''})`;
}

/** A rotation that dies right after its first committed batch. */
class KilledRotateCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H, readonly cron: boolean, readonly batch: number, readonly parallel: boolean) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const before = await sqlKeys(r);
    const pending = this.cron ? await notUnderPrimary(r) : modelTotal(m);
    let committed = 0;
    let killed = false;
    try {
      await r.handles[this.h].rotateKeys({
        batchSize: this.batch,
        parallel: this.parallel,
        ...(this.cron ? { ifOlderThanMs: THIRTY_DAYS } : {}),
        onProgress: (done) => {
          if (done > 0) {
            committed = done;
            throw new Killed();
          }
        },
      });
    } catch (e) {
      if (!(e instanceof Killed)) throw e;
      killed = true;
    }
    const after = await sqlKeys(r);
    expect(after).toHaveLength(this.cron ? before.length : before.length + 1);
    r.ran.add(killed ? 'rotate killed' : 'rotate killed, nothing left');
    if (killed) {
      // The batch it reported is committed, and the lock is free for the next run.
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThanOrEqual(this.batch);
      expect(await notUnderPrimary(r)).toBe(pending - committed);
      expect(await r.driver.exclusiveLockFree(r.locator)).toBe(true);
    } else {
      await expectFullyRotated(r); // nothing was left to rewrap: it ran to the end
    }
    await checkInvariants(m, r);
    await checkAllValues(m, r);
  }
  toString = () => `killedRotateKeys[${this.h}](${this.cron ? 'cron, ' : ''}batch ${this.batch}${this.parallel ? ', parallel' : ''})`;
}

class RotateMasterCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('rotateMaster');
    const old = r.key;
    const next = fresh();
    await r.handles[this.h].rotateMaster(rawKey(next));
    r.key = next;
    // The other "process" unlocked with the old master key: it must reopen.
    const other: H = this.h === 0 ? 1 : 0;
    await r.handles[other].close();
    r.handles[other] = await openStore(r.locator, rawKey(r.key));
    expect(await codeOf(openStore(r.locator, rawKey(old)).then((s) => s.close()))).toBe('E_WRONG_MASTER_KEY');
    await checkInvariants(m, r);
    await checkAllValues(m, r);
  }
  toString = () => `rotateMaster[${this.h}]`;
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('reopen');
    await r.handles[this.h].close();
    r.handles[this.h] = await openStore(r.locator, rawKey(r.key));
    await checkInvariants(m, r);
    await checkAllValues(m, r);
  }
  toString = () => `reopen[${this.h}]`;
}

/** Destroy some key: allowed only for a retired (or already destroyed) key that encrypts nothing. */
class DestroyKeyCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly h: H, readonly pick: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const keys = await sqlKeys(r);
    const key = keys[this.pick % keys.length]!;
    const uses = (await versionsByKey(r)).get(key.id) ?? 0;
    const code = await codeOf(r.handles[this.h].destroyKey(key.version));
    const allowed = (key.status === 'retired' || key.status === 'destroyed') && uses === 0;
    r.ran.add(allowed ? 'destroyKey' : 'destroyKey refused');
    expect(code).toBe(allowed ? 'ok' : 'E_KEY_IN_USE');
    const now = (await sqlKeys(r)).find((k) => k.id === key.id)!;
    expect(now.status).toBe(allowed ? 'destroyed' : key.status);
    await checkInvariants(m, r);
    await checkAllValues(m, r);
  }
  toString = () => `destroyKey[${this.h}](#${this.pick})`;
}

// ---------------------------------------------------------------- arbitraries

const handle = fc.constantFrom<H>(0, 1);
const name = fc.constantFrom(...NAMES);
const batch = fc.integer({ min: 1, max: 4 });

const put = fc.tuple(handle, name, fc.string({ minLength: 1, maxLength: 24 })).map(([h, n, v]) => new PutCmd(h, n, v));

// fc.commands picks uniformly among these: puts listed several times, so
// rotations have versions to move and killed ones stop part-way.
const commands = [
  put, put, put, put,
  fc.tuple(handle, name, fc.option(fc.nat(), { nil: undefined })).map(([h, n, p]) => new GetCmd(h, n, p)),
  fc.tuple(handle, fc.constantFrom<RotateMode>('full', 'cron', 'no-rewrap'), batch, fc.boolean()).map(([h, mode, b, p]) => new RotateCmd(h, mode, b, p)),
  fc.tuple(handle, fc.boolean(), batch, fc.boolean()).map(([h, cron, b, p]) => new KilledRotateCmd(h, cron, b, p)),
  fc.tuple(handle, fc.boolean(), batch, fc.boolean()).map(([h, cron, b, p]) => new KilledRotateCmd(h, cron, b, p)),
  handle.map((h) => new RotateMasterCmd(h)),
  handle.map((h) => new ReopenCmd(h)),
  fc.tuple(handle, fc.nat()).map(([h, p]) => new DestroyKeyCmd(h, p)),
];

/** Every kind of command (and outcome), each of which must have run in every driver's runs. */
const KINDS = [
  'put', 'get', 'rotate full', 'rotate cron', 'rotate no-rewrap', 'rotate killed', 'rotate killed, nothing left', 'rotateMaster', 'reopen',
  'destroyKey', 'destroyKey refused',
];

/**
 * Runs per driver. A PostgreSQL run takes four to eight times a SQLite one
 * (0.9 to 1.3 s against about 0.2 s on a busy two-core machine: a database
 * made and dropped per run, a pool per handle, a round trip per statement,
 * and most commands check every value through a newly opened store), so it
 * gets 25 runs (25 to 35 s) rather than 80 (70 to 100 s); each is still up
 * to 40 commands, and every kind of command must run.
 */
const RUNS = { sqlite: 80, postgres: 25 } as const;

describe.each(DRIVERS)('rotation model (fc.commands, two handles on one store) on $name', (driver) => {
  it('puts, gets, full / cron / killed / no-rewrap rotations, master rotations, reopen and key destruction keep every value', async () => {
    const ran = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'max' }), async (cmds) => {
        const place = await driver.place();
        const { locator } = place;
        const key = fresh();
        const first = await initStore(locator, rawKey(key));
        const second = await openStore(locator, rawKey(key));
        const db = await driver.raw(locator);
        const real: Real = { driver, locator, key, handles: [first, second], db, ran };
        const model: Model = { values: new Map() };
        try {
          // Some versions to start with, so the first rotation already has work.
          for (const n of NAMES) {
            for (let v = 1; v <= 2; v++) await new PutCmd(0, n, `${n} seed ${v}`).run(model, real);
          }
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          await checkInvariants(model, real);
          await checkAllValues(model, real);
        } finally {
          await real.db.close();
          for (const s of real.handles) await s.close();
          await place.remove();
        }
      }),
      { numRuns: RUNS[driver.name] },
    );
    expect([...ran].sort()).toEqual([...KINDS].sort());
  });
});
