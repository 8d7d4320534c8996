/**
 * `store serve` KV reads over HTTP against library `get` of the same store.
 *
 * Two stores with the same 1,000 JSON secrets, policy and token: one with
 * reads audited (the default), one a copy with `audit.reads false`. Each
 * gets a real `store serve` child (dist/bin/store.js, key file). A load
 * client of our own runs in a third process (serve-client.ts) and keeps
 * 1, 16 or 64 keep-alive connections busy with `GET /v1/secret/data/<key>`
 * using a token whose policy allows reading `secret/data/bench/*` (not root:
 * the policy path is part of what is measured). This process opens both
 * stores too and runs library `get` with the same number of reads in flight.
 *
 * Each round measures four sides back to back, in an order that rotates:
 * library get (audited), HTTP (audited server), library get (audit off),
 * HTTP (audit-off server). Ratios are medians of per-round ratios. Like is
 * compared with like: HTTP on the audited store against library get on the
 * audited store, and the same with reads not audited; the target is on the
 * audited pair (TARGET_HTTP_RATIO says why). The server's CPU time per
 * request (Linux /proc) is printed too: unlike throughput, other processes
 * on the machine barely move it.
 *
 * BENCH_SERVE_NODE_ARGS is given to the server children (e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof`: each server writes its profile
 * when it stops at the end of the section).
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createKeyFile, initStore, keyFile, openStore, type Store } from '../src/index.js';
import { PolicyStore } from '../src/serve/policy-store.js';
import { TokenStore } from '../src/serve/auth/tokens.js';
import { CLI_MISSING, childEnv } from './cli.js';
import { nameOf, readOrder } from './data.js';
import { check, equalBytes, median, now, percentile, QUICK, removeDir, scratchDir, type Row } from './harness.js';
import { copyDatabase } from './sqlite.js';
import { decodeLatencies, readPathOf, valueTextOf, type ClientMessage, type RunResult } from './serve-protocol.js';

/**
 * HTTP reads at 16 clients, against library get with 16 in flight, both on
 * the audited store (the default). That is the pair doing the same work: a
 * server records every request it answers in the audit log, with
 * `audit.reads false` too, so its "unaudited" reads still write one entry
 * each where an unaudited library get writes nothing. Both pairs are printed.
 */
const TARGET_HTTP_RATIO = 0.5;
/** p99 latency of an HTTP read at 16 clients. */
const TARGET_P99_MS = 5;
/** Audited HTTP reads against reads of the audit-off server, 16 clients each. */
const TARGET_AUDITED_RATIO = 0.5;
const CONCURRENCY = [1, 16, 64] as const;
const ROWS = 1_000;
const POLICY = 'bench-read';
const POLICY_TEXT = 'path "secret/data/bench/*" {\n  capabilities = ["read"]\n}\n';

interface Server {
  port: number;
  child: ChildProcessWithoutNullStreams;
  stderr(): string;
  stop(): Promise<void>;
}

async function startServe(cli: string, storePath: string, keyPath: string): Promise<Server> {
  const nodeArgs = (process.env.BENCH_SERVE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, cli, '--store', storePath, '--keyfile', keyPath, 'serve', '--listen', '127.0.0.1:0', '--json'], {
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    void exited.then(() => reject(new Error(`store serve exited before listening: ${err.trim()}`)));
  });
  const { address } = JSON.parse(line) as { address: string };
  const port = Number(/:(\d+)$/.exec(address)?.[1]);
  check(Number.isInteger(port) && port > 0, `store serve listens on a TCP port (${address})`);
  return {
    port,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The load client process, one JSON line per message each way. */
class LoadClient {
  readonly #child: ChildProcess & { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream };
  readonly #lines: Interface;
  readonly #queue: string[] = [];
  readonly #waiting: ((line: string) => void)[] = [];
  readonly #exited: Promise<void>;

  constructor(script: string) {
    this.#child = spawn(process.execPath, [script], { env: childEnv(), stdio: ['pipe', 'pipe', 'inherit'] });
    this.#exited = new Promise((resolve) => this.#child.once('exit', () => resolve()));
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (l) => {
      const w = this.#waiting.shift();
      if (w) w(l);
      else this.#queue.push(l);
    });
    void this.#exited.then(() => {
      for (const w of this.#waiting.splice(0)) w(JSON.stringify({ op: 'error', message: 'the load client exited' }));
    });
  }

  async ask<T>(m: ClientMessage): Promise<T> {
    this.#child.stdin.write(`${JSON.stringify(m)}\n`);
    const line = this.#queue.shift() ?? (await new Promise<string>((resolve) => this.#waiting.push(resolve)));
    const reply = JSON.parse(line) as { op: string; message?: string };
    if (reply.op === 'error') throw new Error(`load client: ${reply.message}`);
    return reply as T;
  }

  async close(): Promise<void> {
    if (this.#child.exitCode === null) this.#child.stdin.end(`${JSON.stringify({ op: 'exit' })}\n`);
    await this.#exited;
  }
}

interface Measured {
  opsPerSec: number;
  latencies: Float32Array;
  /** The server's CPU time per request answered, µs (Linux). */
  cpuPerRequest?: number;
}

/** Library get with `concurrency` reads in flight, for `ms` after `warmMs`; every value checked. */
async function libraryRun(store: Store, concurrency: number, warmMs: number, ms: number, expected: Uint8Array[], order: Uint32Array, pos: { at: number }): Promise<Measured> {
  const start = now() + warmMs;
  const end = start + ms;
  let count = 0;
  let lastDone = start;
  const worker = async (): Promise<void> => {
    for (;;) {
      const t0 = now();
      if (t0 >= end) return;
      const i = order[pos.at++ % order.length]!;
      const got = await store.get(nameOf(i));
      const t1 = now();
      check(equalBytes(got.value.expose(), expected[i]!), `library get: ${nameOf(i)} reads back its value`);
      got.value.wipe();
      if (t0 >= start) {
        count++;
        lastDone = t1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { opsPerSec: count / ((Math.max(lastDone, end) - start) / 1000), latencies: new Float32Array(0) };
}

/**
 * CPU time a process has used so far, in µs, all its threads: from the
 * scheduler's nanosecond counts (/proc/PID/task/TID/schedstat), else
 * /proc/PID/stat's clock ticks (assumed 100 a second); undefined elsewhere.
 */
function cpuMicros(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'latin1').split(' ')[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1000;
  } catch {
    // no schedstat: try the ticks
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return undefined;
  }
}

async function httpRun(client: LoadClient, server: Server, concurrency: number, warmMs: number, ms: number): Promise<Measured> {
  const cpu0 = cpuMicros(server.child.pid!);
  const r = await client.ask<RunResult>({ op: 'run', port: server.port, concurrency, warmMs, ms });
  const cpu1 = cpuMicros(server.child.pid!);
  check(r.requests > 0, `HTTP run at ${concurrency} clients answered requests`);
  return {
    opsPerSec: r.requests / (r.elapsedMs / 1000),
    latencies: decodeLatencies(r.latencies),
    ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuPerRequest: (cpu1 - cpu0) / r.allRequests } : {}),
  };
}

/** Checks through the server before any timing: the value, the metadata, and that tokens and policies are enforced. */
async function checkServer(port: number, token: string): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  for (const i of [0, ROWS - 1, 123 % ROWS]) {
    const r = await fetch(base + readPathOf(i), { headers: { 'X-Vault-Token': token } });
    check(r.status === 200, `GET ${readPathOf(i)} answers 200 (got ${r.status})`);
    const body = (await r.json()) as { data: { data: unknown; metadata: { version: number } } };
    check(JSON.stringify(body.data.data) === JSON.stringify(JSON.parse(valueTextOf(i))), `GET ${readPathOf(i)} answers the value written`);
    check(body.data.metadata.version === 1, `GET ${readPathOf(i)} answers version 1`);
  }
  const none = await fetch(base + readPathOf(0));
  check(none.status === 403, `a read without a token is refused (got ${none.status})`);
  const outside = await fetch(`${base}/v1/secret/data/other/x`, { headers: { 'X-Vault-Token': token } });
  check(outside.status === 403, `a read outside the token's policy is refused (got ${outside.status})`);
}

async function auditEntries(store: Store): Promise<number> {
  return (await store.auditSummary()).lastSeq;
}

export async function benchServe(root: string, notes: string[]): Promise<Row[]> {
  const cli = join(root, 'dist/bin/store.js');
  const clientScript = join(dirname(fileURLToPath(import.meta.url)), 'serve-client.js');
  if (!existsSync(cli)) {
    notes.push(CLI_MISSING);
    return [{ name: 'serve GET ×16', opsPerSec: null, ratio: null, target: `≥ ${TARGET_HTTP_RATIO * 100} % of library get`, mark: 'skip', detail: CLI_MISSING }];
  }
  check(existsSync(clientScript), `the load client is built next to the bench (${clientScript}): run scripts/run-bench.mjs`);
  const rounds = QUICK ? 2 : 5;
  const roundMs = QUICK ? 250 : 700;
  const warmMs = QUICK ? 50 : 150;
  const dir = scratchDir('serve');
  const servers: Server[] = [];
  let client: LoadClient | undefined;
  let audited: Store | undefined;
  let unaudited: Store | undefined;
  try {
    // One store with the secrets, the policy and a token; the second a copy of it with reads not audited.
    const keyPath = join(dir, 'master.key');
    createKeyFile(keyPath);
    const auditedPath = join(dir, 'audited.db');
    const setup = await initStore(auditedPath, keyFile(keyPath));
    let token: string;
    try {
      for (let i = 0; i < ROWS; i++) await setup.put(nameOf(i), Buffer.from(valueTextOf(i), 'utf8'), { json: true });
      await new PolicyStore(setup).write(POLICY, POLICY_TEXT);
      ({ token } = await new TokenStore(setup).create(undefined, { policies: [POLICY], displayName: 'bench' }));
    } finally {
      await setup.close();
    }
    const unauditedDir = join(dir, 'copy');
    mkdirSync(unauditedDir);
    const unauditedPath = copyDatabase(auditedPath, unauditedDir, 'unaudited.db');
    audited = await openStore(auditedPath, keyFile(keyPath));
    unaudited = await openStore(unauditedPath, keyFile(keyPath));
    await unaudited.setConfig('audit.reads', 'false');
    check((await audited.getConfig('audit.reads')) === 'true' && (await unaudited.getConfig('audit.reads')) === 'false', 'serve: one store audits reads, the other does not');

    const sA = await startServe(cli, auditedPath, keyPath);
    servers.push(sA);
    const sU = await startServe(cli, unauditedPath, keyPath);
    servers.push(sU);
    await checkServer(sA.port, token);
    await checkServer(sU.port, token);
    // What a read through each server leaves in its store's audit log.
    const a0 = await auditEntries(audited);
    const u0 = await auditEntries(unaudited);
    await (await fetch(`http://127.0.0.1:${sA.port}${readPathOf(1)}`, { headers: { 'X-Vault-Token': token } })).text();
    await (await fetch(`http://127.0.0.1:${sU.port}${readPathOf(1)}`, { headers: { 'X-Vault-Token': token } })).text();
    const auditedPerRead = (await auditEntries(audited)) - a0;
    const unauditedPerRead = (await auditEntries(unaudited)) - u0;
    check(auditedPerRead === 1, `an HTTP read on the audited store leaves one audit entry (left ${auditedPerRead})`);

    client = new LoadClient(clientScript);
    await client.ask({ op: 'init', token, rows: ROWS });

    const expected = Array.from({ length: ROWS }, (_, i) => new Uint8Array(Buffer.from(valueTextOf(i), 'utf8')));
    const order = readOrder(Math.max(100_000, ROWS * 4), ROWS, 11);
    const pos = { at: 0 };
    const c = client;
    const sides = {
      libA: (n: number) => libraryRun(audited!, n, warmMs, roundMs, expected, order, pos),
      httpA: (n: number) => httpRun(c, sA, n, warmMs, roundMs),
      libU: (n: number) => libraryRun(unaudited!, n, warmMs, roundMs, expected, order, pos),
      httpU: (n: number) => httpRun(c, sU, n, warmMs, roundMs),
    };
    type Side = keyof typeof sides;
    const names = Object.keys(sides) as Side[];
    // Each server and the library side once at full load first: the servers have just started, and V8 compiles
    // their hot paths on background threads for a while, CPU that is not any request's.
    for (const s of names) await sides[s](16).then(() => sides[s](16));

    interface AtConcurrency {
      ops: Record<Side, number[]>;
      lat: { httpA: Float32Array[]; httpU: Float32Array[] };
      cpu: { httpA: number[]; httpU: number[] };
      ratio: { a: number[]; u: number[]; au: number[] };
    }
    const results = new Map<number, AtConcurrency>();
    for (const n of CONCURRENCY) {
      const r: AtConcurrency = { ops: { libA: [], httpA: [], libU: [], httpU: [] }, lat: { httpA: [], httpU: [] }, cpu: { httpA: [], httpU: [] }, ratio: { a: [], u: [], au: [] } };
      // One unmeasured round of each side (connections opened, JIT warm).
      for (const s of names) await sides[s](n);
      for (let round = 0; round < rounds; round++) {
        const got = {} as Record<Side, Measured>;
        for (let k = 0; k < names.length; k++) {
          const s = names[(round + k) % names.length]!;
          got[s] = await sides[s](n);
        }
        for (const s of names) r.ops[s].push(got[s].opsPerSec);
        r.lat.httpA.push(got.httpA.latencies);
        r.lat.httpU.push(got.httpU.latencies);
        if (got.httpA.cpuPerRequest !== undefined) r.cpu.httpA.push(got.httpA.cpuPerRequest);
        if (got.httpU.cpuPerRequest !== undefined) r.cpu.httpU.push(got.httpU.cpuPerRequest);
        r.ratio.a.push(got.httpA.opsPerSec / got.libA.opsPerSec);
        r.ratio.u.push(got.httpU.opsPerSec / got.libU.opsPerSec);
        r.ratio.au.push(got.httpA.opsPerSec / got.httpU.opsPerSec);
      }
      results.set(n, r);
    }
    for (const s of servers) check(s.child.exitCode === null, `store serve still runs after the timed rounds: ${s.stderr().trim()}`);

    const ms = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
    const lat = (parts: Float32Array[]) => {
      const all = Array.from(parts.flatMap((p) => Array.from(p)));
      return { p50: percentile(all, 50), p99: percentile(all, 99) };
    };
    const out: Row[] = [];
    const at16 = results.get(16)!;
    const label = { a: 'audited', u: 'audit.reads false' } as const;
    out.push(
      {
        name: 'serve floor: library get ×16 (audited)',
        opsPerSec: median(at16.ops.libA),
        ratio: null,
        target: '—',
        mark: 'info',
        detail: `await store.get(name), 16 in flight, on the audited store (the default): one audit entry per get, group-committed; ${ROWS.toLocaleString('en-US')} JSON secrets`,
      },
      {
        name: 'serve floor: library get ×16 (audit.reads false)',
        opsPerSec: median(at16.ops.libU),
        ratio: null,
        target: '—',
        mark: 'info',
        detail: 'the same on the copy with reads not audited: no write at all',
      },
    );
    for (const audit of ['a', 'u'] as const) {
      const http: Side = audit === 'u' ? 'httpU' : 'httpA';
      const lib: Side = audit === 'u' ? 'libU' : 'libA';
      for (const n of CONCURRENCY) {
        const r = results.get(n)!;
        const ratio = median(r.ratio[audit]);
        const { p50, p99 } = lat(r.lat[http]);
        const cpu = r.cpu[http].length > 0 ? median(r.cpu[http]) : undefined;
        // The target is on the pair that does the same work on both sides (see TARGET_HTTP_RATIO).
        const targeted = n === 16 && audit === 'a';
        out.push({
          name: `serve GET ×${n} (${label[audit]})`,
          opsPerSec: median(r.ops[http]),
          ratio,
          ratioKind: 'throughput',
          floor: `library get ×${n} (${label[audit]})`,
          target: targeted ? `≥ ${TARGET_HTTP_RATIO * 100} % of library get ×16 (audited)` : '—',
          mark: targeted ? (ratio >= TARGET_HTTP_RATIO ? 'pass' : 'FAIL') : 'info',
          detail: `p50 ${ms(p50)} ms, p99 ${ms(p99)} ms${cpu !== undefined ? `, server CPU ${cpu.toFixed(0)} µs/req` : ''}; `
            + `ratio vs library get ×${n} (${label[audit]}) ${(median(r.ops[lib]) / 1000).toFixed(1)} k/s`
            + (audit === 'u' && unauditedPerRead > 0 ? '; not like with like: the server still records each request' : ''),
          extra: { p50Ms: p50, p99Ms: p99, libraryOpsPerSec: median(r.ops[lib]), ...(cpu !== undefined ? { serverCpuMicrosPerRequest: cpu } : {}) },
        });
      }
    }
    for (const audit of ['a', 'u'] as const) {
      const { p50, p99 } = lat(at16.lat[audit === 'u' ? 'httpU' : 'httpA']);
      out.push({
        name: `serve p99 ×16 (${label[audit]})`,
        opsPerSec: null,
        ratio: null,
        target: `p99 < ${TARGET_P99_MS} ms`,
        mark: p99 < TARGET_P99_MS ? 'pass' : 'FAIL',
        detail: `p99 ${ms(p99)} ms, p50 ${ms(p50)} ms over ${rounds} rounds of ${roundMs} ms`,
        extra: { p50Ms: p50, p99Ms: p99 },
      });
    }
    const au = median(at16.ratio.au);
    out.push({
      name: 'serve audited ÷ audit.reads false ×16',
      opsPerSec: median(at16.ops.httpA),
      ratio: au,
      ratioKind: 'throughput',
      floor: 'serve GET ×16 (audit.reads false)',
      target: `≥ ${TARGET_AUDITED_RATIO * 100} % of audit.reads false`,
      mark: au >= TARGET_AUDITED_RATIO ? 'pass' : 'FAIL',
      detail: `audit entries per HTTP read: ${auditedPerRead} audited, ${unauditedPerRead} with audit.reads false`,
    });
    if (unauditedPerRead !== 0) {
      notes.push(`serve: with audit.reads false the server still records each request it answers (${unauditedPerRead} audit entry per read), so both servers write one entry per read: `
        + 'the target compares audited HTTP with audited library get, the one pair doing the same work');
    }
    return out;
  } finally {
    await client?.close();
    for (const s of servers) await s.stop();
    await audited?.close();
    await unaudited?.close();
    removeDir(dir);
  }
}
