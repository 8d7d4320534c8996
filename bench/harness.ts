/**
 * Bench plumbing: sizes, timing, paired rounds, the result table and its JSON.
 * Speed is only ever measured and printed here, never asserted: a row that
 * misses its target is marked, the run still succeeds. A wrong *result* (a
 * value read back that differs from the one written) is a failure, though.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** BENCH_QUICK=1 shrinks every size about tenfold for a smoke run. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** `full` normally, `full / 10` (at least `min`) under BENCH_QUICK=1. */
export function size(full: number, min = 1): number {
  return QUICK ? Math.max(min, Math.round(full / 10)) : full;
}

/** A correctness check that failed: the numbers next to it would mean nothing. */
export class BenchCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchCheckError';
  }
}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new BenchCheckError(`check failed: ${what}`);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const now = (): number => performance.now();

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1]!;
}

/** Run `fn(ops)` and return ops per second. */
export async function opsPerSec(ops: number, fn: (ops: number) => unknown): Promise<number> {
  const t0 = now();
  await fn(ops);
  const ms = now() - t0;
  return ops / (ms / 1000);
}

export interface Paired {
  /** Median ops/s of the floor over the measured rounds. */
  floor: number;
  /** Median ops/s of the subject. */
  subject: number;
  /** Median over rounds of subject/floor, each pair measured back to back. */
  ratio: number;
  rounds: number;
}

/**
 * Alternate floor and subject rounds of `ops` operations each (who goes first
 * alternates too), after one unmeasured warm-up round of each. The ratio is
 * the median of per-pair ratios, so a slow spell on a noisy machine hits both
 * sides of a pair rather than one whole series.
 */
export async function paired(
  rounds: number,
  ops: number,
  floor: (ops: number) => unknown,
  subject: (ops: number) => unknown,
  warmOps = ops,
): Promise<Paired> {
  await floor(warmOps);
  await subject(warmOps);
  const f: number[] = [];
  const s: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = await opsPerSec(ops, floor);
      b = await opsPerSec(ops, subject);
    } else {
      b = await opsPerSec(ops, subject);
      a = await opsPerSec(ops, floor);
    }
    f.push(a);
    s.push(b);
    r.push(b / a);
  }
  return { floor: median(f), subject: median(s), ratio: median(r), rounds };
}

export type Mark = 'pass' | 'FAIL' | 'info' | 'skip' | 'error';

export interface Row {
  name: string;
  /** Operations per second (for a process: runs per second at the median). */
  opsPerSec: number | null;
  /** Against this row's floor, as `ratioKind` says; null when the row has none. */
  ratio: number | null;
  /** `throughput`: subject ops/s ÷ floor ops/s (higher is better); `time`: subject time ÷ floor time (lower is better). */
  ratioKind?: 'throughput' | 'time';
  /** Name of the floor row the ratio is against. */
  floor?: string;
  target: string;
  mark: Mark;
  /** Extra numbers: MB/s, median and p90 ms, why a row was skipped. */
  detail: string;
  extra?: Record<string, number | string>;
}

export function fmtOps(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e4) return `${(x / 1e3).toFixed(1)} k`;
  if (x >= 100) return x.toFixed(0);
  return x.toFixed(1);
}

function fmtRatio(r: Row): string {
  if (r.ratio === null) return '—';
  return r.ratioKind === 'time' ? `${r.ratio.toFixed(2)}× time` : `${(r.ratio * 100).toFixed(0)} %`;
}

const MARKS: Record<Mark, string> = { pass: '✔ pass', FAIL: '✘ FAIL', info: '· info', skip: '- skip', error: '! error' };

/** The one result table, fixed-width, for a terminal or a CI log. */
export function renderTable(rows: readonly Row[]): string {
  const head = ['name', 'ops/s', 'ratio vs floor', 'target', 'mark', 'detail'];
  const body = rows.map((r) => [r.name, fmtOps(r.opsPerSec), fmtRatio(r), r.target, MARKS[r.mark], r.detail]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export interface Results {
  date: string;
  quick: boolean;
  node: string;
  platform: string;
  cpus: { count: number; model: string };
  tmpdir: string;
  durationMs: number;
  rows: Row[];
  notes: string[];
}

export function environment(): Omit<Results, 'durationMs' | 'rows' | 'notes' | 'tmpdir'> {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    quick: QUICK,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: { count: c.length, model: c[0]?.model ?? 'unknown' },
  };
}

export function writeResults(path: string, results: Results): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** A fresh scratch directory under the OS temp dir (on disk, as the store would be). */
export function scratchDir(label: string, base = tmpdir()): string {
  return mkdtempSync(join(base, `strongbox-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * The check and the two context rows of a put paired against the rows it
 * writes, written raw (bench/put.ts on SQLite, bench/postgres.ts): `prefix`
 * names the driver's rows ('' or 'pg '), `count` is what the floor's tables
 * hold after `n` of its puts.
 */
export function putsRowsResult(
  prefix: string, r: Paired, ops: number, n: number, count: { s: number; v: number; a: number }, floorDetail: string, what: 'rows' | 'work' = 'rows',
): Row[] {
  const floor = `${prefix}floor-put (a put's ${what})`;
  check(count.s === n && count.v === n && count.a === n, `${floor}: ${n} of each row written`);
  return [
    { name: floor, opsPerSec: r.floor, ratio: null, target: '—', mark: 'info', detail: floorDetail },
    {
      name: `${prefix}put vs a put's ${what}`, opsPerSec: r.subject, ratio: r.ratio, ratioKind: 'throughput', floor, target: '—', mark: 'info',
      detail: `the same puts against ${what === 'rows' ? 'the raw rows they write' : 'all their work done raw'}, ${r.rounds}×${ops} commits/side`,
    },
  ];
}
