/**
 * Model-based test of the Store's version semantics (docs/design.md §4) with
 * fc.commands: every command runs against a real store — a SQLite file in a
 * temp dir, and a fresh PostgreSQL database (test/helpers/drivers.ts) — and
 * against a plain in-memory model; after each command the store's answer
 * (bytes, version numbers, content type, or error code) and the touched
 * secret's history must equal the model's. Puts draw the content type: plain
 * bytes, a JSON object's text, or something else claimed to be JSON (refused).
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { initStore, openStore, rawKey, isStoreError, type Store } from '../../src/index.js';
import { DRIVERS, freshStoreOn } from '../helpers/drivers.js';

// -------------------------------------------------------------------- model

type VState = 'live' | 'deleted' | 'destroyed';
interface MVersion {
  value: Uint8Array;
  state: VState;
  /** Written as a JSON object's text (put with json: true, or a rollback to such a version). */
  json: boolean;
}
interface MSecret {
  current: number;
  versions: Map<number, MVersion>;
}
interface Model {
  secrets: Map<string, MSecret>;
}
interface Real {
  store: Store;
  /** A second store open on the same place (another process or host): SwitchHostCmd makes it the one commands go to. */
  other: Store;
  /** The store's path or URL. */
  locator: string;
  key: Uint8Array;
  /** The kinds of command that ran (every one must, on every driver). */
  ran: Set<string>;
}

type Outcome<T> = { ok: T } | { code: string };

/** Run `fn`; a StoreError becomes its code, anything else is a test failure. */
async function outcome<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await fn() };
  } catch (e) {
    if (isStoreError(e)) return { code: e.code };
    throw e;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

type Read = { version: number; value: string; json: boolean };

/** What the model says a read of `version` (or the current one) gives: value hex and type, or an error code. */
function modelRead(m: Model, name: string, version?: number): Outcome<Read> {
  const s = m.secrets.get(name);
  if (!s) return { code: 'E_NOT_FOUND' };
  const n = version ?? s.current;
  const v = s.versions.get(n);
  if (!v) return { code: 'E_NOT_FOUND' };
  if (v.state === 'destroyed') return { code: 'E_DESTROYED' };
  if (v.state === 'deleted') return { code: 'E_DELETED' };
  return { ok: { version: n, value: hex(v.value), json: v.json } };
}

/** A real read in the model's terms. */
async function realRead(r: Real, name: string, version?: number): Promise<Outcome<Read>> {
  const got = await outcome(() => r.store.get(name, version === undefined ? {} : { version }));
  return 'ok' in got ? { ok: { version: got.ok.version, value: hex(got.ok.value.expose()), json: got.ok.json } } : got;
}

type HistoryEntry = { version: number; state: VState; json: boolean };

function modelHistory(m: Model, name: string): Outcome<HistoryEntry[]> {
  const s = m.secrets.get(name);
  if (!s) return { code: 'E_NOT_FOUND' };
  return { ok: [...s.versions.entries()].sort((a, b) => a[0] - b[0]).map(([version, v]) => ({ version, state: v.state, json: v.json })) };
}

async function realHistory(r: Real, name: string): Promise<Outcome<HistoryEntry[]>> {
  const h = await outcome(() => r.store.history(name));
  return 'ok' in h ? { ok: h.ok.map((v) => ({ version: v.version, state: v.state, json: v.json })) } : h;
}

/** The model's own reading of what put({ json: true }) takes: the UTF-8 text (no byte-order mark) of a JSON object. */
function isJsonObjectText(value: Uint8Array): boolean {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(value));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

/** After any command, the touched secret's versions and states must match the model. */
async function checkHistory(m: Model, r: Real, name: string): Promise<void> {
  expect(await realHistory(r, name)).toEqual(modelHistory(m, name));
}

/** The cas to send: none, the right one, or a wrong one derived from `wrong`. */
type CasChoice = { kind: 'none' } | { kind: 'right' } | { kind: 'wrong'; n: number };

function casFor(m: Model, name: string, choice: CasChoice): number | undefined {
  const current = m.secrets.get(name)?.current ?? 0;
  if (choice.kind === 'none') return undefined;
  if (choice.kind === 'right') return current;
  return choice.n === current ? choice.n + 1 : choice.n;
}

/** Apply a new version `value` to the model (cas already checked). */
function modelAppend(m: Model, name: string, value: Uint8Array, json: boolean): number {
  let s = m.secrets.get(name);
  if (!s) {
    s = { current: 0, versions: new Map() };
    m.secrets.set(name, s);
  }
  s.current += 1;
  s.versions.set(s.current, { value: new Uint8Array(value), state: 'live', json });
  return s.current;
}

/** Which versions an operation targets, or E_NOT_FOUND when the name or one version is missing. */
function modelTargets(m: Model, name: string, versions: number[] | undefined): Outcome<number[]> {
  const s = m.secrets.get(name);
  if (!s) return { code: 'E_NOT_FOUND' };
  const chosen = versions ? [...new Set(versions)] : [s.current];
  if (chosen.some((v) => !s.versions.has(v))) return { code: 'E_NOT_FOUND' };
  return { ok: chosen };
}

// ----------------------------------------------------------------- commands

class PutCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string, readonly value: Uint8Array, readonly json: boolean, readonly cas: CasChoice) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('put');
    const cas = casFor(m, this.name, this.cas);
    const current = m.secrets.get(this.name)?.current ?? 0;
    const got = await outcome(() => r.store.put(this.name, this.value, { ...(cas === undefined ? {} : { cas }), ...(this.json ? { json: true } : {}) }));
    // The value is checked before the store is touched, so before the check-and-set.
    if (this.json && !isJsonObjectText(this.value)) {
      expect(got).toEqual({ code: 'E_INVALID_VALUE' });
    } else if (cas !== undefined && cas !== current) {
      expect(got).toEqual({ code: 'E_CAS_MISMATCH' });
    } else {
      const version = modelAppend(m, this.name, this.value, this.json);
      expect('ok' in got && got.ok.version).toBe(version);
    }
    await checkHistory(m, r, this.name);
  }
  toString(): string {
    return `put(${this.name}, ${this.value.length}B${this.json ? ', json' : ''}, cas=${JSON.stringify(this.cas)})`;
  }
}

class GetCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string, readonly version: number | undefined) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('get');
    expect(await realRead(r, this.name, this.version)).toEqual(modelRead(m, this.name, this.version));
  }
  toString(): string {
    return `get(${this.name}${this.version === undefined ? '' : `, v${this.version}`})`;
  }
}

type StateOp = 'delete' | 'undelete' | 'destroy';

class StateCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly op: StateOp, readonly name: string, readonly versions: number[] | undefined) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add(this.op);
    const opts = this.versions === undefined ? {} : { versions: this.versions };
    const got = await outcome(() =>
      this.op === 'delete' ? r.store.delete(this.name, opts)
        : this.op === 'undelete' ? r.store.undelete(this.name, opts)
          : r.store.destroy(this.name, this.versions!),
    );
    const want = modelTargets(m, this.name, this.versions);
    expect(got).toEqual(want);
    if ('ok' in want) {
      const s = m.secrets.get(this.name)!;
      for (const n of want.ok) {
        const v = s.versions.get(n)!;
        if (v.state === 'destroyed') continue; // nothing brings a destroyed version back
        v.state = this.op === 'delete' ? 'deleted' : this.op === 'undelete' ? 'live' : 'destroyed';
      }
    }
    await checkHistory(m, r, this.name);
  }
  toString(): string {
    return `${this.op}(${this.name}${this.versions === undefined ? '' : `, [${this.versions.join(',')}]`})`;
  }
}

class RollbackCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string, readonly version: number, readonly cas: CasChoice) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('rollback');
    const cas = casFor(m, this.name, this.cas);
    const got = await outcome(() => r.store.rollback(this.name, this.version, cas === undefined ? {} : { cas }));
    const source = modelRead(m, this.name, this.version);
    const current = m.secrets.get(this.name)?.current ?? 0;
    if ('code' in source) {
      expect(got).toEqual(source);
    } else if (cas !== undefined && cas !== current) {
      expect(got).toEqual({ code: 'E_CAS_MISMATCH' });
    } else {
      const s = m.secrets.get(this.name)!;
      const restored = s.versions.get(this.version)!;
      const version = modelAppend(m, this.name, restored.value, restored.json); // a rollback keeps the restored version's type
      expect('ok' in got && got.ok.version).toBe(version);
    }
    await checkHistory(m, r, this.name);
  }
  toString(): string {
    return `rollback(${this.name}, v${this.version}, cas=${JSON.stringify(this.cas)})`;
  }
}

class PurgeCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly name: string) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('purge');
    const got = await outcome(() => r.store.purge(this.name));
    if (m.secrets.has(this.name)) {
      expect(got).toEqual({ ok: undefined });
      m.secrets.delete(this.name);
    } else {
      expect(got).toEqual({ code: 'E_NOT_FOUND' });
    }
    await checkHistory(m, r, this.name);
  }
  toString(): string {
    return `purge(${this.name})`;
  }
}

class ReopenCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(_m: Model, r: Real): Promise<void> {
    r.ran.add('reopen');
    await r.store.close();
    r.store = await openStore(r.locator, rawKey(r.key));
  }
  toString(): string {
    return 'close+reopen';
  }
}

/**
 * Commands go to the other store from now on, as when two processes (two
 * hosts, on PostgreSQL) take turns: each must see the other's writes, and
 * what either kept of its own last write (a read cache, a PostgreSQL
 * store's one-trip writes) must never answer for the other's.
 */
class SwitchHostCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(_m: Model, r: Real): Promise<void> {
    r.ran.add('switchHost');
    [r.store, r.other] = [r.other, r.store];
  }
  toString(): string {
    return 'switch host';
  }
}

/** Whole-store check: list() summaries, every name's history, every version's read. */
class CheckAllCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    r.ran.add('checkAll');
    const listed = (await r.store.list()).map((s) => ({ name: s.name, currentVersion: s.currentVersion, versions: s.versions, state: s.state }));
    const names = [...m.secrets.keys()].sort();
    expect(listed).toEqual(names.map((name) => {
      const s = m.secrets.get(name)!;
      return { name, currentVersion: s.current, versions: s.versions.size, state: s.versions.get(s.current)!.state };
    }));
    for (const name of NAMES) {
      await checkHistory(m, r, name);
      const max = (m.secrets.get(name)?.current ?? 0) + 1;
      for (let v = 1; v <= max; v++) {
        expect(await realRead(r, name, v)).toEqual(modelRead(m, name, v));
      }
    }
  }
  toString(): string {
    return 'checkAll';
  }
}

// --------------------------------------------------------------- arbitraries

/** A small pool so that commands keep hitting the same secrets; two share a prefix. */
const NAMES = ['a', 'app/db', 'app/db.password', 'Z-9_x'] as const;
const nameArb = fc.constantFrom(...NAMES);
const valueArb = fc.oneof(
  { weight: 10, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 48 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 6000 }) },
);
const utf8 = (s: string) => new TextEncoder().encode(s);
/** A put's value and type: plain bytes; a JSON object's text; or, claimed to be JSON, bytes or JSON text of any other kind (mostly refused). */
const putValueArb: fc.Arbitrary<{ value: Uint8Array; json: boolean }> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ value: valueArb, json: fc.constant(false) }) },
  { weight: 3, arbitrary: fc.record({ value: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 })).map((o) => utf8(JSON.stringify(o))), json: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ value: fc.oneof(valueArb, fc.json({ maxDepth: 2 }).map(utf8)), json: fc.constant(true) }) },
);
const versionArb = fc.integer({ min: 1, max: 5 });
const versionsArb = fc.option(fc.array(versionArb, { minLength: 1, maxLength: 3 }), { nil: undefined });
const casArb: fc.Arbitrary<CasChoice> = fc.oneof(
  fc.constant<CasChoice>({ kind: 'none' }),
  fc.constant<CasChoice>({ kind: 'right' }),
  fc.integer({ min: 0, max: 7 }).map((n): CasChoice => ({ kind: 'wrong', n })),
);

const putArb = fc.tuple(nameArb, putValueArb, casArb).map(([n, v, c]) => new PutCmd(n, v.value, v.json, c));
// Puts listed three times: fc.commands picks uniformly, and reads need something to read.
const commandArbs = [
  putArb,
  putArb,
  putArb,
  fc.tuple(nameArb, fc.option(versionArb, { nil: undefined })).map(([n, v]) => new GetCmd(n, v)),
  fc.tuple(nameArb, versionsArb).map(([n, v]) => new StateCmd('delete', n, v)),
  fc.tuple(nameArb, versionsArb).map(([n, v]) => new StateCmd('undelete', n, v)),
  fc.tuple(nameArb, fc.array(versionArb, { minLength: 1, maxLength: 3 })).map(([n, v]) => new StateCmd('destroy', n, v)),
  fc.tuple(nameArb, versionArb, casArb).map(([n, v, c]) => new RollbackCmd(n, v, c)),
  nameArb.map((n) => new PurgeCmd(n)),
  fc.constant(new ReopenCmd()),
  fc.constant(new CheckAllCmd()),
  fc.constant(new SwitchHostCmd()),
];

/** Every kind of command, each of which must have run in every driver's runs. */
const KINDS = ['put', 'get', 'delete', 'undelete', 'destroy', 'rollback', 'purge', 'reopen', 'checkAll', 'switchHost'];

/**
 * Runs per driver. A PostgreSQL run takes about ten times a SQLite one
 * (0.4 to 0.55 s against 0.04 to 0.06 s: a database made and dropped per
 * run, a round trip per statement), so it gets 60 runs (25 to 35 s) rather
 * than 200 (80 to 110 s); each is still up to 50 commands, and every kind
 * of command must run.
 */
const RUNS = { sqlite: 200, postgres: 60 } as const;

// --------------------------------------------------------------------- tests

describe.each(DRIVERS)('store model (fc.commands) on $name', (driver) => {
  it('every command answers as the in-memory model does', async () => {
    const ran = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.commands(commandArbs, { maxCommands: 50, size: 'max' }), async (cmds) => {
        const place = await driver.place();
        const key = new Uint8Array(randomBytes(32));
        const store = await initStore(place.locator, rawKey(key));
        const real: Real = { store, other: await openStore(place.locator, rawKey(key)), locator: place.locator, key, ran };
        const model: Model = { secrets: new Map() };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // Whatever ran, a final reopen sees exactly the model.
          await new ReopenCmd().run(model, real);
          await new CheckAllCmd().run(model, real);
        } finally {
          await real.store.close();
          await real.other.close();
          await place.remove();
        }
      }),
      { numRuns: RUNS[driver.name] },
    );
    expect([...ran].sort()).toEqual([...KINDS].sort());
  });

  it('a purged name restarts at version 1 and old versions are gone', async () => {
    const { store } = await freshStoreOn(driver);
    try {
      await store.put('p', 'one');
      await store.put('p', 'two');
      await store.purge('p');
      await expect(store.get('p')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      expect((await store.put('p', 'three', { cas: 0 })).version).toBe(1);
      await expect(store.get('p', { version: 2 })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      expect((await store.get('p')).value.text()).toBe('three');
    } finally {
      await store.close();
    }
  });
});
