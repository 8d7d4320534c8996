/**
 * `store set` reads a value only up to the store's limit (issue 10, 9b):
 * 200 MiB piped into a store of 1 MiB values used to be read whole (458 MiB
 * RSS) before the refusal. limit+1 bytes are enough to refuse.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readFileAtMost, readStreamAtMost } from '../../src/cli/bounded-read.js';
import { runInProcess, runInProcessOk } from '../helpers/in-process.js';
import { codeOf, rejectionCode } from '../helpers/errors.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A stream of `total` bytes made on demand, counting what was pulled from it. */
function counted(total: number): { stream: Readable; pulled: () => number } {
  let pulled = 0;
  const stream = new Readable({
    read() {
      if (pulled >= total) return void this.push(null);
      const n = Math.min(CHUNK, total - pulled);
      pulled += n;
      this.push(Buffer.alloc(n, 0x61));
    },
  });
  return { stream, pulled: () => pulled };
}


describe('readStreamAtMost / readFileAtMost', () => {
  it('a stream over the limit: E_VALUE_TOO_LARGE after limit+1 bytes, not the whole stream', async () => {
    const src = counted(200 * MiB);
    expect(await rejectionCode(readStreamAtMost(src.stream, MiB))).toBe('E_VALUE_TOO_LARGE');
    expect(src.pulled()).toBeLessThanOrEqual(MiB + 2 * CHUNK);
    expect(src.stream.destroyed).toBe(true);
  });

  it('a stream of exactly the limit, or less, is read whole', async () => {
    expect((await readStreamAtMost(counted(MiB).stream, MiB)).length).toBe(MiB);
    expect((await readStreamAtMost(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 3))).toEqual(new Uint8Array([0x61, 0x62, 0x63]));
    expect(await rejectionCode(readStreamAtMost(Readable.from([Buffer.from('abcd')]), 3))).toBe('E_VALUE_TOO_LARGE');
  });

  it('a file: the limit is accepted, one byte more refused; a missing file is E_IO', () => {
    const dir = tempDir();
    const at = join(dir, 'at');
    const over = join(dir, 'over');
    writeFileSync(at, Buffer.alloc(1000, 1));
    writeFileSync(over, Buffer.alloc(1001, 1));
    expect(readFileAtMost(at, 1000).length).toBe(1000);
    expect(codeOf(() => readFileAtMost(over, 1000))).toBe('E_VALUE_TOO_LARGE');
    expect(codeOf(() => readFileAtMost(join(dir, 'absent'), 1000))).toBe('E_IO');
  });
});

describe('store set with more than the store takes', () => {
  async function store(): Promise<{ base: string[]; dir: string }> {
    const dir = tempDir();
    const base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
    await runInProcessOk([...base, 'init', '--master', 'keyfile', '--max-value-bytes', String(MiB)]);
    return { base, dir };
  }

  it('in-process: 200 MiB on stdin into a 1 MiB store exits 2 having pulled about 1 MiB', async () => {
    const { base } = await store();
    const src = counted(200 * MiB);
    const r = await runInProcess([...base, 'set', 'big'], { input: src.stream });
    expect(r.status).toBe(2);
    expect(r.err).toContain(`larger than ${MiB} bytes`);
    expect(src.pulled()).toBeLessThanOrEqual(MiB + 2 * CHUNK);
    expect((await runInProcess([...base, 'get', 'big'])).status).toBe(3);
  });

  it('--file over the limit exits 2; at the limit is stored', async () => {
    const { base, dir } = await store();
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(3 * MiB, 1));
    const r = await runInProcess([...base, 'set', 'big', '--file', big]);
    expect(r.status).toBe(2);
    expect(r.err).toContain(`larger than ${MiB} bytes`);
    const exact = join(dir, 'exact');
    writeFileSync(exact, Buffer.alloc(MiB, 1));
    await runInProcessOk([...base, 'set', 'exact', '--file', exact]);
    expect((await runInProcessOk([...base, 'get', 'exact'])).bytes.length).toBe(MiB);
  });
});
