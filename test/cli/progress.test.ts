/** The progress bar: rate and time left on a terminal under a clock the test turns, nothing at all off one. */
import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { formatDuration, formatRate, progressBar } from '../../src/cli/progress.js';
import type { Io } from '../../src/cli/io.js';
import { sink } from '../helpers/sink.js';

function terminal(tty: boolean): { io: Io; err: () => string } {
  const out = sink();
  const err = sink();
  return {
    io: { stdin: Readable.from([]), stdout: out.stream, stderr: err.stream, env: {}, stdinIsTTY: false, stdoutIsTTY: tty, stderrIsTTY: tty },
    err: err.text,
  };
}

/** The frames drawn so far (each starts with a carriage return), trailing padding dropped. */
const frames = (text: string) => text.split('\r').slice(1).map((f) => f.trimEnd());

describe('progressBar', () => {
  it('shows the rate and the time left once a second has passed, and the rate and time taken at the end', () => {
    const t = terminal(true);
    let now = 50_000;
    const bar = progressBar(t.io, 'rewrap', { now: () => now });
    bar.update(0, 1000);
    now += 500;
    bar.update(40, 1000); // half a second: too soon for a rate
    now += 1500;
    bar.update(200, 1000); // 200 in 2 s: 100/s, 800 left: 8 s
    now += 50;
    bar.update(205, 1000); // within 100 ms of the last frame: not drawn
    now += 8000;
    bar.update(1000, 1000);
    bar.end();
    expect(frames(t.err())).toEqual([
      `rewrap [${'.'.repeat(30)}] 0/1000 0%`,
      `rewrap [#${'.'.repeat(29)}] 40/1000 4%`,
      `rewrap [######${'.'.repeat(24)}] 200/1000 20% 100/s, 8s left`,
      `rewrap [${'#'.repeat(30)}] 1000/1000 100% 100/s, took 10s`,
    ]);
    expect(t.err().endsWith('\n')).toBe(true);
  });

  it('pads a frame shorter than the one before, so no stale characters stay on the line', () => {
    const t = terminal(true);
    let now = 0;
    const bar = progressBar(t.io, 'verify', { now: () => now });
    bar.update(0, 100_000);
    now += 10_000;
    bar.update(10_000, 100_000); // 1000/s, 90 s left: "1m30s left"
    now += 51_000;
    bar.update(61_000, 100_000); // 1000/s, 39 s left: "39s left", two characters shorter
    const raw = t.err().split('\r');
    expect(raw[2]).toMatch(/ 1\.0k\/s, 1m30s left$/);
    expect(raw[3]).toMatch(/ 1\.0k\/s, 39s left {2}$/);
    expect(raw[3]!.length).toBe(raw[2]!.length);
  });

  it('the rate counts from the first update, not from zero (a resumed rewrap)', () => {
    const t = terminal(true);
    let now = 0;
    const bar = progressBar(t.io, 'rewrap', { now: () => now });
    bar.update(600, 1000);
    now += 2000;
    bar.update(800, 1000);
    expect(frames(t.err()).at(-1)).toMatch(/ 800\/1000 80% 100\/s, 2s left$/);
  });

  it('writes nothing when stderr is not a terminal (cron mail, CI logs)', () => {
    const t = terminal(false);
    let now = 0;
    const bar = progressBar(t.io, 'backup', { now: () => now });
    bar.update(0, 10);
    now += 5000;
    bar.update(10, 10);
    bar.end();
    expect(t.err()).toBe('');
  });

  it('formats rates and durations short', () => {
    expect([0.25, 3.46, 10, 850.4, 12_345, 2_500_000].map(formatRate)).toEqual(['0.3', '3.5', '10', '850', '12.3k', '2.5M']);
    expect([0, 499, 42_000, 59_600, 185_000, 3_600_000, 7_380_000].map(formatDuration)).toEqual(['0s', '0s', '42s', '1m00s', '3m05s', '1h00m', '2h03m']);
  });
});
