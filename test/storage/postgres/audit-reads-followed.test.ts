/**
 * A long-lived store in PostgreSQL follows audit.reads changed by another
 * host: once the server's notification of the change arrives, its reads are
 * audited (src/store/store.ts, #headerStale).
 */
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeyFile, initStore, keyFile, openStore, type Store } from '../../../src/index.js';
import { freshDatabase } from '../../helpers/postgres.js';
import { tempDir } from '../../helpers/tmp.js';
import { FOLLOW_MS } from '../../../src/store/store.js';

/** Set audit.reads through `store`, then wait as long as a long-lived Store may take to follow it (FOLLOW_MS). */
async function following(store: { setConfig(key: 'audit.reads', value: string): Promise<unknown> }, value: 'true' | 'false'): Promise<void> {
  await store.setConfig('audit.reads', value);
  await new Promise((resolve) => setTimeout(resolve, FOLLOW_MS + 20));
}

const NOTICE_MS = 5_000;

async function until(what: string, fn: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + NOTICE_MS;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`not within ${NOTICE_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function gets(store: Store): Promise<number> {
  let n = 0;
  for await (const e of store.auditEntries({ action: 'get' })) if (e.outcome === 'ok') n++;
  return n;
}

describe('audit.reads set by another host, on PostgreSQL', () => {
  it('a long-lived store opened with audit.reads=false audits its reads once another turns it on', async () => {
    const db = await freshDatabase();
    const key = join(tempDir(), 'master.key');
    createKeyFile(key);
    const owner = await initStore(db.url, keyFile(key));
    onTestFinished(() => owner.close());
    await owner.put('app/db', 'one');
    await following(owner, 'false');
    const lived = await openStore(db.url, keyFile(key));
    onTestFinished(() => lived.close());
    await lived.get('app/db'); // starts its change detector
    await until('the detector listens', () => lived.changeCounter() !== undefined);
    await lived.get('app/db');
    expect(await gets(owner)).toBe(0);

    await following(owner, 'true');
    await until('its gets are audited', async () => {
      await lived.get('app/db');
      return (await gets(owner)) > 0;
    });
    const before = await gets(owner);
    await lived.get('app/db');
    expect(await gets(owner)).toBe(before + 1);
  });
});
