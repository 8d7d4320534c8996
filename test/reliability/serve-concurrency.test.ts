/**
 * `store serve` under load while other processes use the same store file:
 * 16 node-vault clients (each with its own token, over keep-alive
 * connections) write and read back their own keys and read shared ones,
 * while CLI processes (`store set`) write other keys and the shared ones,
 * and a `store rotate-keys` run (with rewrap) lands in the middle.
 *
 * Nothing may fail (no 5xx, no E_LOCKED surfacing as 503: the store's
 * writers wait for each other), nothing acknowledged may be lost, a client
 * reads back what it just wrote, and the server sees other processes' writes
 * at once: the read that follows a CLI write returns it, and no read that
 * starts after a write was acknowledged returns an older version.
 * Afterwards every acknowledged version reads back, through the server and
 * through the library, and `store verify --deep` passes.
 *
 * Bounded: about 12 s of load (loops stop at a deadline, or a second after
 * the rotation if that ends later, at most 40 s, or at a count), all on
 * 127.0.0.1, the server stopped at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodeVault from 'node-vault';
import { keyFile, openStore } from '../../src/index.js';
import { CLI, cleanEnv, cliOk } from '../cli/run-cli.js';
import { newKeyfileStore, startServe, type ServeChild } from '../serve/serve-child.js';
import { tempDir } from '../helpers/tmp.js';

const CLIENTS = 16;
/** Keys each client writes (only it). */
const OWN_KEYS = 3;
/** Keys only the CLI processes write (each chain its own), read by every client. */
const SHARED = 4;
const CLI_CHAINS = 2;
const LOAD_MS = 12_000;
/** The load goes on past LOAD_MS until a second after rotate-keys ended, but never past this. */
const HARD_LOAD_MS = 40_000;
/** Iterations of a client's loop at most (write, read back, read a shared key). */
const MAX_ITERATIONS = 400;
/** CLI writes per chain at most. */
const MAX_CLI_WRITES = 150;
/** Versions written before the server starts, so the rewrap has work beside what the load writes. */
const SEED_VERSIONS = 150;

type Client = ReturnType<typeof nodeVault>;

/** A write that was acknowledged: through the server (JSON data) or by a CLI process (bytes). */
interface Ack {
  name: string;
  version: number;
  /** The server's data object, or the CLI value's text. */
  value: Record<string, unknown> | string;
  /** ms (performance.now()) when the acknowledgement arrived. */
  at: number;
}

/** A read of a shared key by a client: when it started and what it saw. */
interface SharedRead {
  name: string;
  version: number;
  value: string;
  startedAt: number;
}

/** Something that should not have happened (a failed request, a stale read). */
const failures: string[] = [];
const statuses = new Map<number, number>();
/** How long each request took, ms (printed, never asserted: the machine is shared). */
const latencies: number[] = [];

let server: ServeChild;
let fx: { storePath: string; keyPath: string; dir: string };

/** When the load stops: after LOAD_MS, once rotate-keys has been over for a second (so there is load after it too), at the latest after HARD_LOAD_MS. */
const load = { startedAt: 0, rotationEndedAt: undefined as number | undefined };
function loadGoesOn(): boolean {
  const t = performance.now() - load.startedAt;
  if (t >= HARD_LOAD_MS) return false;
  return t < LOAD_MS || load.rotationEndedAt === undefined || performance.now() < load.rotationEndedAt + 1000;
}

const sharedName = (i: number): string => `shared/s${i}`;
/** The chain that writes shared key `i`: each shared key has one writer, so its next read must show that write. */
const chainOf = (i: number): number => i % CLI_CHAINS;

/** The status and body of a failed node-vault call, or rethrows what is not an HTTP answer. */
function failureOf(e: unknown): { status: number; body: string } {
  const r = (e as { response?: { statusCode: number; body: unknown } }).response;
  if (!r) return { status: -1, body: String(e) };
  return { status: r.statusCode, body: JSON.stringify(r.body) };
}

/** Run a node-vault call; a failure is noted (with its status) and undefined returned. */
async function attempt<T>(what: string, p: Promise<T>): Promise<T | undefined> {
  const started = performance.now();
  try {
    const v = await p;
    latencies.push(performance.now() - started);
    statuses.set(200, (statuses.get(200) ?? 0) + 1);
    return v;
  } catch (e) {
    const f = failureOf(e);
    statuses.set(f.status, (statuses.get(f.status) ?? 0) + 1);
    failures.push(`${what}: ${f.status} ${f.body.slice(0, 300)}`);
    return undefined;
  }
}

/** The built CLI as a child process (not spawnSync: the clients in this process must keep running). */
function runCli(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--store', fx.storePath, '--keyfile', fx.keyPath, ...args], { env: cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** One client's loop: write its own keys and read each back at once, read a shared key; until the deadline. */
async function clientLoop(id: number, v: Client, acks: Ack[], sharedReads: SharedRead[]): Promise<number> {
  const latest = new Map<string, number>();
  let i = 0;
  for (; i < MAX_ITERATIONS && loadGoesOn(); i++) {
    const name = `c${id}/k${i % OWN_KEYS}`;
    const data = { client: id, i, nonce: randomBytes(6).toString('hex') };
    const w = await attempt(`client ${id} write ${name}`, v.write(`secret/data/${name}`, { data }));
    if (w) {
      const version = w.data.version as number;
      const expected = (latest.get(name) ?? 0) + 1;
      if (version !== expected) failures.push(`client ${id}: ${name} written as version ${version}, expected ${expected}`);
      latest.set(name, version);
      acks.push({ name, version, value: data, at: performance.now() });
      // Read-your-writes: only this client writes the key, so the latest is what it just wrote.
      const r = await attempt(`client ${id} read ${name}`, v.read(`secret/data/${name}`));
      if (r && (r.data.metadata.version !== version || JSON.stringify(r.data.data) !== JSON.stringify(data))) {
        failures.push(`client ${id}: read ${name} as version ${r.data.metadata.version}, just wrote ${version}`);
      }
    }
    const shared = sharedName((id + i) % SHARED);
    const startedAt = performance.now();
    const s = await attempt(`client ${id} read ${shared}`, v.read(`secret/data/${shared}`));
    if (s) sharedReads.push({ name: shared, version: s.data.metadata.version as number, value: s.data.data.value as string, startedAt });
  }
  return i;
}

/** One chain of CLI processes, one after another: `store set` of new keys and of its shared keys, each checked through the server at once. */
async function cliChain(chain: number, root: Client, acks: Ack[]): Promise<number> {
  const mine = Array.from({ length: SHARED }, (_, i) => i).filter((i) => chainOf(i) === chain);
  let n = 0;
  for (; n < MAX_CLI_WRITES && loadGoesOn(); n++) {
    const name = n % 2 === 0 ? `cli/chain${chain}/n${n}` : sharedName(mine[(n >> 1) % mine.length]!);
    const value = `cli-${chain}-${n}-${randomBytes(6).toString('hex')}`;
    const r = await runCli(['set', name, '--json'], value);
    if (r.status !== 0) {
      failures.push(`CLI set ${name} exited ${r.status}: ${r.stderr.trim().slice(0, 300)}`);
      continue;
    }
    const version = (JSON.parse(r.stdout) as { version: number }).version;
    acks.push({ name, version, value, at: performance.now() });
    // The server's very next read sees it: no cache, no snapshot held open.
    const got = await attempt(`read ${name} after the CLI wrote it`, root.read(`secret/data/${name}`));
    if (got && (got.data.metadata.version !== version || got.data.data.value !== value)) {
      failures.push(`after the CLI wrote ${name} version ${version}, the server read version ${got.data.metadata.version}`);
    }
  }
  return n;
}

beforeAll(async () => {
  fx = await newKeyfileStore(tempDir());
  const store = await openStore(fx.storePath, keyFile(fx.keyPath));
  try {
    for (let i = 0; i < SHARED; i++) await store.put(sharedName(i), `seed-${i}`);
    for (let i = 0; i < SEED_VERSIONS; i++) await store.put(`seed/k${i % 10}`, `seed value ${i}`);
  } finally {
    await store.close();
  }
  server = await startServe([], fx);
}, 60_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) await server.stop();
});

describe(`store serve: ${CLIENTS} clients, CLI writers and rotate-keys on one store`, () => {
  const serverAcks: Ack[] = [];
  const cliAcks: Ack[] = [];
  const sharedReads: SharedRead[] = [];
  let rotation: { status: number | null; stdout: string; stderr: string; startedAt: number; endedAt: number } | undefined;

  it('under load: no failed request, read-your-writes, the CLI\'s writes seen at once, rotation succeeds', async () => {
    const root = nodeVault({ endpoint: server.addr, token: server.rootToken });
    await root.addPolicy({ name: 'load', rules: 'path "secret/data/*" { capabilities = ["create", "read", "update"] }' });
    const clients: Client[] = [];
    for (let id = 0; id < CLIENTS; id++) {
      const v = nodeVault({ endpoint: server.addr, token: server.rootToken });
      await v.tokenCreate({ policies: ['load'], ttl: '1h' }); // the client adopts its own token
      clients.push(v);
    }
    const checker = nodeVault({ endpoint: server.addr, token: server.rootToken });

    load.startedAt = performance.now();
    const rotationRun = (async () => {
      await new Promise((r) => setTimeout(r, LOAD_MS * 0.4));
      const startedAt = performance.now();
      const r = await runCli(['rotate-keys', '--json']);
      rotation = { ...r, startedAt, endedAt: performance.now() };
      load.rotationEndedAt = rotation.endedAt;
    })();
    const [iterations, cliWrites] = await Promise.all([
      Promise.all(clients.map((v, id) => clientLoop(id, v, serverAcks, sharedReads))),
      Promise.all(Array.from({ length: CLI_CHAINS }, (_, c) => cliChain(c, checker, cliAcks))),
      rotationRun,
    ]);
    const elapsed = performance.now() - load.startedAt;
    console.log(
      `${(elapsed / 1000).toFixed(1)} s of load: ${serverAcks.length} writes through the server (${iterations.join(' ')} iterations), ` +
        `${sharedReads.length} shared reads, ${cliWrites.reduce((a, b) => a + b, 0)} CLI writes; statuses ${JSON.stringify([...statuses])}; ` +
        `rotate-keys ${rotation ? ((rotation.endedAt - rotation.startedAt) / 1000).toFixed(2) : '?'} s (${rotation?.stdout.trim()})`,
    );
    const sorted = [...latencies].sort((a, b) => a - b);
    const pct = (p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(1);
    console.log(`request latency: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`);

    expect(failures).toEqual([]);
    expect([...statuses.keys()]).toEqual([200]);
    expect(rotation?.status, rotation?.stderr).toBe(0);
    const report = JSON.parse(rotation!.stdout) as { rotated: boolean; interrupted: boolean; rewrapped: number };
    expect(report.rotated).toBe(true);
    expect(report.interrupted).toBe(false);
    expect(report.rewrapped).toBeGreaterThanOrEqual(SEED_VERSIONS);
    // The rotation ran in the middle of the load: writes were acknowledged before and after it.
    expect(serverAcks.some((a) => a.at < rotation!.startedAt)).toBe(true);
    expect(serverAcks.some((a) => a.at > rotation!.endedAt)).toBe(true);
    expect(cliAcks.some((a) => a.at > rotation!.endedAt)).toBe(true);
    expect(cliAcks.length).toBeGreaterThanOrEqual(4);
    // Every client made progress.
    for (const n of iterations) expect(n).toBeGreaterThanOrEqual(3);
  }, 120_000);

  it('reads of shared keys were current: none that started after a CLI write was acknowledged saw an older version', () => {
    expect(sharedReads.length).toBeGreaterThan(0);
    const stale: string[] = [];
    for (const r of sharedReads) {
      const newest = cliAcks.filter((a) => a.name === r.name && a.at < r.startedAt).reduce((m, a) => Math.max(m, a.version), 1);
      if (r.version < newest) stale.push(`${r.name}: read version ${r.version} after version ${newest} was acknowledged`);
      const ack = cliAcks.find((a) => a.name === r.name && a.version === r.version);
      if (ack && ack.value !== r.value) stale.push(`${r.name} version ${r.version}: read another value than the CLI wrote`);
    }
    expect(stale).toEqual([]);
    // The shared keys were written during the load and the clients saw it.
    expect(sharedReads.some((r) => r.version > 1)).toBe(true);
  });

  it('nothing acknowledged is lost: every version reads back through the server, then through the library; verify passes', async () => {
    const acks = [...serverAcks, ...cliAcks];
    expect(acks.length).toBeGreaterThan(CLIENTS * 3);
    // Through the server, 16 at a time.
    const root = nodeVault({ endpoint: server.addr, token: server.rootToken });
    const lost: string[] = [];
    for (let i = 0; i < acks.length; i += 16) {
      await Promise.all(acks.slice(i, i + 16).map(async (a) => {
        const r = await attempt(`read back ${a.name} version ${a.version}`, root.read(`secret/data/${a.name}?version=${a.version}`));
        const got = typeof a.value === 'string' ? r?.data.data.value : r?.data.data;
        if (!r || JSON.stringify(got) !== JSON.stringify(a.value)) lost.push(`${a.name} version ${a.version} (server)`);
      }));
    }
    expect(failures).toEqual([]);
    // Another process checks the store while the server still has it open.
    const during = JSON.parse(cliOk(['--store', fx.storePath, '--keyfile', fx.keyPath, 'verify', '--deep', '--json']).out) as { ok: boolean };
    expect(during.ok).toBe(true);
    expect(await server.stop()).toBe(0);

    const store = await openStore(fx.storePath, keyFile(fx.keyPath));
    try {
      for (let i = 0; i < acks.length; i += 32) {
        await Promise.all(acks.slice(i, i + 32).map(async (a) => {
          const v = await store.get(a.name, { version: a.version });
          const text = v.value.text();
          v.value.wipe();
          const same = typeof a.value === 'string' ? text === a.value && !v.json : v.json && JSON.stringify(JSON.parse(text)) === JSON.stringify(a.value);
          if (!same) lost.push(`${a.name} version ${a.version} (library)`);
        }));
      }
      // Each client's own keys hold exactly the versions it was acknowledged, no more.
      for (const name of new Set(serverAcks.map((a) => a.name))) {
        const acked = serverAcks.filter((a) => a.name === name).length;
        const latest = await store.get(name);
        latest.value.wipe();
        expect(latest.version, name).toBe(acked);
      }
    } finally {
      await store.close();
    }
    expect(lost).toEqual([]);
    const after = JSON.parse(cliOk(['--store', fx.storePath, '--keyfile', fx.keyPath, 'verify', '--deep', '--json']).out) as { ok: boolean; problems: unknown[] };
    expect(after.ok).toBe(true);
    expect(after.problems).toEqual([]);
  }, 120_000);
});
