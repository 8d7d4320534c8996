/** Rotation policies (src/store/policy.ts) under a clock the test controls. */
import { describe, expect, it } from 'vitest';
import { EXPIRES_AFTER_KEY, ROTATE_EVERY_KEY, ROTATED_AT_KEY } from '../../src/store/policy.js';
import { codeOfAsync } from '../helpers/errors.js';
import { freshStore } from '../helpers/store.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);
const DAY = 86_400_000;

function clock(start = T0) {
  let t = start;
  return { now: () => t, set: (v: number) => void (t = v), advance: (ms: number) => void (t += ms) };
}

async function setup() {
  const c = clock();
  const { store } = await freshStore({ now: c.now });
  return { c, store };
}

describe('rotation policy', () => {
  it('a secret becomes due exactly at its interval, expired exactly at expires-after', async () => {
    const { c, store } = await setup();
    await store.put('app/db', 'v1');
    await store.setPolicy('app/db', { rotateEveryMs: 90 * DAY, expiresAfterMs: 365 * DAY });

    expect(await store.dueSecrets(T0 + 90 * DAY - 1)).toEqual([]);
    expect(await store.dueSecrets(T0 + 90 * DAY)).toEqual([
      { name: 'app/db', dueAt: new Date(T0 + 90 * DAY), overdueMs: 0, expired: false, expiresAt: new Date(T0 + 365 * DAY) },
    ]);
    const late = await store.dueSecrets(T0 + 100 * DAY);
    expect(late[0]).toMatchObject({ overdueMs: 10 * DAY, expired: false });

    expect((await store.dueSecrets(T0 + 365 * DAY - 1))[0]!.expired).toBe(false);
    expect((await store.dueSecrets(T0 + 365 * DAY))[0]!.expired).toBe(true);
    expect(await store.expiryOf('app/db')).toEqual(new Date(T0 + 365 * DAY));

    // Default `now`: the store's clock.
    c.set(T0 + 90 * DAY - 1);
    expect(await store.dueSecrets()).toEqual([]);
    c.set(T0 + 90 * DAY);
    expect((await store.dueSecrets()).map((d) => d.name)).toEqual(['app/db']);
  });

  it('rotateValue writes a new version and resets the clock of the policy', async () => {
    const { c, store } = await setup();
    await store.put('k', 'v1');
    await store.setPolicy('k', { rotateEveryMs: 30 * DAY, expiresAfterMs: 60 * DAY });
    c.set(T0 + 45 * DAY);
    expect(await store.dueSecrets()).toHaveLength(1);

    const r = await store.rotateValue('k', 'v2');
    expect(r.version).toBe(2);
    expect((await store.get('k')).value.text()).toBe('v2');
    const m = await store.getMetadata('k');
    expect(m.custom[ROTATED_AT_KEY]).toBe(new Date(T0 + 45 * DAY).toISOString());
    expect(m.custom[ROTATE_EVERY_KEY]).toBe(String(30 * DAY));

    expect(await store.dueSecrets()).toEqual([]);
    expect(await store.dueSecrets(T0 + 75 * DAY - 1)).toEqual([]);
    expect(await store.dueSecrets(T0 + 75 * DAY)).toHaveLength(1);
    expect(await store.expiryOf('k')).toEqual(new Date(T0 + 105 * DAY));
    const st = await store.policyStatus('k', T0 + 105 * DAY);
    expect(st).toMatchObject({ due: true, expired: true, base: new Date(T0 + 45 * DAY) });
  });

  it('without rotated-at the base is the current version\'s createdAt', async () => {
    const { c, store } = await setup();
    await store.put('k', 'v1');
    c.set(T0 + 10 * DAY);
    await store.put('k', 'v2'); // a plain put, not a rotation
    c.set(T0 + 20 * DAY);
    await store.setPolicy('k', { rotateEveryMs: 30 * DAY });
    expect(await store.dueSecrets(T0 + 40 * DAY - 1)).toEqual([]);
    expect((await store.dueSecrets(T0 + 40 * DAY))[0]).toMatchObject({ name: 'k', overdueMs: 0, expired: false });
    expect(await store.expiryOf('k')).toBeUndefined();
  });

  it('lists only secrets with a policy, most overdue first, and skips deleted ones', async () => {
    const { c, store } = await setup();
    await store.put('none', 'x');
    await store.put('a', 'x');
    await store.put('b', 'x');
    await store.put('gone', 'x');
    await store.setPolicy('a', { rotateEveryMs: 10 * DAY });
    await store.setPolicy('b', { rotateEveryMs: 5 * DAY });
    await store.setPolicy('gone', { rotateEveryMs: 1 * DAY });
    await store.delete('gone');
    c.set(T0 + 20 * DAY);
    expect((await store.dueSecrets()).map((d) => [d.name, d.overdueMs])).toEqual([['b', 15 * DAY], ['a', 10 * DAY]]);
  });

  it('setPolicy keeps other custom metadata and replaces the policy', async () => {
    const { store } = await setup();
    await store.put('k', 'x');
    await store.setMetadata('k', { custom: { owner: 'ops' } });
    await store.setPolicy('k', { rotateEveryMs: DAY, expiresAfterMs: 2 * DAY });
    await store.setPolicy('k', { rotateEveryMs: 3 * DAY });
    expect((await store.getMetadata('k')).custom).toEqual({ owner: 'ops', [ROTATE_EVERY_KEY]: String(3 * DAY) });
    expect((await store.getMetadata('k')).custom[EXPIRES_AFTER_KEY]).toBeUndefined();
  });

  it('refuses bad input: unknown secret, non-positive intervals, malformed metadata', async () => {
    const { store } = await setup();
    expect(await codeOfAsync(() => store.setPolicy('nope', { rotateEveryMs: DAY }))).toBe('E_NOT_FOUND');
    expect(await codeOfAsync(() => store.rotateValue('nope', 'x'))).toBe('E_NOT_FOUND');
    await store.put('k', 'x');
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(await codeOfAsync(() => store.setPolicy('k', { rotateEveryMs: bad }))).toBe('E_USAGE');
      expect(await codeOfAsync(() => store.setPolicy('k', { rotateEveryMs: DAY, expiresAfterMs: bad }))).toBe('E_USAGE');
    }
    // A malformed entry is refused as it is written (the reserved keys, below), so it never stops store due.
    expect(await store.setMetadata('k', { custom: { [ROTATE_EVERY_KEY]: '90d' } }).catch((e: Error) => e.message)).toMatch(/malformed strongbox\.rotate-every/);
    expect(await store.dueSecrets()).toEqual([]);
    expect(await store.policyStatus('k')).toBeUndefined();
  });
});

describe('the reserved keys, whoever changes them', () => {
  it('setMetadata refuses a policy entry that does not parse, a lone expires-after, or a rotated-at in the future; nothing changes and store due still works', async () => {
    const { store } = await setup();
    await store.put('a', 'v');
    await store.put('b', 'v');
    await store.setPolicy('a', { rotateEveryMs: DAY, expiresAfterMs: 2 * DAY });
    await store.setPolicy('b', { rotateEveryMs: DAY });
    const before = (await store.getMetadata('a')).custom;
    const bad: Record<string, string>[] = [
      { ...before, [ROTATE_EVERY_KEY]: '90d' },
      { ...before, [EXPIRES_AFTER_KEY]: '-1' },
      { [EXPIRES_AFTER_KEY]: before[EXPIRES_AFTER_KEY]! }, // rotate-every removed, expires-after left
      { ...before, [ROTATED_AT_KEY]: new Date(T0 + DAY).toISOString() }, // a day ahead of the store's clock
      { ...before, [ROTATED_AT_KEY]: 'yesterday' },
    ];
    for (const custom of bad) expect(await codeOfAsync(() => store.setMetadata('a', { custom })), JSON.stringify(custom)).toBe('E_USAGE');
    expect((await store.getMetadata('a')).custom).toEqual(before);
    expect((await store.dueSecrets(T0 + 3 * DAY)).map((d) => d.name)).toEqual(['a', 'b']);
    // Both removed: no policy; other keys as ever; a rotated-at in the past is a rotation recorded.
    await store.setMetadata('a', { custom: { owner: 'ops', [ROTATED_AT_KEY]: new Date(T0 - DAY).toISOString() } });
    expect(await store.policyStatus('a')).toBeUndefined();
  });
});
