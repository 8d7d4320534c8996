/**
 * export / import throughput, in versions per second, on disk.
 *
 * export: `exportStore(store, file, { allVersions: true })` of a store of
 * 20,000 secrets × 5 versions (100,000 versions, 64-byte values), sealed to a
 * key file (no scrypt in the timing). One read snapshot, records streamed.
 *
 * import: `importBundle` of that bundle into a fresh store: two passes over
 * the file (verify everything, then re-encrypt) and ONE write transaction.
 * Its floor is `put` measured here on the same disk (one durable commit per
 * version, the way the same versions would arrive one by one); target:
 * import ≥ 50 % of put's versions/s.
 *
 * Also a large-value row (1 MiB values, MB/s) and the process's peak RSS
 * growth during export and import, which shows that memory does not grow
 * with the store (records are written and read one by one).
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createKeyFile, exportStore, importBundle, importPlain, initStore, rawKey, type Store } from '../src/index.js';
import { randomBytes } from '../src/crypto/random.js';
import { nameOf, valueOf } from './data.js';
import { check, equalBytes, median, now, QUICK, removeDir, scratchDir, size, type Row } from './harness.js';

const TARGET_RATIO = 0.5;
const VERSIONS_PER_SECRET = 5;

function rssMiB(): number {
  return process.memoryUsage().rss / 1024 ** 2;
}

/** Peak RSS while `fn` runs, sampled every 5 ms and at the end. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssMiB();
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB());
  }, 5);
  try {
    const result = await fn();
    peak = Math.max(peak, rssMiB());
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

/** Values as text, so the populate step can go through importPlain (one transaction per round). */
function textValue(i: number, round: number): string {
  return Buffer.from(valueOf(i * VERSIONS_PER_SECRET + round)).toString('base64').slice(0, 64);
}

async function populate(store: Store, dir: string, secrets: number): Promise<void> {
  for (let round = 0; round < VERSIONS_PER_SECRET; round++) {
    const obj: Record<string, string> = {};
    for (let i = 0; i < secrets; i++) obj[nameOf(i)] = textValue(i, round);
    const file = join(dir, `populate-${round}.json`);
    writeFileSync(file, JSON.stringify(obj), { mode: 0o600 });
    await importPlain(store, file, { onConflict: 'new-version' });
    removeDir(file);
  }
}

export async function benchExport(notes: string[]): Promise<Row[]> {
  const secrets = size(20_000, 500);
  const versions = secrets * VERSIONS_PER_SECRET;
  const putOps = size(600, 60);
  const rounds = QUICK ? 3 : 5;
  const dir = scratchDir('export');
  const stores: Store[] = [];
  const open = async (name: string, options = {}) => {
    const s = await initStore(join(dir, name), rawKey(randomBytes(32)), options);
    stores.push(s);
    return s;
  };
  try {
    const recipient = join(dir, 'recipient.key');
    createKeyFile(recipient);
    const key = { keyFile: recipient };

    const src = await open('src.db');
    await populate(src, dir, secrets);
    const st = await src.status();
    check(st.secrets === secrets && st.versions === versions, `export: the source holds ${versions} versions`);

    // Check before timing: a small export round-trips exactly.
    const small = await open('small.db');
    for (let i = 0; i < 3; i++) await small.put(nameOf(i), valueOf(i));
    await exportStore(small, join(dir, 'small.sbx'), { key, allVersions: true });
    const smallDst = await open('small-dst.db');
    await importBundle(smallDst, join(dir, 'small.sbx'), { key });
    for (let i = 0; i < 3; i++) check(equalBytes((await smallDst.get(nameOf(i))).value.expose(), valueOf(i)), `export: ${nameOf(i)} round-trips`);

    // Export, timed.
    const rss0 = rssMiB();
    const bundle = join(dir, 'all.sbx');
    const t0 = now();
    const ex = await peakRss(() => exportStore(src, bundle, { key, allVersions: true }));
    const exportMs = now() - t0;
    check(ex.result.versions === versions, `export: ${ex.result.versions} of ${versions} versions written`);

    // Import, timed, into a fresh store on the same disk.
    const dst = await open('dst.db');
    const rss1 = rssMiB();
    const t1 = now();
    const im = await peakRss(() => importBundle(dst, bundle, { key }));
    const importMs = now() - t1;
    check(im.result.versions === versions && im.result.created.length === secrets, `import: ${im.result.versions} versions written`);
    const ds = await dst.status();
    check(ds.versions === versions, 'import: the target holds every version');
    for (const i of [0, secrets >> 1, secrets - 1]) {
      const got = await dst.get(nameOf(i));
      check(got.version === VERSIONS_PER_SECRET && got.value.text() === textValue(i, VERSIONS_PER_SECRET - 1), `import: ${nameOf(i)} reads back`);
    }

    // The floor: put, one durable commit per version, same disk.
    const putStore = await open('put.db');
    let n = 0;
    const value = valueOf(1);
    for (let k = 0; k < 50; k++) await putStore.put(`warm/${k}`, value);
    const putRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = now();
      for (let k = 0; k < putOps; k++) await putStore.put(nameOf(n++), value);
      putRates.push(putOps / ((now() - t) / 1000));
    }
    const putRate = median(putRates);
    check((await putStore.status()).versions === n + 50, 'put: every write landed');

    // Large values: 1 MiB each.
    const bigCount = size(64, 8);
    const big = await open('big.db', { maxValueBytes: 2 * 1024 * 1024 });
    const mib = new Uint8Array(1024 * 1024);
    for (let i = 0; i < bigCount; i++) {
      mib[0] = i;
      await big.put(`big/${i}`, mib);
    }
    const bigFile = join(dir, 'big.sbx');
    const t2 = now();
    await exportStore(big, bigFile, { key });
    const bigExportMs = now() - t2;
    const bigDst = await open('big-dst.db', { maxValueBytes: 2 * 1024 * 1024 });
    const t3 = now();
    await importBundle(bigDst, bigFile, { key });
    const bigImportMs = now() - t3;
    check((await bigDst.get('big/1')).value.expose()[0] === 1, 'import: a 1 MiB value reads back');

    const exportRate = versions / (exportMs / 1000);
    const importRate = versions / (importMs / 1000);
    const ratio = importRate / putRate;
    const mb = (ms: number) => `${(bigCount / (ms / 1000)).toFixed(0)} MB/s`;
    notes.push(`export: the bundle of ${versions.toLocaleString('en-US')} versions is ${(ex.result.bytes / 1024 ** 2).toFixed(1)} MiB`);
    return [
      {
        name: `export --all-versions ×${versions.toLocaleString('en-US')}`,
        opsPerSec: exportRate,
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `versions/s, ${(exportMs / 1000).toFixed(2)} s; peak RSS +${(ex.peak - rss0).toFixed(0)} MiB; 1 MiB values: ${mb(bigExportMs)}`,
      },
      {
        name: `import ×${versions.toLocaleString('en-US')}`,
        opsPerSec: importRate,
        ratio,
        ratioKind: 'throughput',
        floor: 'put',
        target: `≥ ${TARGET_RATIO * 100} % of put`,
        mark: ratio >= TARGET_RATIO ? 'pass' : 'FAIL',
        detail: `versions/s, verify + one transaction, ${(importMs / 1000).toFixed(2)} s; peak RSS +${(im.peak - rss1).toFixed(0)} MiB; put here ${putRate.toFixed(0)}/s; 1 MiB values: ${mb(bigImportMs)}`,
      },
    ];
  } finally {
    for (const s of stores) await s.close();
    removeDir(dir);
  }
}
