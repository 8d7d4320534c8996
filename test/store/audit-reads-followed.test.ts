/**
 * audit.reads changed by another process or handle: a Store that stays open
 * follows it (the header entry is read again once the change counter shows
 * another connection committed, looked for at most every FOLLOW_MS), so a long-lived reader opened while reads
 * were not audited logs its reads once they are, and a read-only consumer
 * refuses them as a fresh read-only open does.
 */
import { describe, expect, it } from 'vitest';
import { openStore, rawKey, type Store } from '../../src/index.js';
import { freshStore, reopenStore } from '../helpers/store.js';
import { FOLLOW_MS } from '../../src/store/store.js';

/** Set audit.reads through `store`, then wait as long as a long-lived Store may take to follow it (FOLLOW_MS). */
async function following(store: { setConfig(key: 'audit.reads', value: string): Promise<unknown> }, value: 'true' | 'false'): Promise<void> {
  await store.setConfig('audit.reads', value);
  await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS + 20));
}

async function entriesOf(store: Store, action: string, name?: string): Promise<number> {
  let n = 0;
  for await (const e of store.auditEntries({ action, ...(name ? { name } : {}) })) if (e.outcome === 'ok') n++;
  return n;
}

describe('audit.reads set by another handle', () => {
  it('a long-lived handle opened with audit.reads=false audits its next get once another turns it on', async () => {
    const { store: owner, path, key } = await freshStore();
    await owner.put('a/x', 'v1');
    await following(owner, 'false');
    const lived = await reopenStore(path, key);
    await lived.get('a/x');
    expect(await entriesOf(owner, 'get', 'a/x')).toBe(0);

    await following(owner, 'true');
    expect((await lived.get('a/x')).value.text()).toBe('v1');
    expect(await entriesOf(owner, 'get', 'a/x')).toBe(1);
    await lived.list();
    expect(await entriesOf(owner, 'list')).toBe(1);
    expect(await lived.getConfig('audit.reads')).toBe('true');

    // And back off: it stops auditing too.
    await following(owner, 'false');
    await lived.get('a/x');
    expect(await entriesOf(owner, 'get', 'a/x')).toBe(1);
  });

  it('with the read cache on, the same', async () => {
    const { store: owner, path, key } = await freshStore();
    await owner.put('a/x', 'v1');
    await following(owner, 'false');
    const lived = await openStore(path, rawKey(key), { cache: { ttlMs: 60_000 } });
    try {
      await lived.get('a/x');
      await following(owner, 'true');
      await lived.get('a/x');
      expect(await entriesOf(owner, 'get', 'a/x')).toBe(1);
    } finally {
      await lived.close();
    }
  });

  it('a read-only handle (through the writer\'s -wal) refuses its next read once the owner turns auditing on', async () => {
    const { store: owner, path, key } = await freshStore();
    await owner.put('a/x', 'v1');
    await following(owner, 'false');
    const consumer = await openStore(path, rawKey(key), { readOnly: true });
    try {
      expect(consumer.readOnly).toBe(true);
      expect((await consumer.get('a/x')).value.text()).toBe('v1');
      await following(owner, 'true');
      await expect(consumer.get('a/x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
      await expect(consumer.list()).rejects.toMatchObject({ code: 'E_READ_ONLY' });
      // As a fresh read-only open does.
      const fresh = await openStore(path, rawKey(key), { readOnly: true });
      try {
        await expect(fresh.get('a/x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
      } finally {
        await fresh.close();
      }
    } finally {
      await consumer.close();
    }
  });

  it('a read-only snapshot refuses its next read once a writer turns auditing on', async () => {
    const { store: first, path, key } = await freshStore();
    await first.put('a/x', 'v1');
    await following(first, 'false');
    await first.close(); // no -wal left: the consumer reads a snapshot
    const consumer = await openStore(path, rawKey(key), { readOnly: true });
    try {
      expect((await consumer.get('a/x')).value.text()).toBe('v1');
      const owner = await openStore(path, rawKey(key));
      await following(owner, 'true');
      await owner.close();
      await expect(consumer.get('a/x')).rejects.toMatchObject({ code: 'E_READ_ONLY' });
    } finally {
      await consumer.close();
    }
  });
});
