/**
 * Progress for long work: a bar redrawn on stderr when it is a terminal,
 * nothing otherwise (cron mail and CI logs get the one-line summary instead).
 */
import { StoreError } from '../errors.js';
import { notShown } from './error-report.js';
import type { Io } from './io.js';

const WIDTH = 30;
const MIN_REDRAW_MS = 100;
/** A rate measured over less than this is noise: no rate or time left before it. */
const MIN_RATE_WINDOW_MS = 1000;

/** Items a second, short: 3.5, 850, 12.3k, 1.2M. */
export function formatRate(perSecond: number): string {
  if (perSecond < 10) return perSecond.toFixed(1);
  if (perSecond < 1000) return perSecond.toFixed(0);
  if (perSecond < 1_000_000) return `${(perSecond / 1000).toFixed(1)}k`;
  return `${(perSecond / 1_000_000).toFixed(1)}M`;
}

/** A duration for people, to the second: 42s, 3m05s, 2h03m. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export interface ProgressOptions {
  /** The clock, in ms (tests). */
  now?: () => number;
}

/**
 * A bar on stderr with the rate (items a second since the first update) and
 * the time left at that rate; at the end, the rate and the time it took.
 */
export function progressBar(io: Io, label: string, options: ProgressOptions = {}): { update: (done: number, total: number) => void; end: () => void } {
  if (!io.stderrIsTTY) return { update: () => undefined, end: () => undefined };
  const now = options.now ?? Date.now;
  let last = -Infinity;
  let drawn = false;
  let shown = 0;
  let start: { at: number; done: number } | undefined;
  return {
    update(done, total) {
      const t = now();
      start ??= { at: t, done };
      if (done < total && t - last < MIN_REDRAW_MS) return;
      last = t;
      const ratio = total === 0 ? 1 : done / total;
      const filled = Math.round(ratio * WIDTH);
      const elapsed = t - start.at;
      const rate = (done - start.done) / (elapsed / 1000);
      let speed = '';
      if (elapsed >= MIN_RATE_WINDOW_MS && rate > 0) {
        speed = done >= total ? ` ${formatRate(rate)}/s, took ${formatDuration(elapsed)}` : ` ${formatRate(rate)}/s, ${formatDuration(((total - done) / rate) * 1000)} left`;
      }
      const text = `${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total} ${(ratio * 100).toFixed(0)}%${speed}`;
      // Spaces over what a longer previous line left (no escape codes: TERM=dumb and NO_COLOR terminals too).
      io.stderr.write(`\r${text}${' '.repeat(Math.max(0, shown - text.length))}`);
      shown = text.length;
      drawn = true;
    },
    end() {
      if (drawn) io.stderr.write('\n');
    },
  };
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30d", "12h", "90m", "45s", "2w" to milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!m) throw new StoreError('E_USAGE', `a duration is a number and a unit (s, m, h, d, w), like 30d${notShown(text)}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/**
 * Two bars for work that copies, then checks what it copied (backup --verify,
 * migrate): the copy's bar ends when the first check progress arrives.
 * `end()` closes whichever is still drawn.
 */
export function copyThenVerifyBars(io: Io, copyLabel: string): {
  onProgress: (done: number, total: number) => void;
  onVerifyProgress: (done: number, total: number) => void;
  end: () => void;
} {
  const copyBar = progressBar(io, copyLabel);
  const verifyBar = progressBar(io, 'verify');
  let copying = true;
  return {
    onProgress: copyBar.update,
    onVerifyProgress: (done, total) => {
      if (copying) copyBar.end();
      copying = false;
      verifyBar.update(done, total);
    },
    end: () => {
      if (copying) copyBar.end();
      verifyBar.end();
    },
  };
}
