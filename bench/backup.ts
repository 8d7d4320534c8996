/**
 * floor-copy vs backup, on a store of 100,000 versions (20,000 secrets × 5).
 *
 * floor-copy: `fs.copyFileSync` of the store file to a new file in the same
 * directory: the least any backup must do (no fsync, no consistency under
 * writers). Its detail also gives the copy followed by an fsync.
 *
 * backup: `backupStore(store, file)`: SQLite's online backup API into a new
 * 0600 file, the copy switched to a single-file journal mode, fsync of the
 * file and its directory, then linked into place. Target: at most 3× the
 * floor's time: the median over alternating rounds of backup ÷ copy, only
 * the copying timed (not removing the previous round's file).
 *
 * verify --deep: `verifyStore(store, { deep: true })` over the same store,
 * every version decrypted (context: versions per second).
 *
 * The store is built through the public API (one put() per version) in a RAM
 * directory when there is one, then copied next to the floor's file on disk.
 * Before timing, a backup is opened and checked: same version count, a sample
 * of values read back.
 */
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { backupStore, initStore, openStore, rawKey, verifyStore, type Store } from '../src/index.js';
import { randomBytes } from '../src/crypto/random.js';
import { nameOf, valueOf } from './data.js';
import { check, equalBytes, median, now, QUICK, removeDir, scratchDir, size, type Row } from './harness.js';
import { copyDatabase, ramDir } from './sqlite.js';

const TARGET_TIME_RATIO = 3;
const VERSIONS_PER_SECRET = 5;

/** Version `v` (1-based) of secret `s` holds valueOf of this index. */
const indexOf = (s: number, v: number, secrets: number) => (v - 1) * secrets + s;

async function populate(versions: number, master: Uint8Array, workDir: string): Promise<{ path: string; secrets: number }> {
  const secrets = Math.max(1, Math.round(versions / VERSIONS_PER_SECRET));
  const ram = ramDir();
  const buildDir = ram ? mkdtempSync(join(ram, 'strongbox-bench-backup-')) : workDir;
  try {
    const store = await initStore(join(buildDir, 'store.db'), rawKey(master));
    for (let v = 1; v <= VERSIONS_PER_SECRET; v++) {
      for (let s = 0; s < secrets; s++) await store.put(nameOf(s), valueOf(indexOf(s, v, secrets)));
    }
    await store.close();
    return { path: ram ? copyDatabase(join(buildDir, 'store.db'), workDir, 'store.db') : join(buildDir, 'store.db'), secrets };
  } finally {
    if (ram) removeDir(buildDir);
  }
}

const mbps = (bytes: number, perSec: number) => (bytes * perSec) / 1e6;

export async function benchBackup(): Promise<Row[]> {
  const versions = size(100_000, 10_000);
  const rounds = QUICK ? 3 : 7;
  const dir = scratchDir('backup');
  let store: Store | undefined;
  try {
    const master = randomBytes(32);
    const built = await populate(versions, master, dir);
    store = await openStore(built.path, rawKey(master));
    const bytes = statSync(built.path).size;

    // Check before timing: a backup opens and holds every version.
    const probe = join(dir, 'probe.db');
    await backupStore(store, probe);
    const copy = await openStore(probe, rawKey(master));
    try {
      const st = await copy.status();
      check(st.versions === built.secrets * VERSIONS_PER_SECRET, `backup: holds all ${versions} versions (found ${st.versions})`);
      for (let k = 0; k < Math.min(500, built.secrets); k++) {
        const s = (k * 7919) % built.secrets;
        const v = 1 + (k % VERSIONS_PER_SECRET);
        const got = await copy.get(nameOf(s), { version: v });
        check(equalBytes(got.value.expose(), valueOf(indexOf(s, v, built.secrets))), `backup: ${nameOf(s)}@${v} reads back its value`);
      }
    } finally {
      await copy.close();
      rmSync(probe, { force: true });
    }

    // Alternating rounds (the order rotates), one warm-up each; only the copy itself is timed, never the
    // removal of the previous round's file. Each round's ratio is backup ÷ copy of that round.
    const sides = {
      copy: () => copyFileSync(built.path, join(dir, 'copy.db')),
      copyFsync: () => {
        const to = join(dir, 'copy.db');
        copyFileSync(built.path, to);
        const fd = openSync(to, 'r+');
        fsyncSync(fd);
        closeSync(fd);
      },
      backup: () => backupStore(store!, join(dir, 'copy.db')),
    };
    const order = Object.keys(sides) as (keyof typeof sides)[];
    const ms: Record<keyof typeof sides, number[]> = { copy: [], copyFsync: [], backup: [] };
    for (let round = -1; round < rounds; round++) {
      for (let k = 0; k < order.length; k++) {
        const side = order[(k + Math.max(0, round)) % order.length]!;
        rmSync(join(dir, 'copy.db'), { force: true });
        const t = now();
        await sides[side]();
        if (round >= 0) ms[side].push(now() - t);
      }
    }
    rmSync(join(dir, 'copy.db'), { force: true });
    const timeRatio = median(ms.backup.map((b, i) => b / ms.copy[i]!));
    const fsyncRatio = median(ms.backup.map((b, i) => b / ms.copyFsync[i]!));
    const r = { floor: 1000 / median(ms.copy), subject: 1000 / median(ms.backup), rounds };

    const t0 = now();
    const deep = await verifyStore(store, { deep: true });
    const deepMs = now() - t0;
    check(deep.ok && deep.decrypted === built.secrets * VERSIONS_PER_SECRET, 'verify --deep: every version decrypts');

    const mib = (bytes / (1024 * 1024)).toFixed(1);
    return [
      {
        name: 'floor-copy',
        opsPerSec: r.floor,
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `fs.copyFileSync of the ${mib} MiB store file (no fsync): ${mbps(bytes, r.floor).toFixed(0)} MB/s, ${median(ms.copy).toFixed(0)} ms; with fsync ${median(ms.copyFsync).toFixed(0)} ms`,
        extra: { MBps: mbps(bytes, r.floor), bytes, ms: median(ms.copy), fsyncMs: median(ms.copyFsync) },
      },
      {
        name: `backup ${versions.toLocaleString('en-US')} versions`,
        opsPerSec: r.subject,
        ratio: timeRatio,
        ratioKind: 'time',
        floor: 'floor-copy',
        target: `≤ ${TARGET_TIME_RATIO}× floor-copy`,
        mark: timeRatio <= TARGET_TIME_RATIO ? 'pass' : 'FAIL',
        detail: `backupStore, ${mib} MiB: ${mbps(bytes, r.subject).toFixed(0)} MB/s, ${median(ms.backup).toFixed(0)} ms; ${fsyncRatio.toFixed(2)}× copy+fsync; ${r.rounds} rounds/side`,
        extra: { MBps: mbps(bytes, r.subject), bytes, ms: median(ms.backup), ratioToCopyFsync: fsyncRatio },
      },
      {
        name: `verify --deep ${versions.toLocaleString('en-US')} versions`,
        opsPerSec: deep.decrypted / (deepMs / 1000),
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `verifyStore deep: every version decrypted in ${(deepMs / 1000).toFixed(2)} s`,
      },
    ];
  } finally {
    await store?.close();
    removeDir(dir);
  }
}
