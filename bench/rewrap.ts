/**
 * rotate-keys' rewrap vs its floor, on a store of 100,000 versions (20,000
 * secrets × 5), in versions per second.
 *
 * floor-rewrap: the least a rewrap must do, on a plain table of the same
 * 100,000 sealed 64-byte values: in transactions of the same batch size,
 * aead.open under the old key, aead.seal under the new, UPDATE the row
 * (WAL, synchronous=FULL, one commit per batch).
 *
 * rewrap: `store.rotateKeys()` on the store (new primary, then every version
 * rewrapped in batches, with its pause between batches for other writers).
 * Targets: 100,000 versions in ≤ 10 s and ≤ 2× the floor's time. Also the
 * process's RSS growth during the rotation (should be flat however many
 * versions) and the longest batch (what a concurrent writer may wait).
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { initStore, openStore, rawKey, type Store } from '../src/index.js';
import { open, seal } from '../src/crypto/aead.js';
import { randomBytes } from '../src/crypto/random.js';
import { nameOf, valueOf } from './data.js';
import { check, equalBytes, now, QUICK, removeDir, scratchDir, size, type Row } from './harness.js';
import { copyDatabase, openFloor, ramDir } from './sqlite.js';

const TARGET_SECONDS = 10;
const TARGET_RATIO = 2;
const VERSIONS_PER_SECRET = 5;
const BATCH = 200;

async function populate(secrets: number, master: Uint8Array, workDir: string): Promise<string> {
  const ram = ramDir();
  const buildDir = ram ? mkdtempSync(join(ram, 'strongbox-bench-rewrap-')) : workDir;
  try {
    const store = await initStore(join(buildDir, 'store.db'), rawKey(master));
    await store.setConfig('audit.reads', 'false');
    for (let v = 0; v < VERSIONS_PER_SECRET; v++) {
      for (let i = 0; i < secrets; i++) await store.put(nameOf(i), valueOf(i * VERSIONS_PER_SECRET + v));
    }
    await store.close();
    return ram ? copyDatabase(join(buildDir, 'store.db'), workDir, 'store.db') : join(buildDir, 'store.db');
  } finally {
    if (ram) removeDir(buildDir);
  }
}

export async function benchRewrap(): Promise<Row[]> {
  const secrets = size(20_000, 500);
  const versions = secrets * VERSIONS_PER_SECRET;
  const dir = scratchDir('rewrap');
  const floor = openFloor(join(dir, 'floor.db'), 'FULL');
  let store: Store | undefined;
  try {
    // The floor table: the same number of sealed values.
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const aad = randomBytes(80);
    floor.db.transaction(() => {
      for (let i = 0; i < versions; i++) floor.insert.run(`${nameOf(i)}`, seal(oldKey, valueOf(i), aad));
    })();
    const select = floor.db.prepare<[number, number], { rowid: number; value: Buffer }>('SELECT rowid, value FROM t WHERE rowid > ? ORDER BY rowid LIMIT ?');
    const update = floor.db.prepare<[Uint8Array, number]>('UPDATE t SET value = ? WHERE rowid = ?');
    const t0 = now();
    let last = 0;
    let moved = 0;
    for (;;) {
      const n = floor.db.transaction(() => {
        const rows = select.all(last, BATCH);
        for (const r of rows) update.run(seal(newKey, open(oldKey, r.value, aad), aad), r.rowid);
        if (rows.length) last = rows[rows.length - 1]!.rowid;
        return rows.length;
      })();
      moved += n;
      if (n < BATCH) break;
    }
    const floorMs = now() - t0;
    check(moved === versions, `floor-rewrap: ${versions} rows rewrapped`);
    check(equalBytes(open(newKey, floor.select.get(nameOf(7))!, aad), valueOf(7)), 'floor-rewrap: a row opens under the new key');

    const master = randomBytes(32);
    const path = await populate(secrets, master, dir);
    store = await openStore(path, rawKey(master));
    await store.setConfig('audit.reads', 'false');
    check((await store.status()).versions === versions, `rewrap: the store holds ${versions} versions`);
    const rss0 = process.memoryUsage().rss;
    let rssPeak = rss0;
    const t1 = now();
    const report = await store.rotateKeys({ batchSize: BATCH, onProgress: () => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); } });
    const rewrapMs = now() - t1;
    check(report.rewrapped === versions && report.retired.length === 1, `rewrap: ${report.rewrapped} of ${versions} rewrapped, old key retired`);
    const keys = await store.keys();
    check(keys.find((k) => k.status === 'primary')?.versions === versions, 'rewrap: every version is under the new primary');
    for (const i of [0, secrets >> 1, secrets - 1]) {
      const got = await store.get(nameOf(i));
      check(equalBytes(got.value.expose(), valueOf(i * VERSIONS_PER_SECRET + VERSIONS_PER_SECRET - 1)), `rewrap: ${nameOf(i)} reads back`);
    }
    const ratio = rewrapMs / floorMs;
    const seconds = rewrapMs / 1000;
    const scaled = QUICK ? '' : ` (${versions.toLocaleString('en-US')} versions)`;
    return [
      {
        name: 'floor-rewrap',
        opsPerSec: versions / (floorMs / 1000),
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `open + seal + UPDATE, ${BATCH} per transaction, synchronous=FULL, ${(floorMs / 1000).toFixed(2)} s`,
      },
      {
        name: 'rewrap (rotate-keys)',
        opsPerSec: versions / seconds,
        ratio,
        ratioKind: 'time',
        floor: 'floor-rewrap',
        target: `≤ ${TARGET_SECONDS} s${scaled} and ≤ ${TARGET_RATIO}× floor`,
        mark: (QUICK || seconds <= TARGET_SECONDS) && ratio <= TARGET_RATIO ? 'pass' : 'FAIL',
        detail: `${seconds.toFixed(2)} s, ${report.batches} batches, longest ${report.longestBatchMs.toFixed(1)} ms; RSS +${((rssPeak - rss0) / 1024 ** 2).toFixed(0)} MiB`,
      },
    ];
  } finally {
    await store?.close();
    floor.db.close();
    removeDir(dir);
  }
}
