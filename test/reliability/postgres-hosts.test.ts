// Many hosts on one store in PostgreSQL, simulated on one machine: four
// processes, each with its own store and so its own pool of connections (a
// "host"), write and read names they all write and names only one writes,
// while a fifth runs `store rotate-keys` (cron on one of the hosts), which
// rewraps 20,000 seeded versions in batches. Afterwards: no acknowledged
// write is lost, every name's versions are numbered without a gap, every
// read returned the newest version acknowledged (or read) before it began,
// or a newer one, every version is under the new key, and the audit chain
// verifies and records each write exactly once.
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { keyFile, openStore } from '../../src/index.js';
import { cli, CLI } from '../cli/run-cli.js';
import { freshDatabase, tcpUrl } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';
import { SECRETS, VERSIONS, TOTAL, nameOf, valueOf, sleep, start, startInteractive } from './rotation-helpers.js';
import { PG_HOST, PG_SEED, acksOf, failsOf, gaps, hostEvents, lostAcks, readsOf, staleReads, storedValues, eachLimited } from './pg-host-events.js';

const HOSTS = 4;
/** The hosts' clock (fixtures/pg-host.mjs): CLOCK_MONOTONIC in µs. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
/** How long the hosts run before the rotation starts and after it ends. */
const AROUND_MS = 500;

describe(`many hosts on one PostgreSQL store, rotate-keys rewrapping ${TOTAL} versions`, () => {
  it(`${HOSTS} hosts with their own pools: nothing lost, versions gap-free, reads current or newer, audit chain whole`, async () => {
    const testStarted = performance.now();
    const db = await freshDatabase();
    const key = join(tempDir('strongbox-pg-hosts-'), 'master.key');

    const seed = await start([PG_SEED, db.url, key, String(SECRETS), String(VERSIONS)], 90_000).exited;
    expect(seed.status, seed.stderr).toBe(0);
    const seeded = JSON.parse(seed.stdout) as { bundleMs: number; importMs: number; versions: number };
    expect(seeded.versions).toBe(TOTAL);

    // Hosts 1 and 3 over TCP, the others over the unix socket.
    const tcp = tcpUrl(db.cluster, db.name);
    const hosts = Array.from({ length: HOSTS }, (_, id) => startInteractive([PG_HOST, id % 2 ? tcp : db.url, key, String(id), String(SECRETS), String(VERSIONS)]));
    await Promise.all(hosts.map((h) => h.line((l) => l === 'ready')));
    await sleep(AROUND_MS);

    const rotationFrom = monotonicUs();
    const rotation = await start([CLI, '--store', db.url, '--keyfile', key, 'rotate-keys', '--batch', '200', '--json'], 90_000).exited;
    const rotationTo = monotonicUs();
    await sleep(AROUND_MS);
    for (const h of hosts) {
      h.send('stop');
      h.endInput();
    }
    const exits = await Promise.all(hosts.map((h) => h.exited));
    const runMs = performance.now() - testStarted;

    expect(rotation.status, rotation.stderr).toBe(0);
    const report = JSON.parse(rotation.stdout) as { rotated: boolean; primaryVersion: number; rewrapped: number; batches: number; longestBatchMs: number; durationMs: number };
    for (const e of exits) expect(e.status, e.stderr).toBe(0);
    const perHost = exits.map((e) => hostEvents(e.stdout));
    const events = perHost.flat();
    const acks = acksOf(events);

    // Each host did real work, before, during and after the rotation.
    for (const [id, list] of perHost.entries()) {
      expect(list.at(-1)?.k, `host ${id} did not finish`).toBe('done');
      expect(acksOf(list).length, `host ${id} wrote nothing`).toBeGreaterThan(10);
      const during = (k: string) => list.filter((e) => e.k === k && (e as { t0: number }).t0 > rotationFrom && (e as { t1: number }).t1 < rotationTo).length;
      expect(during('ack'), `host ${id} wrote nothing while the rotation ran`).toBeGreaterThan(0);
      expect(during('read'), `host ${id} read nothing while the rotation ran`).toBeGreaterThan(0);
    }
    expect(failsOf(events)).toEqual([]);
    expect(events.filter((e) => e.k === 'bad')).toEqual([]);
    // A check-and-set that passed wrote the version after the one it was given.
    expect(acks.filter((a) => a.cas !== undefined && a.v !== a.cas + 1)).toEqual([]);
    expect(staleReads(events)).toEqual([]);

    const checkStarted = performance.now();
    const store = await openStore(db.url, keyFile(key));
    try {
      const written = new Set(acks.map((a) => a.n));
      const stored = await storedValues(store, written);
      expect(lostAcks(stored, acks)).toEqual([]);
      expect(gaps(stored)).toEqual([]);
      // Every stored version was acknowledged (no write happened twice, none unseen).
      expect([...stored.values()].reduce((n, vs) => n + vs.size, 0)).toBe(acks.length);

      // The seeded versions, all rewrapped: a sample read back by value, and every one decrypts (verify --deep).
      let wrong = 0;
      const sample = Array.from({ length: 500 }, (_, i) => [nameOf((i * 7919) % SECRETS), 1 + (i % VERSIONS)] as const);
      await eachLimited([...sample], 8, async ([name, v]) => {
        if ((await store.get(name, { version: v })).value.text() !== valueOf(name, v)) wrong++;
      });
      expect(wrong).toBe(0);
      const status = await store.status();
      expect(status.versions).toBe(TOTAL + acks.length);
      expect((await store.keys()).map((k) => [k.version, k.status, k.versions])).toEqual([[1, 'retired', 0], [2, 'primary', TOTAL + acks.length]]);
    } finally {
      await store.close();
    }
    expect(report.rotated).toBe(true);
    expect(report.rewrapped).toBeGreaterThanOrEqual(TOTAL);

    const audit = cli(['--store', db.url, '--keyfile', key, 'audit', 'verify', '--json']);
    expect(audit.status, audit.stderr).toBe(0);
    expect((JSON.parse(audit.out) as { ok: boolean }).ok).toBe(true);
    // The chain holds one entry per acknowledged write, for that version: no write unrecorded, none recorded twice.
    const puts = cli(['--store', db.url, '--keyfile', key, 'audit', '--action', 'put', '--json']);
    expect(puts.status, puts.stderr).toBe(0);
    const recorded = (JSON.parse(puts.out) as { name: string; versions: number[]; outcome: string }[]).filter((e) => e.outcome === 'ok');
    const key_ = (n: string, v: number) => `${n}@${v}`;
    expect(recorded.flatMap((e) => e.versions.map((v) => key_(e.name, v))).sort()).toEqual(acks.map((a) => key_(a.n, a.v)).sort());
    const deep = cli(['--store', db.url, '--keyfile', key, 'verify', '--deep', '--json']);
    expect(deep.status, deep.stderr).toBe(0);

    const reads = readsOf(events);
    console.log(
      `seed: ${TOTAL} versions in ${((seeded.bundleMs + seeded.importMs) / 1000).toFixed(1)} s (bundle ${seeded.bundleMs} ms, import ${seeded.importMs} ms); ` +
        `rotate-keys: ${(rotation.ms / 1000).toFixed(2)} s (process), rewrapped ${report.rewrapped} in ${report.batches} batches, ` +
        `longest ${report.longestBatchMs.toFixed(1)} ms; hosts: ${acks.length} writes, ${reads.length} reads, ` +
        `${events.filter((e) => e.k === 'cas').length} check-and-set refusals; run ${(runMs / 1000).toFixed(1)} s, checks ${((performance.now() - checkStarted) / 1000).toFixed(1)} s`,
    );
  }, 120_000);
});
