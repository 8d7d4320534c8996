/**
 * The exit statuses as documented agree with src/cli/exit-codes.ts: README's
 * table lists every status with exactly its error codes, and `store --help`
 * ends with all of them (10 included).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { exitStatusFooter, exitStatuses } from '../../../src/cli/help/exit-status.js';
import { runInProcess } from '../../helpers/in-process.js';

/** README's "### Exit status" table: status → the error codes it names. */
function readmeTable(): Map<number, string[]> {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('### Exit status');
  expect(start).toBeGreaterThan(-1);
  const rows = readme.slice(start).split('\n').filter((l) => /^\| \d+ \|/.test(l));
  const table = new Map<number, string[]>();
  for (const row of rows) {
    const [status, codes] = row.split('|').slice(1, 3).map((cell) => cell.trim());
    table.set(Number(status), [...codes!.matchAll(/`(E_[A-Z_]+)`/g)].map((m) => m[1]!).sort());
  }
  return table;
}

describe('exit statuses in the docs', () => {
  it('README\'s table has every status with exactly its codes', () => {
    const table = readmeTable();
    const expected = new Map(exitStatuses().map((row) => [row.status, [...row.codes].sort()]));
    expect([...table.keys()]).toEqual([...expected.keys()]);
    expect(table).toEqual(expected);
    expect(table.has(EXIT.found)).toBe(true);
  });

  it('store --help ends with every status and its meaning', async () => {
    const r = await runInProcess(['--help']);
    expect(r.status).toBe(0);
    expect(r.out.trimEnd().endsWith(exitStatusFooter())).toBe(true);
    const footer = r.out.slice(r.out.lastIndexOf('Exit status:')).replace(/\s+/g, ' ');
    for (const row of exitStatuses()) expect(footer).toContain(`${row.status} ${row.meaning}`);
    for (const line of exitStatusFooter().split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
