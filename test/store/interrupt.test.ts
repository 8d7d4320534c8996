/**
 * Stopping long work with an AbortSignal (what Ctrl-C does in the CLI):
 * rotateKeys stops between two batches and a later run resumes; an import
 * stops before its one write transaction with nothing written.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BundleKey, Store } from '../../src/index.js';
import { everyValue, freshStore } from '../helpers/store.js';
import { rejectionError } from '../helpers/errors.js';

const PW: BundleKey = { passphrase: 'correct horse battery staple', scrypt: { logN: 15 } };

async function fill(store: Store, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await store.put(`s/${i % 7}`, `value-${i}`);
}

async function audited(store: Store, action: string) {
  const entries = [];
  for await (const e of store.auditEntries({ action })) entries.push(e);
  return entries;
}

describe('rotateKeys with a signal', () => {
  // With a worker, the third batch is already read and sealed there when the signal comes: it is dropped unwritten.
  it.each([false, true])('stops between two batches (sealing in a worker: %s): whole batches rewrapped, the report says so, a run that makes no key finishes', async (parallel) => {
    const { store } = await freshStore();
    await fill(store, 50);
    const before = await everyValue(store);
    const controller = new AbortController();
    const r = await store.rotateKeys({
      batchSize: 10, signal: controller.signal, parallel,
      onProgress: (done) => {
        if (done >= 20) controller.abort(); // as a Ctrl-C during the third batch's pause would
      },
    });
    expect(r).toMatchObject({ rotated: true, primaryVersion: 2, rewrapped: 20, toRewrap: 50, interrupted: true, batches: 2, retired: [], parallel });
    expect((await store.keys()).map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'active', 30], [2, 'primary', 20]]);
    expect(await everyValue(store)).toEqual(before); // both keys still open what they hold
    expect((await audited(store, 'rotate-keys')).at(-1)).toMatchObject({ outcome: 'E_INTERRUPTED', detail: 'primary key 2 (new); rewrapped 20 of 50, interrupted with 30 left' });

    const resumed = await store.rotateKeys({ ifOlderThanMs: Infinity, batchSize: 10 });
    expect(resumed).toMatchObject({ rotated: false, primaryVersion: 2, rewrapped: 30, toRewrap: 30, interrupted: false, retired: [1] });
    expect((await store.keys()).map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'retired', 0], [2, 'primary', 50]]);
    expect(await everyValue(store)).toEqual(before);
    expect((await store.verify({ deep: true })).ok).toBe(true);
  });

  it('aborted before it holds the lock: no new key, nothing rewrapped, reported as interrupted', async () => {
    const { store } = await freshStore();
    await fill(store, 5);
    const controller = new AbortController();
    controller.abort();
    const r = await store.rotateKeys({ signal: controller.signal });
    expect(r).toMatchObject({ rotated: false, primaryVersion: 1, rewrapped: 0, toRewrap: 0, interrupted: true });
    expect((await store.keys()).length).toBe(1);
  });

  it('an abort after the last batch changes nothing: the run is complete, not interrupted', async () => {
    const { store } = await freshStore();
    await fill(store, 20);
    const controller = new AbortController();
    const r = await store.rotateKeys({ batchSize: 10, signal: controller.signal, onProgress: (done, total) => done === total && controller.abort() });
    expect(r).toMatchObject({ rewrapped: 20, toRewrap: 20, interrupted: false, retired: [1] });
  });
});

describe('imports with a signal', () => {
  it('a bundle import aborted before its write writes nothing and says so (E_INTERRUPTED)', async () => {
    const { store: src, dir } = await freshStore();
    await fill(src, 600); // 7 secrets of 600 versions in all: more records than one look at the signal covers
    const file = join(dir, 'all.sbx');
    await src.exportBundle(file, { key: PW, allVersions: true });

    const { store: dst } = await freshStore();
    const controller = new AbortController();
    const e = await rejectionError(dst.importBundle(file, {
      signal: controller.signal,
      key: () => {
        controller.abort(); // a Ctrl-C while the passphrase is being derived
        return PW;
      },
    }));
    expect(e.code).toBe('E_INTERRUPTED');
    expect(e.message).toBe(`the import of ${file} was interrupted before anything was written: nothing was imported`);
    expect(await dst.list()).toEqual([]);
    // No secret imported; the attempt itself is in the log, as every failed change is.
    expect((await audited(dst, 'import')).map((e) => [e.outcome, e.name, e.versions])).toEqual([['E_INTERRUPTED', undefined, undefined]]);

    const done = await dst.importBundle(file, { key: PW, signal: new AbortController().signal });
    expect(done.created.length).toBe(7);
    expect(await everyValue(dst)).toEqual(await everyValue(src));
  });

  it('a plaintext import aborted before its write writes nothing', async () => {
    const { store, dir } = await freshStore();
    const file = join(dir, 'in.json');
    writeFileSync(file, JSON.stringify({ 'app/a': '1', 'app/b': '2' }));
    const controller = new AbortController();
    controller.abort();
    expect((await rejectionError(store.importPlain(file, { signal: controller.signal }))).code).toBe('E_INTERRUPTED');
    expect(await store.list()).toEqual([]);
  });
});
