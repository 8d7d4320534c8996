// What the "host" processes of the PostgreSQL reliability tests
// (fixtures/pg-host.mjs) report, and the checks made of it against the
// store afterwards: every acknowledged write reads back, each name's
// versions are numbered without a gap, and every read returned the newest
// version acknowledged before it began, or a newer one.
import { resolve } from 'node:path';
import type { Store } from '../../src/index.js';

export const PG_SEED = resolve('test/reliability/fixtures/pg-seed.mjs');
export const PG_HOST = resolve('test/reliability/fixtures/pg-host.mjs');
export const PG_ROTATOR = resolve('test/reliability/fixtures/pg-rotator.mjs');

/** Times are µs of CLOCK_MONOTONIC, the same clock in every process. */
export interface Ack { k: 'ack'; n: string; v: number; val: string; t0: number; t1: number; cas?: number }
export interface Read { k: 'read'; n: string; v: number; val: string; t0: number; t1: number }
export interface Fail { k: 'fail'; op: 'put' | 'get'; n: string; val?: string; code: string; msg: string; t0: number; t1: number }
export type HostEvent = Ack | Read | Fail | { k: 'cas'; n: string; v: number } | { k: 'bad'; n: string; v: number } | { k: 'done'; ops: number };

/** The events in a host's stdout (a line cut short by a SIGKILL is left out). */
export function hostEvents(stdout: string): HostEvent[] {
  const events: HostEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line) as HostEvent);
    } catch {
      // the last line of a killed process
    }
  }
  return events;
}

export const acksOf = (events: HostEvent[]) => events.filter((e): e is Ack => e.k === 'ack');
export const readsOf = (events: HostEvent[]) => events.filter((e): e is Read => e.k === 'read');
export const failsOf = (events: HostEvent[]) => events.filter((e): e is Fail => e.k === 'fail');

/**
 * Reads that saw an older version than one already acknowledged, or read as
 * finished, before they began (by any host): a read is current or newer.
 * Also reads whose value is not the one acknowledged for that version.
 */
export function staleReads(events: HostEvent[]): string[] {
  // Per name: what finished, in order of finishing, with the newest version finished so far.
  const done = new Map<string, { t1: number; v: number }[]>();
  const value = new Map<string, string>();
  for (const e of events) {
    if (e.k !== 'ack' && e.k !== 'read') continue;
    if (!done.has(e.n)) done.set(e.n, []);
    done.get(e.n)!.push({ t1: e.t1, v: e.v });
    if (e.k === 'ack') value.set(`${e.n}@${e.v}`, e.val);
  }
  for (const list of done.values()) {
    list.sort((a, b) => a.t1 - b.t1);
    for (let i = 1; i < list.length; i++) list[i]!.v = Math.max(list[i]!.v, list[i - 1]!.v);
  }
  const newestBefore = (list: { t1: number; v: number }[], t: number) => {
    let lo = 0;
    let hi = list.length; // the first that finished at t or later
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.t1 < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : list[lo - 1]!.v;
  };
  const problems: string[] = [];
  for (const r of readsOf(events)) {
    const newest = newestBefore(done.get(r.n)!, r.t0);
    if (r.v < newest) problems.push(`${r.n}: read version ${r.v} after version ${newest} was done`);
    const acked = value.get(`${r.n}@${r.v}`);
    if (r.v > 0 && acked !== undefined && acked !== r.val) problems.push(`${r.n}@${r.v}: read another value than the one written`);
  }
  return problems;
}

/** `fn` over `items`, at most `n` at a time (reads of one store run side by side on its pool). */
export async function eachLimited<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** Every version of each name with its value (a deleted or destroyed one as null). */
export async function storedValues(store: Store, names: Iterable<string>): Promise<Map<string, Map<number, string | null>>> {
  const out = new Map<string, Map<number, string | null>>();
  const wanted: [string, number][] = [];
  for (const name of names) {
    const versions = new Map<number, string | null>();
    out.set(name, versions);
    for (const h of await store.history(name)) wanted.push([name, h.version]);
  }
  await eachLimited(wanted, 8, async ([name, version]) => {
    let value: string | null = null;
    try {
      value = (await store.get(name, { version })).value.text();
    } catch (e) {
      if (!['E_DELETED', 'E_DESTROYED'].includes((e as { code?: string }).code ?? '')) throw e;
    }
    out.get(name)!.set(version, value);
  });
  return out;
}

/** Acknowledged writes whose version does not hold their value. */
export function lostAcks(stored: Map<string, Map<number, string | null>>, acks: Ack[]): string[] {
  return acks.filter((a) => stored.get(a.n)?.get(a.v) !== a.val).map((a) => `${a.n}@${a.v}`);
}

/** Names whose versions are not 1..n without a gap. */
export function gaps(stored: Map<string, Map<number, string | null>>): string[] {
  const problems: string[] = [];
  for (const [name, versions] of stored) {
    const vs = [...versions.keys()].sort((a, b) => a - b);
    const want = Array.from({ length: vs.length }, (_, i) => i + 1);
    if (JSON.stringify(vs) !== JSON.stringify(want)) problems.push(`${name}: versions ${vs.join(',')}`);
  }
  return problems;
}
