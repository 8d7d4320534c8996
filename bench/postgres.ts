/**
 * The library on PostgreSQL against raw node-postgres, on a throwaway
 * cluster this section starts (durable: fsync and synchronous commit on) and
 * stops. Every floor runs through the same client and the same kind of pool
 * the driver uses (src/storage/postgres/open.ts's poolFor: the same type
 * parsers, the same unix socket), with named prepared statements, against a
 * plain table `bench_floor.*(name text PRIMARY KEY, value bytea)` in the
 * store's own database.
 *
 * - get vs floor-get: one point SELECT by name + aead.open, in a fixed random
 *   order over the store's 20,000 secrets (each read the current of five
 *   versions).
 * - get, read cache (hits): the same reads from a store opened with a cache
 *   holding every name.
 * - 4 hosts: four child processes, each its own store and pool, reading at
 *   once, against one of them reading alone; aggregate reads/s.
 * - put vs floor-put: a new name per put; the floor is aead.seal + one
 *   autocommit INSERT (one commit each, as a put).
 * - rewrap vs floor-rewrap: rotate-keys over the store's 100,000 versions, in
 *   batches of 200, against a raw loop over a copy of the same rows (the
 *   versions table copied with its indexes): SELECT 200 by key id + open +
 *   seal + an UPDATE of key id and ciphertext per row, 200 per transaction.
 *
 * The 100,000-version store is built as the SQLite bench builds its own (put()
 * after put(), in RAM), then its rows are copied into a PostgreSQL store
 * (bench/pg-server.ts): the two schemas are the same, so it is the same store,
 * opened with the same master key, every row read checked against its MAC.
 */
import { mkdtempSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { initStore, openStore, rawKey, type Store } from '../src/index.js';
import { open, seal } from '../src/crypto/aead.js';
import { aadFor } from '../src/crypto/aad.js';
import { encodeHeader } from '../src/crypto/format.js';
import { randomBytes } from '../src/crypto/random.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { poolFor, postgresLocation } from '../src/storage/postgres/open.js';
import { firstByteOf, nameOf, readOrder, valueOf } from './data.js';
import { check, equalBytes, median, now, paired, percentile, putsRowsResult, QUICK, removeDir, scratchDir, size, type Row } from './harness.js';
import { ramDir } from './sqlite.js';
import { copyStoreRows, postgresMissing, startServer, type BenchServer } from './pg-server.js';
import { Hosts } from './pg-hosts.js';

const GET_RATIO = 0.6;
const PUT_RATIO = 0.6;
const REWRAP_RATIO = 2;
const HOSTS = 4;
const HOSTS_RATIO = 3;
const VERSIONS_PER_SECRET = 5;
const BATCH = 200;

/** The value of version v (1-based) of secret i, as populate() wrote it. */
const valueIndex = (i: number, v: number) => i * VERSIONS_PER_SECRET + v - 1;

/** Build the store file: `secrets` secrets of five versions each, put() after put(), reads not audited. */
async function populate(secrets: number, master: Uint8Array, dir: string): Promise<{ file: string; rate: number }> {
  const store = await initStore(join(dir, 'store.db'), rawKey(master));
  await store.setConfig('audit.reads', 'false');
  const t0 = now();
  for (let v = 1; v <= VERSIONS_PER_SECRET; v++) {
    for (let i = 0; i < secrets; i++) await store.put(nameOf(i), valueOf(valueIndex(i, v)));
  }
  const rate = (secrets * VERSIONS_PER_SECRET) / ((now() - t0) / 1000);
  await store.close();
  return { file: join(dir, 'store.db'), rate };
}

async function q(pool: pg.Pool, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  return pool.query(text, values);
}

/** A floor table holding `rows` values sealed under `key`, inserted a thousand at a time. */
async function floorTable(pool: pg.Pool, table: string, rows: number, row: (i: number) => [string | number, Uint8Array]): Promise<void> {
  await q(pool, 'CREATE SCHEMA IF NOT EXISTS bench_floor');
  const keyType = typeof row(0)[0] === 'number' ? 'bigint' : 'text COLLATE "C"';
  await q(pool, `CREATE TABLE bench_floor.${table} (name ${keyType} PRIMARY KEY, value bytea NOT NULL)`);
  for (let at = 0; at < rows; at += 1000) {
    const n = Math.min(1000, rows - at);
    const values = Array.from({ length: n }, (_, k) => `($${2 * k + 1}, $${2 * k + 2})`).join(', ');
    await q(pool, `INSERT INTO bench_floor.${table} (name, value) VALUES ${values}`, Array.from({ length: n }, (_, k) => row(at + k)).flat());
  }
  await q(pool, `VACUUM ANALYZE bench_floor.${table}`);
}

export async function benchPostgres(notes: string[]): Promise<Row[]> {
  const missing = postgresMissing();
  if (missing) return [{ name: 'postgres', opsPerSec: null, ratio: null, target: '—', mark: 'skip', detail: missing }];
  const server = await startServer();
  try {
    return await rows(server, notes);
  } finally {
    await server.stop();
  }
}

async function rows(server: BenchServer, notes: string[]): Promise<Row[]> {
  const secrets = size(20_000, 500);
  const versions = secrets * VERSIONS_PER_SECRET;
  const getOps = size(5_000, 500);
  const putOps = size(300, 40);
  const rounds = QUICK ? 3 : 5;
  const hostMs = QUICK ? 500 : 2_000;
  const out: Row[] = [];

  const master = randomBytes(32);
  const ram = ramDir();
  const work = scratchDir('pg');
  const buildDir = ram ? mkdtempSync(join(ram, 'strongbox-bench-pg-')) : work;
  let store: Store | undefined;
  let pool: pg.Pool | undefined;
  try {
    // ---- the 100,000-version store, in PostgreSQL ------------------------
    const built = await populate(secrets, master, buildDir);
    const url = await server.database('store');
    await (await initStore(url, rawKey(master))).close(); // the schema
    await copyStoreRows(built.file, server.info, 'store');
    if (!ram) notes.push('postgres: the store file was built on disk (no tmpfs): the populate rate is fsync-bound');
    store = await openStore(url, rawKey(master));
    const st = await store.status();
    check(st.secrets === secrets && st.versions === versions && st.liveVersions === versions, `pg: the store holds ${secrets} secrets, ${versions} versions`);
    const names = Array.from({ length: secrets }, (_, i) => nameOf(i));
    for (const i of [0, secrets >> 1, secrets - 1]) {
      const got = await store.get(names[i]!);
      check(got.version === VERSIONS_PER_SECRET && equalBytes(got.value.expose(), valueOf(valueIndex(i, VERSIONS_PER_SECRET))), `pg get: ${names[i]} reads back`);
    }

    // ---- get ------------------------------------------------------------
    pool = poolFor(postgresLocation(url));
    const p = pool;
    const key = randomBytes(32);
    const aad = randomBytes(aadFor(encodeHeader(1), new Uint8Array(16), nameOf(0), 1).length);
    // The floor holds what the store's current versions hold: firstByteOf(valueIndex(i, 5)) is each read's first byte on both sides.
    const current = (i: number) => valueOf(valueIndex(i, VERSIONS_PER_SECRET));
    await floorTable(p, 't', secrets, (i) => [names[i]!, seal(key, current(i), aad)]);
    const selectByName = (name: string) => p.query({ name: 'floor_get', text: 'SELECT value FROM bench_floor.t WHERE name = $1', values: [name] });
    const order = readOrder(Math.max(getOps * 4, 20_000), secrets);
    const firstOf = (k: number) => firstByteOf(valueIndex(order[k % order.length]!, VERSIONS_PER_SECRET));
    const sumOf = (from: number, n: number) => { let s = 0; for (let k = 0; k < n; k++) s += firstOf(from + k); return s; };
    for (let k = 0; k < Math.min(500, secrets); k++) {
      const i = order[order.length - 1 - k]!;
      const row = (await selectByName(names[i]!)).rows[0] as { value: Buffer };
      check(equalBytes(open(key, row.value, aad), current(i)), `pg floor-get: ${names[i]} reads back its value`);
      check(equalBytes((await store.get(names[i]!)).value.expose(), current(i)), `pg get: ${names[i]} reads back its value`);
    }
    let fPos = 0;
    let fSum = 0;
    let lPos = 0;
    let lSum = 0;
    const floorGet = async (n: number) => {
      for (let k = 0; k < n; k++) {
        const r = (await selectByName(names[order[fPos++ % order.length]!]!)).rows[0] as { value: Buffer };
        fSum += open(key, r.value, aad)[0]!;
      }
    };
    const s = store;
    const libGet = async (n: number) => {
      for (let k = 0; k < n; k++) {
        const v = await s.get(names[order[lPos++ % order.length]!]!);
        lSum += v.value.expose()[0]!;
      }
    };
    const g = await paired(rounds, getOps, floorGet, libGet, Math.min(getOps, 2_000));
    check(fSum === sumOf(0, fPos), 'pg floor-get: every timed read returned its value');
    check(lSum === sumOf(0, lPos), 'pg get: every timed read returned its value');
    out.push(
      { name: 'pg floor-get', opsPerSec: g.floor, ratio: null, target: '—', mark: 'info', detail: `node-postgres named point SELECT + aead open, ${secrets.toLocaleString('en-US')} rows` },
      {
        name: 'pg get', opsPerSec: g.subject, ratio: g.ratio, ratioKind: 'throughput', floor: 'pg floor-get',
        target: `≥ ${GET_RATIO * 100} % of pg floor-get`, mark: g.ratio >= GET_RATIO ? 'pass' : 'FAIL',
        detail: `await store.get(name), audit.reads false, ${g.rounds}×${getOps.toLocaleString('en-US')} reads/side`,
      },
    );

    // ---- the read cache: hits -------------------------------------------
    const cached = await openStore(url, rawKey(master), { cache: { ttlMs: 3_600_000, maxEntries: secrets } });
    try {
      await caching(cached, names[0]!);
      for (const n of names) await cached.get(n);
      const cs = cached;
      const cachedGet = async (n: number) => {
        for (let k = 0; k < n; k++) {
          const v = await cs.get(names[order[lPos++ % order.length]!]!);
          lSum += v.value.expose()[0]!;
        }
      };
      fPos = fSum = lPos = lSum = 0;
      const hitsBefore = cached.cacheStats()!.hits;
      const c = await paired(rounds, getOps, floorGet, cachedGet, Math.min(getOps, 2_000));
      check(lSum === sumOf(0, lPos), 'pg get (cached): every timed read returned its value');
      const hits = cached.cacheStats()!.hits - hitsBefore;
      check(hits === lPos, `pg get (cached): every timed read was a cache hit (${hits} of ${lPos})`);
      out.push({
        name: 'pg get, read cache (hits)', opsPerSec: c.subject, ratio: c.ratio, ratioKind: 'throughput', floor: 'pg floor-get', target: '—', mark: 'info',
        detail: `every name cached (ttl 1 h): a copy from memory per get`,
      });
    } finally {
      await cached.close();
    }

    // ---- 4 hosts reading at once ----------------------------------------
    const hosts = await Hosts.start(HOSTS, {
      url, master: Buffer.from(master).toString('hex'), secrets, orderLength: order.length,
      floor: { key: Buffer.from(key).toString('hex'), aad: Buffer.from(aad).toString('hex') },
    });
    try {
      const one: number[] = [];
      const all: number[] = [];
      const ratios: number[] = [];
      const checkRun = (runs: { reads: number; sum: number; start: number }[]) => {
        for (const r of runs) check(r.sum === sumOf(r.start, r.reads), 'pg hosts: every timed read returned its value');
        return runs.reduce((a, r) => a + r.reads, 0) / (hostMs / 1000);
      };
      await hosts.run(HOSTS, Math.min(hostMs, 500)); // warm-up
      for (let r = 0; r < (QUICK ? 2 : 3); r++) {
        // Who goes first alternates, as in paired().
        let a: number;
        let b: number;
        if (r % 2 === 0) {
          a = checkRun(await hosts.run(1, hostMs));
          b = checkRun(await hosts.run(HOSTS, hostMs));
        } else {
          b = checkRun(await hosts.run(HOSTS, hostMs));
          a = checkRun(await hosts.run(1, hostMs));
        }
        one.push(a);
        all.push(b);
        ratios.push(b / a);
      }
      const ratio = median(ratios);
      // The same rounds of raw floor reads: how far this machine lets four readers go beyond one at all.
      const rawRatios: number[] = [];
      for (let r = 0; r < (QUICK ? 2 : 3); r++) {
        const a = checkRun(await hosts.run(1, hostMs, true));
        const b = checkRun(await hosts.run(HOSTS, hostMs, true));
        rawRatios.push(b / a);
      }
      const rawRatio = median(rawRatios);
      out.push(
        { name: 'pg get, 1 host', opsPerSec: median(one), ratio: null, target: '—', mark: 'info', detail: `one child process, its own store and pool, ${hostMs / 1000} s rounds` },
        {
          name: `pg get, ${HOSTS} hosts`, opsPerSec: median(all), ratio, ratioKind: 'throughput', floor: 'pg get, 1 host',
          target: `aggregate ≥ ${HOSTS_RATIO}× one host`, mark: ratio >= HOSTS_RATIO ? 'pass' : 'FAIL',
          detail: `${HOSTS} child processes reading at once, aggregate reads/s (${ratio.toFixed(2)}×); server and hosts share ${cpus().length} cores`,
        },
        {
          name: `pg floor-get, ${HOSTS} hosts`, opsPerSec: null, ratio: rawRatio, ratioKind: 'throughput', floor: 'pg floor-get, 1 host', target: '—', mark: 'info',
          detail: `the same hosts reading the floor table raw (named SELECT + aead open): ${rawRatio.toFixed(2)}× one host, what this machine allows; store reads ${(ratio / rawRatio * 100).toFixed(0)} % of that`,
        },
      );
    } finally {
      await hosts.stop();
    }

    // ---- put ------------------------------------------------------------
    out.push(...(await putRows(server, rounds, putOps)));

    // ---- rewrap ---------------------------------------------------------
    // The floor works on a copy of the store's own versions table (the same rows, columns and indexes, the
    // key id index among them), and does the same AEAD work per row on a value of its own, kept in memory.
    await q(p, 'CREATE TABLE bench_floor.v (LIKE strongbox.versions INCLUDING DEFAULTS INCLUDING INDEXES)');
    await q(p, 'INSERT INTO bench_floor.v SELECT * FROM strongbox.versions');
    await q(p, 'VACUUM ANALYZE bench_floor.v');
    const keyIds = (await q(p, 'SELECT DISTINCT key_id FROM bench_floor.v')).rows as { key_id: number }[];
    check(keyIds.length === 1, 'pg floor-rewrap: every version is under one key');
    const fromKey = keyIds[0]!.key_id;
    const toKey = fromKey + 1;
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const raad = randomBytes(aad.length);
    const rowKey = (secretId: number, version: number) => secretId * 8 + version;
    const sealedOf = new Map<number, Uint8Array>();
    for (const r of (await q(p, 'SELECT secret_id, version FROM bench_floor.v')).rows as { secret_id: number; version: number }[]) {
      const k = rowKey(r.secret_id, r.version);
      sealedOf.set(k, seal(oldKey, valueOf(k), raad));
    }
    const client = await p.connect();
    let floorMs: number;
    try {
      const t0 = now();
      let moved = 0;
      for (;;) {
        await client.query('BEGIN');
        const batch = (await client.query({
          name: 'floor_rw_select', text: 'SELECT secret_id, version, ciphertext FROM bench_floor.v WHERE key_id = $1 ORDER BY secret_id, version LIMIT $2', values: [fromKey, BATCH],
        })).rows as { secret_id: number; version: number; ciphertext: Buffer }[];
        for (const r of batch) {
          const k = rowKey(r.secret_id, r.version);
          const blob = seal(newKey, open(oldKey, sealedOf.get(k)!, raad), raad);
          await client.query({
            name: 'floor_rw_update', text: 'UPDATE bench_floor.v SET key_id = $1, ciphertext = $2 WHERE secret_id = $3 AND version = $4 AND key_id = $5',
            values: [toKey, blob, r.secret_id, r.version, fromKey],
          });
        }
        await client.query('COMMIT');
        moved += batch.length;
        if (batch.length < BATCH) break;
      }
      floorMs = now() - t0;
      check(moved === versions, `pg floor-rewrap: ${versions} rows rewrapped`);
      const moved2 = (await client.query('SELECT count(*)::int AS n FROM bench_floor.v WHERE key_id = $1', [toKey])).rows[0] as { n: number };
      check(moved2.n === versions, 'pg floor-rewrap: every row is under the new key');
      const one = (await client.query('SELECT secret_id, version, ciphertext FROM bench_floor.v ORDER BY secret_id DESC, version DESC LIMIT 1')).rows[0] as { secret_id: number; version: number; ciphertext: Buffer };
      const k = rowKey(one.secret_id, one.version);
      check(equalBytes(open(newKey, one.ciphertext, raad), valueOf(k)), 'pg floor-rewrap: a row opens under the new key');
    } finally {
      client.release();
    }
    const t1 = now();
    const report = await store.rotateKeys({ batchSize: BATCH });
    const rewrapMs = now() - t1;
    check(report.rewrapped === versions && report.retired.length === 1, `pg rewrap: ${report.rewrapped} of ${versions} rewrapped, old key retired`);
    check((await store.keys()).find((k) => k.status === 'primary')?.versions === versions, 'pg rewrap: every version is under the new primary');
    for (const i of [0, secrets >> 1, secrets - 1]) {
      check(equalBytes((await store.get(names[i]!)).value.expose(), current(i)), `pg rewrap: ${names[i]} reads back`);
    }
    const ratio = rewrapMs / floorMs;
    out.push(
      {
        name: 'pg floor-rewrap', opsPerSec: versions / (floorMs / 1000), ratio: null, target: '—', mark: 'info',
        detail: `on a copy of the versions table: SELECT ${BATCH} by key + open + seal + UPDATE each, ${BATCH} per transaction, ${(floorMs / 1000).toFixed(2)} s`,
      },
      {
        name: 'pg rewrap (rotate-keys)', opsPerSec: versions / (rewrapMs / 1000), ratio, ratioKind: 'time', floor: 'pg floor-rewrap',
        target: `≤ ${REWRAP_RATIO}× floor`, mark: ratio <= REWRAP_RATIO ? 'pass' : 'FAIL',
        detail: `${versions.toLocaleString('en-US')} versions, ${(rewrapMs / 1000).toFixed(2)} s, ${report.batches} batches, longest ${report.longestBatchMs.toFixed(1)} ms`,
      },
    );
    out.unshift({
      name: `pg populate: put() ×${versions.toLocaleString('en-US')}`, opsPerSec: built.rate, ratio: null, target: '—', mark: 'info',
      detail: `on SQLite${ram ? ' in tmpfs' : ''}, rows then copied to PostgreSQL`,
    });
    return out;
  } finally {
    await store?.close();
    await pool?.end();
    if (ram) removeDir(buildDir);
    removeDir(work);
  }
}

/** put vs an autocommit INSERT, each a new name, on a fresh store in a database of its own. */
async function putRows(server: BenchServer, rounds: number, ops: number): Promise<Row[]> {
  const warm = Math.max(20, ops >> 2);
  const total = warm + rounds * ops;
  const url = await server.database('puts');
  const master = randomBytes(32);
  const store = await initStore(url, rawKey(master));
  const pool = poolFor(postgresLocation(url));
  try {
    await q(pool, 'CREATE SCHEMA bench_floor');
    await q(pool, 'CREATE TABLE bench_floor.p (name text COLLATE "C" PRIMARY KEY, value bytea NOT NULL)');
    const names = Array.from({ length: 2 * total }, (_, i) => nameOf(i)); // two pairings: against the INSERT, then against a put's rows
    const value = valueOf(1);
    const key = randomBytes(32);
    const aad = randomBytes(78);
    let f = 0;
    let l = 0;
    const floorPut = async (n: number) => {
      for (let k = 0; k < n; k++) {
        await pool.query({ name: 'floor_put', text: 'INSERT INTO bench_floor.p (name, value) VALUES ($1, $2)', values: [names[f++], seal(key, value, aad)] });
      }
    };
    const libPut = async (n: number) => {
      for (let k = 0; k < n; k++) await store.put(names[l++]!, value);
    };
    const r = await paired(rounds, ops, floorPut, libPut, warm);
    const count = (await q(pool, 'SELECT count(*)::int AS n FROM bench_floor.p')).rows[0] as { n: number };
    check(count.n === f, `pg floor-put: ${f} rows written`);
    const rows = await putsRows(pool, rounds, ops, warm, names, libPut, () => l);
    const st = await store.status();
    check(st.secrets === l && st.versions === l, `pg put: ${l} secrets written`);
    for (const i of [0, l >> 1, l - 1]) check(equalBytes((await store.get(names[i]!)).value.expose(), value), `pg put: ${names[i]} reads back`);
    const seen = await writeSeen(url, master, store);
    return [
      { name: 'pg floor-put', opsPerSec: r.floor, ratio: null, target: '—', mark: 'info', detail: 'aead seal + autocommit named INSERT, synchronous_commit on' },
      {
        name: 'pg put', opsPerSec: r.subject, ratio: r.ratio, ratioKind: 'throughput', floor: 'pg floor-put',
        target: `≥ ${PUT_RATIO * 100} % of pg floor-put`, mark: r.ratio >= PUT_RATIO ? 'pass' : 'FAIL',
        detail: `await store.put(new name, 64 B), ${r.rounds}×${ops} commits/side`,
      },
      ...rows,
      seen,
    ];
  } finally {
    await store.close();
    await pool.end();
  }
}

/**
 * What a put writes, written raw: the same four rows a put of a new name
 * writes (a secret, its version, an audit entry, the 2 KiB state row), into
 * copies of the store's own tables (with their indexes, keys and checks),
 * as one pipelined transaction per put (BEGIN … COMMIT in one round trip),
 * each row sealed or MAC'd with the same primitives; no reads, no lock, no
 * checks. The ceiling for any library writing those rows durably.
 */
async function putsRows(
  pool: pg.Pool, rounds: number, ops: number, warm: number, names: string[], libPut: (n: number) => Promise<void>, written: () => number,
): Promise<Row[]> {
  for (const t of ['secrets', 'versions', 'audit', 'state']) await q(pool, `CREATE TABLE bench_floor.${t} (LIKE strongbox.${t} INCLUDING ALL)`);
  // LIKE copies no foreign key: the versions' reference to their secret, as the store's.
  await q(pool, 'ALTER TABLE bench_floor.versions ADD FOREIGN KEY (secret_id) REFERENCES bench_floor.secrets(id) ON DELETE CASCADE');
  const key = randomBytes(32);
  const aad = randomBytes(78);
  const value = valueOf(1);
  const mac = randomBytes(32);
  const digest = randomBytes(2048);
  await q(pool, 'INSERT INTO bench_floor.state (id, digest, audit_seq, audit_mac, mac) VALUES (1, $1, 0, $2, $2)', [digest, mac]);
  const client = await pool.connect();
  let n = 0;
  const floorRows = async (count: number) => {
    for (let k = 0; k < count; k++) {
      const i = ++n;
      const now = Date.now();
      const answers = [
        client.query('BEGIN'),
        client.query({ name: 'fr_s', text: 'INSERT INTO bench_floor.secrets (id, name, current_version, created_at, updated_at, mac) VALUES ($1, $2, 1, $3, $3, $4)', values: [i, names[i % names.length] + `#${i}`, now, hmacOf(mac, i)] }),
        client.query({ name: 'fr_v', text: 'INSERT INTO bench_floor.versions (secret_id, version, created_at, key_id, ciphertext, mac, json) VALUES ($1, 1, $2, 1, $3, $4, 0)', values: [i, now, seal(key, value, aad), hmacOf(mac, i)] }),
        client.query({ name: 'fr_a', text: `INSERT INTO bench_floor.audit (seq, at, actor, pid, action, name, versions, outcome, detail, mac) VALUES ($1, $2, 'bench', $3, 'put', $4, '1', 'ok', NULL, $5)`, values: [i, now, process.pid, names[i % names.length], hmacOf(mac, i)] }),
        client.query({ name: 'fr_st', text: 'UPDATE bench_floor.state SET digest = $1, audit_seq = $2, audit_mac = $3, mac = $3 WHERE id = 1', values: [digest, i, hmacOf(mac, i)] }),
        client.query('COMMIT'),
      ];
      await Promise.all(answers);
    }
  };
  try {
    const r = await paired(rounds, ops, floorRows, libPut, warm);
    check(written() > 0, 'pg put: written');
    const count = (await client.query('SELECT (SELECT count(*) FROM bench_floor.secrets)::int AS s, (SELECT count(*) FROM bench_floor.versions)::int AS v, (SELECT count(*) FROM bench_floor.audit)::int AS a')).rows[0] as { s: number; v: number; a: number };
    return putsRowsResult('pg ', r, ops, n, count,
      'BEGIN + the 4 rows a put writes (secret, version, audit entry, 2 KiB state) + COMMIT, pipelined: one round trip, no reads or checks');
  } finally {
    client.release();
  }
}

/** A MAC-sized value per row, made with the same primitive as the store's row MACs. */
function hmacOf(key: Uint8Array, i: number): Uint8Array {
  return hmac(sha256, key, new TextEncoder().encode(String(i)));
}

/** Until `store`'s cache serves (its listening connection is up): a repeated get of `name` is a hit. */
async function caching(store: Store, name: string): Promise<void> {
  const deadline = now() + 10_000;
  for (;;) {
    const hits = store.cacheStats()!.hits;
    await store.get(name);
    await store.get(name);
    if (store.cacheStats()!.hits > hits) return;
    check(now() < deadline, 'pg cache: the listening connection is up within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * How long after another host's put returns its cached value is gone: a
 * store opened with a cache (its own pool and listening connection) holds
 * a name, the bench's store writes it, and the cached store is asked again
 * at every turn of the event loop until it answers the new value.
 */
async function writeSeen(url: string, master: Uint8Array, writer: Store): Promise<Row> {
  const samples = QUICK ? 10 : 50;
  const name = 'bench/seen';
  const cached = await openStore(url, rawKey(master), { cache: { ttlMs: 3_600_000 } });
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  try {
    await writer.put(name, valueOf(0));
    await caching(cached, name);
    const us: number[] = [];
    let stale = 0;
    for (let j = 1; j <= samples; j++) {
      check(equalBytes((await cached.get(name)).value.expose(), valueOf(j - 1)), 'pg cache: the cached value is the last one written');
      await writer.put(name, valueOf(j));
      const t0 = now();
      while (!equalBytes((await cached.get(name)).value.expose(), valueOf(j))) {
        stale++;
        check(now() - t0 < 10_000, 'pg cache: another host\'s write is seen within 10 s');
        await turn();
      }
      us.push((now() - t0) * 1000);
    }
    const changes = cached.cacheStats()!.changes;
    check(changes >= samples, `pg cache: ${samples} writes by another host noticed (${changes})`);
    return {
      name: 'pg cache: another host\'s write seen', opsPerSec: null, ratio: null, target: '—', mark: 'info',
      detail: `after its put returns: median ${median(us).toFixed(0)} µs, p90 ${percentile(us, 90).toFixed(0)} µs (${samples} writes; ${stale} gets served the old value meanwhile); TTL 1 h`,
    };
  } finally {
    await cached.close();
  }
}
