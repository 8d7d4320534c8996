/**
 * The tamper campaign: one random bit flipped anywhere in a closed store file
 * (every page: header, schema, b-tree interiors, rows, free space), then the
 * store is opened and every secret and version read, listed, its history
 * taken, and the whole store verified. Each trial's outcome is one of:
 *
 * - exact: every answer is the one written (the flip hit bytes nothing reads);
 * - detected: some call failed with a StoreError (E_TAMPERED, E_NOT_A_STORE…)
 *   or verify reported a problem, and no answer was wrong;
 * - wrong value: a get answered with another value or version — never allowed;
 * - non-StoreError: a call threw something else (a TypeError, a raw SQLite
 *   error) — never allowed: damage gets a clear code.
 *
 * A listing or history that differs from what was written must be caught by
 * verify in the same trial ("undetected" otherwise, also never allowed).
 * The table is printed for the release notes; CAMPAIGN_FLIPS sets the count.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initStore, isStoreError, openStore, rawKey, type Store } from '../../src/index.js';

const FLIPS = Number(process.env.CAMPAIGN_FLIPS ?? 2000);
const KEY = new Uint8Array(32).fill(0x42);
const ram = (() => {
  try {
    return mkdtempSync('/dev/shm/strongbox-flips-');
  } catch {
    return mkdtempSync(join(tmpdir(), 'strongbox-flips-'));
  }
})();
afterAll(() => rmSync(ram, { recursive: true, force: true }));

/** What each read must answer: a value, or the code of a version that is not readable. */
type Expected = { value: string } | { code: string };
const versions = new Map<string, Expected>(); // name@version
const current = new Map<string, { version: number; expected: Expected }>();
let template: Buffer;

beforeAll(async () => {
  const path = join(ram, 'template.db');
  const store = await initStore(path, rawKey(KEY), { maxVersions: 0 });
  const put = async (name: string, value: string) => {
    const r = await store.put(name, value);
    versions.set(`${name}@${r.version}`, { value });
    current.set(name, { version: r.version, expected: { value } });
  };
  for (let i = 0; i < 6; i++) {
    await put(`app/s${i}`, `value-${i}-a`);
    await put(`app/s${i}`, `value-${i}-b-${'x'.repeat(i * 40)}`);
  }
  await store.rotateKeys({ rewrap: false }); // two data keys in use
  await put('app/s0', 'value-0-c');
  await put('ops/deleted', 'soon-deleted');
  await store.delete('ops/deleted');
  versions.set('ops/deleted@1', { code: 'E_DELETED' });
  current.set('ops/deleted', { version: 1, expected: { code: 'E_DELETED' } });
  await put('ops/destroyed', 'first');
  await put('ops/destroyed', 'second');
  await store.destroy('ops/destroyed', [1]);
  versions.set('ops/destroyed@1', { code: 'E_DESTROYED' });
  await store.setMetadata('app/s1', { custom: { owner: 'ops', team: 'platform' } });
  await store.close();
  template = readFileSync(path);
});

type Outcome = 'exact' | 'detected' | 'wrong value' | 'non-StoreError' | 'undetected';

/** One trial on `file`: open, read everything, verify; the outcome and, for the bad ones, what happened. */
async function trial(file: string): Promise<{ outcome: Outcome; why?: string }> {
  let failed = false;
  let wrong: string | undefined;
  let mismatch: string | undefined;
  /** Run one call; a StoreError is a failure unless it is the code the written state calls for. */
  const call = async <T>(what: string, fn: () => Promise<T>, expectedCode?: string): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (!isStoreError(e)) throw Object.assign(new Error(`${what}: ${(e as Error)?.name}: ${(e as Error)?.message}`), { nonStore: true });
      if (e.code !== expectedCode) failed = true;
      return undefined;
    }
  };
  const codeOf = (x: Expected) => ('code' in x ? x.code : undefined);
  let store: Store | undefined;
  try {
    store = await call('open', () => openStore(file, rawKey(KEY)));
    if (!store) return { outcome: 'detected' };
    const s = store;
    for (const [key, expected] of versions) {
      const [name, v] = key.split('@') as [string, string];
      const got = await call(`get ${key}`, () => s.get(name, { version: Number(v) }), codeOf(expected));
      if (got && !('value' in expected && got.value.text() === expected.value && got.version === Number(v))) wrong ??= `get ${key}`;
    }
    for (const [name, { version, expected }] of current) {
      const got = await call(`get ${name}`, () => s.get(name), codeOf(expected));
      if (got && !('value' in expected && got.value.text() === expected.value && got.version === version)) wrong ??= `get ${name}`;
    }
    const list = await call('list', () => s.list());
    if (list && JSON.stringify(list.map((l) => [l.name, l.currentVersion])) !== JSON.stringify([...current].map(([n, c]) => [n, c.version]).sort())) {
      mismatch ??= 'list';
    }
    for (const name of current.keys()) {
      const h = await call(`history ${name}`, () => s.history(name));
      const want = [...versions.keys()].filter((k) => k.startsWith(`${name}@`)).map((k) => Number(k.split('@')[1]));
      if (h && JSON.stringify(h.map((x) => x.version)) !== JSON.stringify(want)) mismatch ??= `history ${name}`;
    }
    const report = await call('verify', () => s.verify({ deep: true }));
    if (report && !report.ok) failed = true;
    const audit = await call('audit verify', () => s.verifyAudit());
    if (audit && !audit.ok) failed = true;
  } catch (e) {
    if ((e as { nonStore?: boolean }).nonStore) return { outcome: 'non-StoreError', why: (e as Error).message };
    throw e;
  } finally {
    await store?.close().catch(() => undefined);
  }
  if (wrong) return { outcome: 'wrong value', why: wrong };
  if (mismatch && !failed) return { outcome: 'undetected', why: mismatch };
  return { outcome: failed || mismatch ? 'detected' : 'exact' };
}

describe(`tamper campaign: ${FLIPS} single-bit flips across every page of a store file`, () => {
  it('never a wrong value, never an error without a code', { timeout: 600_000 }, async () => {
    const counts: Record<Outcome, number> = { exact: 0, detected: 0, 'wrong value': 0, 'non-StoreError': 0, undetected: 0 };
    const bad: string[] = [];
    const file = join(ram, 'trial.db');
    let seed = 0x5eed;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0); // reproducible: the same flips every run
    for (let i = 0; i < FLIPS; i++) {
      const bit = rand() % (template.length * 8);
      const copy = Buffer.from(template);
      copy[bit >> 3]! ^= 1 << (bit & 7);
      for (const side of ['', '-wal', '-shm']) rmSync(`${file}${side}`, { force: true });
      writeFileSync(file, copy, { mode: 0o600 });
      const r = await trial(file);
      counts[r.outcome]++;
      if (r.why && bad.length < 20) bad.push(`flip of bit ${bit % 8} of byte ${bit >> 3} (page ${Math.floor((bit >> 3) / 4096) + 1}): ${r.outcome}: ${r.why}`);
    }
    console.log(`tamper campaign over ${FLIPS} flips of a ${template.length}-byte store:`, counts, bad);
    expect(bad).toEqual([]);
    expect(counts['wrong value'] + counts['non-StoreError'] + counts.undetected).toBe(0);
    expect(counts.detected).toBeGreaterThan(FLIPS / 10); // the flips reach what is read
  });

  it('the untouched template reads back exactly (the campaign measures the flips, not the harness)', async () => {
    const file = join(ram, 'clean.db');
    copyFileSync(join(ram, 'template.db'), file);
    expect(await trial(file)).toEqual({ outcome: 'exact' });
  });
});
