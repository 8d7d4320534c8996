/**
 * floor-get vs library get, on 100,000 secrets of 64 bytes read in a fixed
 * random order.
 *
 * floor-get: better-sqlite3 point read by name from a plain
 * `t(name TEXT PRIMARY KEY, value BLOB)` WAL table (each value sealed by
 * src/crypto/aead.ts under one key, with an AAD of the same length as the
 * store's), then aead.open of that blob.
 *
 * get: `await store.get(name)` on a store holding the same number of secrets.
 * The store is built through the public API, put() after put(), each its own
 * synchronous=FULL commit, but in a RAM directory (/dev/shm) where fsync is
 * free; the closed file is then copied next to the floor's file on disk and
 * reopened with openStore. Both files live in the same temp dir.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { initStore, openStore, rawKey, type Store } from '../src/index.js';
import { open, seal } from '../src/crypto/aead.js';
import { aadFor } from '../src/crypto/aad.js';
import { encodeHeader } from '../src/crypto/format.js';
import { randomBytes } from '../src/crypto/random.js';
import { expectedSum, nameOf, readOrder, VALUE_BYTES, valueOf } from './data.js';
import { check, equalBytes, now, paired, QUICK, removeDir, scratchDir, size, type Row } from './harness.js';
import { copyDatabase, openFloor, ramDir, type FloorDb } from './sqlite.js';

const TARGET_RATIO = 0.6;

/** The length of the AAD the store builds for one of our names, so the floor's AEAD does the same work. */
function storeAadLength(): number {
  return aadFor(encodeHeader(1), new Uint8Array(16), nameOf(0), 1).length;
}

/** Build a store of `rows` secrets with put(), in RAM when we can; returns the rate and where it was built. */
async function populate(rows: number, master: Uint8Array, workDir: string, valueBytes = VALUE_BYTES, file = 'store.db'): Promise<{ path: string; rate: number; where: string }> {
  const ram = ramDir();
  const buildDir = ram ? mkdtempSync(join(ram, 'strongbox-bench-build-')) : workDir;
  const built = join(buildDir, file);
  try {
    const store = await initStore(built, rawKey(master));
    const t0 = now();
    for (let i = 0; i < rows; i++) await store.put(nameOf(i), valueOf(i, valueBytes));
    const rate = rows / ((now() - t0) / 1000);
    await store.close();
    const path = ram ? copyDatabase(built, workDir, file) : built;
    return { path, rate, where: ram ? `${ram} (tmpfs), then copied` : `${workDir} (disk: no tmpfs found)` };
  } finally {
    if (ram) removeDir(buildDir);
  }
}

export async function benchGet(notes: string[]): Promise<Row[]> {
  const rows = size(100_000, 1_000);
  const ops = size(50_000, 2_000);
  const rounds = QUICK ? 3 : 5;
  const dir = scratchDir('get');
  let store: Store | undefined;
  const floor = openFloor(join(dir, 'floor.db'));
  try {
    const names = Array.from({ length: rows }, (_, i) => nameOf(i));

    // floor table: the same names and values, sealed with the same primitive.
    const key = randomBytes(32);
    const aad = randomBytes(storeAadLength());
    floor.db.transaction(() => {
      for (let i = 0; i < rows; i++) floor.insert.run(names[i]!, seal(key, valueOf(i), aad));
    })();
    check(floor.count() === rows, `floor-get: table holds ${rows} rows`);

    const master = randomBytes(32);
    const built = await populate(rows, master, dir);
    store = await openStore(built.path, rawKey(master));
    // The get path itself (one read, one AEAD open): reads not audited here;
    // the audited default is measured below as its own row.
    await store.setConfig('audit.reads', 'false');
    const st = await store.status();
    check(st.secrets === rows && st.liveVersions === rows, `get: store holds ${rows} live secrets`);

    const order = readOrder(Math.max(ops * 4, 100_000), rows);

    // Check before timing: sampled names read back their own values, on both sides.
    for (let k = 0; k < Math.min(1_000, rows); k++) {
      const i = order[order.length - 1 - k]!;
      const want = valueOf(i);
      check(equalBytes(open(key, floor.select.get(names[i]!)!, aad), want), `floor-get: ${names[i]} reads back its value`);
      const got = await store.get(names[i]!);
      check(got.version === 1 && equalBytes(got.value.expose(), want), `get: ${names[i]} reads back its value`);
    }

    const loops = new ReadLoops(floor, key, aad, names, order);
    const r = await paired(rounds, ops, loops.floorLoop, loops.storeLoop(store), Math.min(ops, 20_000));
    loops.check('get');

    // The default: every read also appends an audit entry (a write transaction, not fsynced).
    await store.setConfig('audit.reads', 'true');
    const auditedOps = Math.max(200, Math.floor(ops / 10));
    loops.reset();
    const ra = await paired(rounds, auditedOps, loops.floorLoop, loops.storeLoop(store), Math.min(auditedOps, 2_000));
    loops.check('get (audited)');

    // The opt-in read cache, every name already in it: a timed read is a hit (a copy out of a Map).
    await store.setConfig('audit.reads', 'false');
    const cachedStore = await openStore(built.path, rawKey(master), { cache: { ttlMs: 3_600_000, maxEntries: rows } });
    let rc: Awaited<ReturnType<typeof paired>>;
    try {
      for (const n of names) await cachedStore.get(n);
      loops.reset();
      rc = await paired(rounds, ops, loops.floorLoop, loops.storeLoop(cachedStore), Math.min(ops, 20_000));
      loops.check('get (cached)');
      const stats = cachedStore.cacheStats()!;
      check(stats.misses === rows && stats.hits === loops.storeReads, 'get (cached): every timed read was a cache hit');
    } finally {
      await cachedStore.close();
    }

    if (!built.where.includes('tmpfs')) notes.push(`get: the ${rows}-secret store was built on disk (no tmpfs): populate rate is fsync-bound`);
    const large = await largeValueRows(dir, rounds);
    return [
      {
        name: 'populate: put() ×' + rows.toLocaleString('en-US'),
        opsPerSec: built.rate,
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `one commit each, synchronous=FULL, built in ${built.where}`,
      },
      {
        name: 'floor-get',
        opsPerSec: r.floor,
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `sqlite point read + aead open, ${rows.toLocaleString('en-US')} rows`,
      },
      {
        name: 'get',
        opsPerSec: r.subject,
        ratio: r.ratio,
        ratioKind: 'throughput',
        floor: 'floor-get',
        target: `≥ ${TARGET_RATIO * 100} % of floor-get`,
        mark: r.ratio >= TARGET_RATIO ? 'pass' : 'FAIL',
        detail: `await store.get(name), audit.reads false, ${rows.toLocaleString('en-US')} secrets, ${r.rounds}×${ops.toLocaleString('en-US')} reads/side`,
      },
      {
        name: 'get, reads audited (default)',
        opsPerSec: ra.subject,
        ratio: ra.ratio,
        ratioKind: 'throughput',
        floor: 'floor-get',
        target: '—',
        mark: 'info',
        detail: `each get also appends a chained audit entry in a write transaction (synchronous=NORMAL)`,
      },
      {
        name: 'get, read cache (hits)',
        opsPerSec: rc.subject,
        ratio: rc.ratio,
        ratioKind: 'throughput',
        floor: 'floor-get',
        target: '—',
        mark: 'info',
        detail: `openStore(..., { cache: { ttlMs, maxEntries: ${rows.toLocaleString('en-US')} } }), every name cached: a copy from memory per get`,
      },
      ...large,
    ];
  } finally {
    await store?.close();
    floor.db.close();
    removeDir(dir);
  }
}

/**
 * The paired read loops over `order`: the floor's read and open, and a
 * store's get. Each folds every value's first byte into a sum, which check()
 * holds against the values written: every timed read was real and returned
 * its own value.
 */
class ReadLoops {
  #floorPos = 0;
  #floorSum = 0;
  #storePos = 0;
  #storeSum = 0;

  constructor(
    private readonly floor: FloorDb, private readonly key: Uint8Array, private readonly aad: Uint8Array,
    private readonly names: string[], private readonly order: Uint32Array,
  ) {}

  readonly floorLoop = (n: number): void => {
    for (let k = 0; k < n; k++) {
      const blob = this.floor.select.get(this.names[this.order[this.#floorPos++ % this.order.length]!]!)!;
      this.#floorSum += open(this.key, blob, this.aad)[0]!;
    }
  };

  storeLoop(store: Store): (n: number) => Promise<void> {
    return async (n) => {
      for (let k = 0; k < n; k++) {
        const v = await store.get(this.names[this.order[this.#storePos++ % this.order.length]!]!);
        this.#storeSum += v.value.expose()[0]!;
      }
    };
  }

  /** How many reads the store's loop has made since the last reset. */
  get storeReads(): number {
    return this.#storePos;
  }

  check(what: string): void {
    check(this.#floorSum === expectedSum(this.order, 0, this.#floorPos), `the floor of ${what}: every timed read returned its value`);
    check(this.#storeSum === expectedSum(this.order, 0, this.#storePos), `${what}: every timed read returned its value`);
  }

  reset(): void {
    this.#floorPos = this.#floorSum = this.#storePos = this.#storeSum = 0;
  }
}

const LARGE_VALUE_BYTES = 2048;

/**
 * get and list with values of 2 KiB (a certificate, a JSON secret of a few
 * fields), where a version row no longer fits the ~1,000 bytes a table
 * WITHOUT ROWID keeps in its b-tree (the versions table until schema 10): the
 * floor is the same plain table with values of that size, so the ratio shows
 * what the store's own layout costs beyond the bigger AEAD open. Held to the
 * same target as get: the schema-9 layout read at 59 % of it (list 1.13 s
 * for these 20,000 names), schema 10 at 72 % (0.54 s).
 */
async function largeValueRows(dir: string, rounds: number): Promise<Row[]> {
  const rows = size(20_000, 500);
  const ops = size(20_000, 1_000);
  const floor = openFloor(join(dir, 'floor-large.db'));
  let store: Store | undefined;
  try {
    const names = Array.from({ length: rows }, (_, i) => nameOf(i));
    const key = randomBytes(32);
    const aad = randomBytes(storeAadLength());
    floor.db.transaction(() => {
      for (let i = 0; i < rows; i++) floor.insert.run(names[i]!, seal(key, valueOf(i, LARGE_VALUE_BYTES), aad));
    })();
    const master = randomBytes(32);
    const built = await populate(rows, master, dir, LARGE_VALUE_BYTES, 'store-large.db');
    store = await openStore(built.path, rawKey(master));
    await store.setConfig('audit.reads', 'false');
    const order = readOrder(Math.max(ops * 4, 100_000), rows, 7);
    for (const i of [order[0]!, order[1]!, order[2]!]) {
      const want = valueOf(i, LARGE_VALUE_BYTES);
      check(equalBytes(open(key, floor.select.get(names[i]!)!, aad), want), `floor-get (2 KiB): ${names[i]} reads back its value`);
      check(equalBytes((await store.get(names[i]!)).value.expose(), want), `get (2 KiB): ${names[i]} reads back its value`);
    }
    const loops = new ReadLoops(floor, key, aad, names, order);
    const r = await paired(rounds, ops, loops.floorLoop, loops.storeLoop(store), Math.min(ops, 5_000));
    loops.check('get (2 KiB)');

    // list reads every name's metadata and no value: the time for all of them, best of three.
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t0 = now();
      const listed = await store.list();
      best = Math.min(best, now() - t0);
      check(listed.length === rows, `list (2 KiB): ${rows} names`);
    }
    return [
      {
        name: 'floor-get, 2 KiB values', opsPerSec: r.floor, ratio: null, target: '—', mark: 'info',
        detail: `the same plain table and aead open, ${rows.toLocaleString('en-US')} rows of 2,048-byte values`,
      },
      {
        name: 'get, 2 KiB values', opsPerSec: r.subject, ratio: r.ratio, ratioKind: 'throughput', floor: 'floor-get, 2 KiB values',
        target: `≥ ${TARGET_RATIO * 100} % of floor-get, 2 KiB values`, mark: r.ratio >= TARGET_RATIO ? 'pass' : 'FAIL',
        detail: `await store.get(name), audit.reads false, ${rows.toLocaleString('en-US')} secrets, ${r.rounds}×${ops.toLocaleString('en-US')} reads/side`,
      },
      {
        name: 'list, 2 KiB values', opsPerSec: rows / (best / 1000), ratio: null, target: '—', mark: 'info',
        detail: `await store.list() of all ${rows.toLocaleString('en-US')} names (no values read): ${best.toFixed(0)} ms, names/s shown`,
      },
    ];
  } finally {
    await store?.close();
    floor.db.close();
  }
}
