/**
 * "Hosts" for the PostgreSQL bench: child processes of the bench, each
 * with its own store opened on the same database (its own pool of
 * connections), reading by name in a fixed random order for as long as it
 * is told. The parent starts them once and runs rounds of one host or all
 * of them at once; each reports how many reads it made and the running sum
 * of their first bytes, checked by the parent.
 *
 * A child is this same bundle run with HOST_FLAG; the master key reaches it
 * over the IPC channel, never in argv or the environment.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { openStore, rawKey, type Store } from '../src/index.js';
import { open } from '../src/crypto/aead.js';
import { poolFor, postgresLocation } from '../src/storage/postgres/open.js';
import { nameOf, readOrder } from './data.js';

export const HOST_FLAG = '--bench-postgres-host';

/** `floor`: the floor table's sealing key and AAD (hex), for raw reads as bench/postgres.ts's floor-get makes them. */
interface Setup { url: string; master: string; secrets: number; orderLength: number; start: number; floor: { key: string; aad: string } }
/** `raw`: read the floor table through a pool of the host's own (the floor), not the store. */
type ToHost = { setup: Setup } | { run: number; raw?: boolean } | { stop: true };
type FromHost = { ready: true } | { done: { reads: number; sum: number; start: number } } | { failed: string };

/** The child's side: open the store, then read whenever told to, until told to stop. */
export async function runHost(): Promise<void> {
  let store: Store | undefined;
  let pool: pg.Pool | undefined;
  let floor: { key: Buffer; aad: Buffer } | undefined;
  let order: Uint32Array = new Uint32Array(0);
  let names: string[] = [];
  let pos = 0;
  const send = (m: FromHost) => process.send!(m);
  process.on('message', (m: ToHost) => {
    void (async () => {
      try {
        if ('setup' in m) {
          const s = m.setup;
          store = await openStore(s.url, rawKey(Buffer.from(s.master, 'hex')));
          pool = poolFor(postgresLocation(s.url));
          floor = { key: Buffer.from(s.floor.key, 'hex'), aad: Buffer.from(s.floor.aad, 'hex') };
          names = Array.from({ length: s.secrets }, (_, i) => nameOf(i));
          order = readOrder(s.orderLength, s.secrets, 42);
          pos = s.start;
          for (let k = 0; k < 200; k++) await store.get(names[order[(pos + k) % order.length]!]!); // connections made, statements prepared
          for (let k = 0; k < 200; k++) await rawGet(names[order[(pos + k) % order.length]!]!);
          send({ ready: true });
        } else if ('run' in m) {
          const start = pos;
          const deadline = performance.now() + m.run;
          let sum = 0;
          let reads = 0;
          while (performance.now() < deadline) {
            const name = names[order[pos++ % order.length]!]!;
            sum += m.raw ? (await rawGet(name))[0]! : (await store!.get(name)).value.expose()[0]!;
            reads++;
          }
          send({ done: { reads, sum, start } });
        } else {
          await store?.close();
          await pool?.end();
          process.disconnect();
        }
      } catch (e) {
        send({ failed: (e as Error).message });
      }
    })();
  });

  /** floor-get's read, as bench/postgres.ts makes it: a named point SELECT from the floor table and an AEAD open. */
  async function rawGet(name: string): Promise<Uint8Array> {
    const r = (await pool!.query({ name: 'floor_get', text: 'SELECT value FROM bench_floor.t WHERE name = $1', values: [name] })).rows[0] as { value: Buffer };
    return open(floor!.key, r.value, floor!.aad);
  }
}

/** The parent's side: `count` hosts, each reading from its own place in the order. */
export class Hosts {
  readonly #children: ChildProcess[] = [];

  private constructor() {}

  static async start(count: number, setup: Omit<Setup, 'start'>): Promise<Hosts> {
    const hosts = new Hosts();
    try {
      await Promise.all(Array.from({ length: count }, async (_, k) => {
        const child = fork(process.argv[1]!, [HOST_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        hosts.#children.push(child);
        await hosts.#ask(child, { setup: { ...setup, start: Math.floor((k * setup.orderLength) / count) } }, 'ready');
      }));
    } catch (e) {
      await hosts.stop();
      throw e;
    }
    return hosts;
  }

  /** Let the first `n` hosts read for `ms` at once; what each reported. */
  run(n: number, ms: number, raw = false): Promise<{ reads: number; sum: number; start: number }[]> {
    return Promise.all(this.#children.slice(0, n).map(async (c) => {
      const m = await this.#ask(c, { run: ms, raw }, 'done');
      return (m as { done: { reads: number; sum: number; start: number } }).done;
    }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#children.map((c) => new Promise<void>((resolve) => {
      if (!c.connected) return resolve();
      c.once('exit', () => resolve());
      c.send({ stop: true } satisfies ToHost);
    })));
  }

  #ask(child: ChildProcess, m: ToHost, want: 'ready' | 'done'): Promise<FromHost> {
    return new Promise((resolve, reject) => {
      const onMessage = (r: FromHost) => {
        child.off('exit', onExit);
        child.off('message', onMessage);
        if ('failed' in r) reject(new Error(`bench host ${child.pid}: ${r.failed}`));
        else if (want in r) resolve(r);
        else reject(new Error(`bench host ${child.pid}: unexpected answer`));
      };
      const onExit = (code: number | null) => {
        child.off('message', onMessage);
        reject(new Error(`bench host ${child.pid} exited (${code})`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(m);
    });
  }
}
