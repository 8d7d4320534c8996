/** Durations as Vault's API takes them (src/serve/auth/duration.ts). */
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/serve/auth/duration.js';

describe('parseDuration', () => {
  it('whole seconds as a number or text, Go duration strings, days, and "" as 0', () => {
    const cases: [unknown, number][] = [
      [3600, 3600], [0, 0], [2.9, 2], ['3600', 3600], [' 90 ', 90], ['', 0], ['0', 0],
      ['90s', 90], ['1h30m', 5400], ['1h', 3600], ['1.5h', 5400], ['0.1h', 360], ['2m3s', 123], ['1h0m0s', 3600],
      ['1500ms', 1], ['999ms', 0], ['1000000us', 1], ['3000000000ns', 3], ['2µs', 0], ['.5m', 30], ['7d', 604_800], ['768h', 2_764_800],
    ];
    for (const [input, seconds] of cases) expect(parseDuration(input, 'ttl'), String(input)).toBe(seconds);
  });

  it('refuses what is not a duration, naming the field and never the text', () => {
    for (const bad of ['hunter2-PASTED', '-1h', '-5', 'h', '1x', '1h30', '1d2h', '1.5d', 'one hour', '.h', '1 h', true, null, {}, [], -1, Number.NaN, Infinity, 1e12]) {
      let thrown: unknown;
      try {
        parseDuration(bad, 'token_ttl');
      } catch (e) {
        thrown = e;
      }
      expect(thrown, String(bad)).toMatchObject({ code: 'E_USAGE', message: expect.stringContaining('token_ttl') });
      expect((thrown as Error).message).not.toContain('hunter2');
    }
  });
});
