/** checkHealth and store.stats() (src/store/health.ts, stats.ts) under a clock the test controls. */
import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../src/store/health.js';
import { rawKey } from '../../src/index.js';
import { freshStore, reopenStore } from '../helpers/store.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const DAY = 86_400_000;

describe('key age', () => {
  it('warns once the primary data key is older than the limit, with rotate-keys as the fix', async () => {
    const { store, path, key } = await freshStore({ now: () => T0 });
    await store.put('a', 'x');
    await store.close();

    const young = await checkHealth(path, rawKey(key), { now: () => T0 + 90 * DAY });
    expect(young.findings.find((f) => f.check === 'key-age')).toMatchObject({ level: 'ok', message: 'primary data key 1 is 90 days old' });

    const old = await checkHealth(path, rawKey(key), { now: () => T0 + 91 * DAY });
    expect(old.ok).toBe(true); // a warning, not a failure
    expect(old.findings.find((f) => f.check === 'key-age')).toEqual({
      check: 'key-age', level: 'warn', message: 'primary data key 1 is 91 days old (more than 90 days)',
      fix: 'store rotate-keys (for cron: store rotate-keys --if-older-than 90d)',
    });

    const strict = await checkHealth(path, rawKey(key), { now: () => T0 + 31 * DAY, maxKeyAgeMs: 30 * DAY });
    expect(strict.findings.find((f) => f.check === 'key-age')?.level).toBe('warn');
  });

  it('without a master key the keyed checks are skipped and nothing fails', async () => {
    const { store, path } = await freshStore();
    await store.close();
    const r = await checkHealth(path, undefined);
    expect(r.ok).toBe(true);
    expect(r.counts.skip).toBe(7);
    expect(r.findings.find((f) => f.check === 'master-key')?.level).toBe('skip');
  });
});

describe('stats', () => {
  it('ages and overdue counts follow the given clock', async () => {
    let now = T0;
    const { store, path, key } = await freshStore({ now: () => now });
    await store.put('a', 'x');
    await store.setPolicy('a', { rotateEveryMs: 10 * DAY, expiresAfterMs: 20 * DAY });
    now = T0 + 5 * DAY;
    await store.rotateKeys();
    await store.close();

    const reopened = await reopenStore(path, key);
    const at = (t: number) => reopened.stats({ now: t });
    const s = await at(T0 + 15 * DAY);
    expect(s.primaryKey).toEqual({ version: 2, createdAt: new Date(T0 + 5 * DAY), ageMs: 10 * DAY });
    expect(s.oldestKey).toEqual({ version: 1, createdAt: new Date(T0), ageMs: 15 * DAY }); // retired, but its material is still in the store
    expect(s.dataKeys).toEqual({ primary: 1, active: 0, retired: 1, destroyed: 0 });
    expect(s).toMatchObject({ rotationOverdueSecrets: 1, expiredSecrets: 0, versionsNeedingRewrap: 0, lastValueRotationAt: null });
    expect(await at(T0 + 9 * DAY)).toMatchObject({ rotationOverdueSecrets: 0, expiredSecrets: 0 });
    expect(await at(T0 + 20 * DAY)).toMatchObject({ rotationOverdueSecrets: 1, expiredSecrets: 1 });
    await reopened.destroyKey(1);
    expect((await at(T0 + 15 * DAY)).oldestKey.version).toBe(2);
  });
});
