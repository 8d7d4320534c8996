/**
 * Progress for long work: a bar redrawn on stderr when it is a terminal,
 * nothing otherwise (cron mail and CI logs get the one-line summary instead).
 */
import { StoreError } from '../errors.js';
import type { Io } from './io.js';

const WIDTH = 30;
const MIN_REDRAW_MS = 100;

export function progressBar(io: Io, label: string): { update: (done: number, total: number) => void; end: () => void } {
  if (!io.stderrIsTTY) return { update: () => undefined, end: () => undefined };
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (done < total && now - last < MIN_REDRAW_MS) return;
      last = now;
      const ratio = total === 0 ? 1 : done / total;
      const filled = Math.round(ratio * WIDTH);
      io.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${done}/${total} ${(ratio * 100).toFixed(0)}%`);
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
  if (!m) throw new StoreError('E_USAGE', `a duration is a number and a unit (s, m, h, d, w), like 30d, not "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}
