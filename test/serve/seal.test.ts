/**
 * The sealed state in-process, over a real key-file store whose key file is
 * moved away and back: which failures seal and which end the start, how
 * often requests and the background timer try to open the store, and that
 * the store it opened is closed with it. (operation.test.ts runs the same
 * through `store serve` and `store unlock`.)
 */
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeyFile, keyFile, openStore } from '../../src/index.js';
import { Unsealer, RETRY_EVERY_MS, sealedResponse } from '../../src/serve/seal.js';
import { codeOfAsync } from '../helpers/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { newKeyfileStore } from './serve-child.js';
import type { Store } from '../../src/index.js';
import type { HttpRequest } from '../../src/serve/http/types.js';

/** An Unsealer over the store, its key file moved away; `opens` counts the tries. */
async function sealedStore() {
  const { storePath, keyPath } = await newKeyfileStore(tempDir());
  const away = `${keyPath}.away`;
  renameSync(keyPath, away);
  const clock = { t: 0 };
  const counts = { opens: 0 };
  const errors: string[] = [];
  let opened: Store | undefined;
  const unsealer = new Unsealer<string>({
    open: async () => {
      counts.opens++;
      return openStore(storePath, keyFile(keyPath));
    },
    ready: async (store) => {
      opened = store;
      return (await store.status()).storeId;
    },
    onRetryError: (e) => errors.push(e.message),
    now: () => clock.t,
  });
  return { unsealer, clock, counts, errors, storePath, keyPath, putKeyBack: () => renameSync(away, keyPath), opened: () => opened };
}

describe('Unsealer', () => {
  it('a request tries again at most once a second, and requests during a try wait for that one', async () => {
    const s = await sealedStore();
    try {
      expect(await s.unsealer.first()).toBeUndefined();
      expect(s.counts.opens).toBe(1);
      expect(s.unsealer.sealedBecause).toMatch(/key file .*no such file/);
      s.clock.t = 999;
      expect(await s.unsealer.unsealedForRequest()).toBeUndefined();
      expect(s.counts.opens, 'under a second since the last try: no new one').toBe(1);
      s.clock.t = 1000;
      expect(await s.unsealer.unsealedForRequest()).toBeUndefined();
      expect(s.counts.opens).toBe(2);

      s.putKeyBack();
      s.clock.t = 1500;
      expect(await s.unsealer.unsealedForRequest(), 'no try is due yet').toBeUndefined();
      s.clock.t = 2000;
      const [a, b] = await Promise.all([s.unsealer.unsealedForRequest(), s.unsealer.unsealedForRequest()]);
      expect(a).toMatch(/^[0-9a-f-]{8,}/);
      expect(b).toBe(a);
      expect(s.counts.opens, 'both requests waited for one try').toBe(3);
      expect(s.unsealer.served).toBe(a);
      expect(s.unsealer.sealedBecause).toBe('');
      s.clock.t = 60_000;
      await s.unsealer.unsealedForRequest();
      expect(s.counts.opens, 'open: no more tries').toBe(3);
      expect(s.errors).toEqual([]);
    } finally {
      await s.unsealer.close();
    }
    expect(await codeOfAsync(() => s.opened()!.list()), 'closed with the unsealer').toBe('E_CLOSED');
  });

  it('tries on its own every 2 s until the store opens', async () => {
    const s = await sealedStore();
    try {
      expect(await s.unsealer.first()).toBeUndefined();
      s.unsealer.retryInBackground();
      s.putKeyBack();
      const started = Date.now();
      while (!s.unsealer.served) {
        expect(Date.now() - started).toBeLessThan(3 * RETRY_EVERY_MS);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(s.counts.opens).toBe(2);
      await new Promise((r) => setTimeout(r, RETRY_EVERY_MS + 200));
      expect(s.counts.opens, 'the timer stops once open').toBe(2);
    } finally {
      await s.unsealer.close();
    }
  });

  it('says once what else keeps a later try from opening the store, and stays sealed', async () => {
    const s = await sealedStore();
    try {
      expect(await s.unsealer.first()).toBeUndefined();
      rmSync(s.storePath);
      s.putKeyBack();
      for (const t of [1000, 2000, 3000]) {
        s.clock.t = t;
        expect(await s.unsealer.unsealedForRequest()).toBeUndefined();
      }
      expect(s.counts.opens).toBe(4);
      expect(s.errors).toHaveLength(1);
      expect(s.unsealer.sealedBecause).toBe(s.errors[0]);
    } finally {
      await s.unsealer.close();
    }
  });

  it('a wrong key, or no store, ends the first try instead of sealing', async () => {
    const { storePath, keyPath, dir } = await newKeyfileStore(tempDir());
    const otherKey = join(dir, 'other.key');
    createKeyFile(otherKey);
    const unsealerWith = (path: string, key: string) => new Unsealer({ open: () => openStore(path, keyFile(key)), ready: async () => 'served', now: Date.now });
    expect(await codeOfAsync(() => unsealerWith(storePath, otherKey).first())).toBe('E_WRONG_MASTER_KEY');
    expect(await codeOfAsync(() => unsealerWith(join(dir, 'absent.db'), keyPath).first())).toBe('E_NO_STORE');
  });
});

describe('sealedResponse', () => {
  const req = (method: string, target: string): HttpRequest => {
    const url = new URL(target, 'http://x');
    return { method, target, path: url.pathname, query: url.searchParams, headers: {}, body: Buffer.alloc(0), remoteAddress: '127.0.0.1' };
  };

  it('reports the seal on sys/health and refuses everything else with 503', () => {
    const health = sealedResponse(req('GET', '/v1/sys/health'), { nowMs: 1_700_000_000_000, version: '1.2.3' });
    expect(health.status).toBe(503);
    expect(JSON.parse(String(health.body))).toEqual({
      initialized: true, sealed: true, standby: false, performance_standby: false,
      replication_performance_mode: 'disabled', replication_dr_mode: 'disabled', server_time_utc: 1_700_000_000, version: '1.2.3',
    });
    expect(sealedResponse(req('HEAD', '/v1/sys/health?sealedcode=200'), { nowMs: 0, version: 'x' }).status).toBe(200);
    expect(sealedResponse(req('GET', '/v1/sys/health?sealedcode=abc'), { nowMs: 0, version: 'x' }).status).toBe(400);
    // Only codes a response can carry: anything else would fail when the answer is written.
    for (const q of ['sealedcode=999', 'sealedcode=100', 'sealedcode=000', 'activecode=600']) {
      const r = sealedResponse(req('GET', `/v1/sys/health?${q}`), { nowMs: 0, version: 'x' });
      expect(r.status, q).toBe(400);
      expect(JSON.parse(String(r.body)).errors[0], q).toMatch(/code must be an HTTP status code from 200 to 599$/);
    }
    for (const [method, target] of [['POST', '/v1/sys/health'], ['GET', '/v1/secret/data/a'], ['LIST', '/v1/secret/metadata'], ['GET', '/']]) {
      const r = sealedResponse(req(method!, target!), { nowMs: 0, version: 'x' });
      expect(r.status).toBe(503);
      expect(r.headers?.['Content-Type']).toBe('application/json');
      expect(JSON.parse(String(r.body))).toEqual({ errors: ['Vault is sealed'] });
    }
  });
});
