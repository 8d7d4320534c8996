// rotate-keys runs alone: two at once on one store (real CLI processes on a
// 20,000-version store, long enough to overlap) either refuse the second
// with exit 75 / E_LOCKED (default --no-wait) or run one after the other
// (--wait). And the lock a SIGKILLed rotate-keys leaves behind: how long it
// blocks the next run, and that the next run finishes the work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { keyFile, openStore, type KeyInfo } from '../../src/index.js';
import {
  ROTATOR, SECRETS, VERSIONS, TOTAL, nameOf, valueOf, start, fixtureDir, populate, removeFixture, freshCopy, cliArgs,
  type Exit, type Fixture,
} from './rotation-helpers.js';

const COPIES = 'strongbox-rotlock-';

/** Keys after the fact, and a check that every version still reads back its value. */
async function finalState(s: Fixture): Promise<KeyInfo[]> {
  const store = await openStore(s.db, keyFile(s.key));
  try {
    let wrong = 0;
    for (let i = 0; i < SECRETS; i++) {
      const name = nameOf(i);
      for (let v = 1; v <= VERSIONS; v++) {
        if ((await store.get(name, { version: v })).value.text() !== valueOf(name, v)) wrong++;
      }
    }
    expect(wrong).toBe(0);
    return await store.keys();
  } finally {
    await store.close();
  }
}

/** Exactly `n` keys, the last primary with every version, all others retired. */
function expectRotatedTo(keys: KeyInfo[], n: number): void {
  expect(keys.map((k) => k.version)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  expect(keys.at(-1)).toMatchObject({ status: 'primary', versions: TOTAL });
  for (const k of keys.slice(0, -1)) expect(k).toMatchObject({ status: 'retired', versions: 0 });
}

interface Report {
  rotated: boolean;
  primaryVersion: number;
  rewrapped: number;
}

let fx: Fixture;
let fxDir = '';

beforeAll(async () => {
  fxDir = fixtureDir('strongbox-rotlock-fx-');
  fx = await populate(fxDir);
}, 180_000);
afterAll(() => removeFixture(fxDir));

describe(`two rotate-keys at once on ${TOTAL} versions`, () => {
  it('default (--no-wait): one succeeds, the other exits 75 with E_LOCKED and changes nothing', async () => {
    const s = freshCopy(fx, COPIES);
    const runs = await Promise.all([
      start(cliArgs(s, 'rotate-keys', '--json')).exited,
      start(cliArgs(s, 'rotate-keys', '--json')).exited,
    ]);
    console.log(`--no-wait pair: exits ${runs.map((r) => r.status).join(', ')} after ${runs.map((r) => r.ms.toFixed(0)).join(', ')} ms`);
    for (const r of runs) expect([0, 75], r.stderr).toContain(r.status);
    if (runs.every((r) => r.status === 0)) {
      // Allowed only if they did not overlap: the later one asked for the lock
      // after the earlier one had finished (started together, and a run takes
      // well over a second, so this should not happen).
      const [first, second] = [...runs].sort((x, y) => x.ms - y.ms) as [Exit, Exit];
      const secondAskedAt = second.ms - (JSON.parse(second.stdout) as Report & { durationMs: number }).durationMs;
      expect(first.ms, 'both succeeded though they overlapped').toBeLessThanOrEqual(secondAskedAt + 200);
      expectRotatedTo(await finalState(s), 3);
      return;
    }
    expect(runs.map((r) => r.status).sort()).toEqual([0, 75]);
    const winner = runs.find((r) => r.status === 0)!;
    const loser = runs.find((r) => r.status === 75)!;
    expect(loser.stderr).toMatch(/locked/);
    expect(loser.stdout).toBe('');
    expect(JSON.parse(winner.stdout)).toMatchObject({ rotated: true, primaryVersion: 2, rewrapped: TOTAL, retired: [1] });
    expectRotatedTo(await finalState(s), 2); // the loser changed nothing
    expect(existsSync(`${s.db}.lock`)).toBe(false);
  });

  it('--wait: both succeed, one after the other: two rotations, three key versions', async () => {
    const s = freshCopy(fx, COPIES);
    const runs = await Promise.all([
      start(cliArgs(s, 'rotate-keys', '--wait', '--json')).exited,
      start(cliArgs(s, 'rotate-keys', '--wait', '--json')).exited,
    ]);
    console.log(`--wait pair: exits ${runs.map((r) => r.status).join(', ')} after ${runs.map((r) => r.ms.toFixed(0)).join(', ')} ms`);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    const reports = runs.map((r) => JSON.parse(r.stdout) as Report).sort((a, b) => a.primaryVersion - b.primaryVersion);
    expect(reports.map((r) => [r.rotated, r.primaryVersion, r.rewrapped])).toEqual([[true, 2, TOTAL], [true, 3, TOTAL]]);
    expectRotatedTo(await finalState(s), 3);
    expect(existsSync(`${s.db}.lock`)).toBe(false);
  });
});

describe('the lock a SIGKILLed rotate-keys leaves behind', () => {
  /** Start a library rotation, SIGKILL it right after its first committed batch. */
  async function killMidRewrap(s: Fixture): Promise<{ killedAt: number; underPrimary: number }> {
    const proc = start([ROTATOR, s.db, s.key, '200']);
    await proc.line((l) => l.startsWith('batch '));
    proc.kill();
    const exit = await proc.exited;
    expect(exit.signal).toBe('SIGKILL');
    const killedAt = Date.now();
    expect(existsSync(`${s.db}.lock`), 'the dead process left its lock directory').toBe(true);
    const store = await openStore(s.db, keyFile(s.key));
    try {
      const keys = await store.keys();
      expect(keys.map((k) => k.status)).toEqual(['active', 'primary']);
      return { killedAt, underPrimary: keys[1]!.versions };
    } finally {
      await store.close();
    }
  }

  // The cron case: rotate-keys was killed (OOM killer, a stopped container,
  // a job timeout), and the next run comes right after. Nobody holds the
  // lock any more, yet proper-lockfile only takes a lock over once its mtime
  // is `stale` ms old (src/platform/lock.ts), so until then every run exits 75.
  it('a rerun right after SIGKILL is not refused because of the dead process\'s lock', async () => {
    const s = freshCopy(fx, COPIES);
    await killMidRewrap(s);
    const rerun = await start(cliArgs(s, 'rotate-keys', '--if-older-than', '30d', '--json')).exited;
    expect(rerun.status, `rerun right after the kill: ${rerun.stderr.trim()}`).toBe(0);
    expectRotatedTo(await finalState(s), 2);
  });

  it('with --wait, a rerun takes the dead lock over once stale and finishes the rewrap (no new key)', async () => {
    const s = freshCopy(fx, COPIES);
    const { killedAt, underPrimary } = await killMidRewrap(s);
    const rerun = await start(cliArgs(s, 'rotate-keys', '--if-older-than', '30d', '--wait', '--json'), 110_000).exited;
    const report = JSON.parse(rerun.stdout || '{}') as Report & { durationMs: number };
    console.log(
      `stale-lock recovery: the rerun (--wait) exited ${rerun.status} ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill; ` +
        `it ran ${(rerun.ms / 1000).toFixed(1)} s, of which the rotation itself (lock wait included) ${((report.durationMs ?? 0) / 1000).toFixed(1)} s`,
    );
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(report.rotated).toBe(false);
    expect(report.primaryVersion).toBe(2);
    expect(report.rewrapped).toBe(TOTAL - underPrimary);
    expectRotatedTo(await finalState(s), 2);
    expect(existsSync(`${s.db}.lock`)).toBe(false);
  }, 120_000);
});
