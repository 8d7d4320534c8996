/**
 * No nonce ever repeats (random 24-byte XChaCha nonces, a fresh one per
 * seal), and nothing in the store can print SQL with bound values: better-
 * sqlite3's `verbose` logger is never set (it expands bound parameters, so a
 * ciphertext or name would reach a log), and the store and crypto layers
 * never write to the console or stdio.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initStore, rawKey } from '../../src/index.js';
import { NONCE_BYTES, open, seal } from '../../src/crypto/aead.js';

const base = mkdtempSync(join(tmpdir(), 'strongbox-sec-nonce-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const SRC = join(import.meta.dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts|js|mjs)$/.test(e)) out.push(p);
  }
  return out;
}

/** Source text without comments (so a comment saying "never verbose" does not count), strings kept. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The argument text of every `new Database(…)` call (balanced parentheses). */
function databaseCalls(src: string): string[] {
  const calls: string[] = [];
  const re = /new\s+(?:[\w$]+\.)*Database\s*\(/g;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    while (i < src.length && depth > 0) {
      if (src[i] === '(') depth++;
      else if (src[i] === ')') depth--;
      i++;
    }
    calls.push(src.slice(start, i - 1));
  }
  return calls;
}

describe('nonces', () => {
  it('100,000 seals under one key give 100,000 distinct nonces', () => {
    const key = new Uint8Array(randomBytes(32));
    const pt = new Uint8Array(16);
    const aad = new Uint8Array(8);
    const nonces = new Set<string>();
    const N = 100_000;
    for (let i = 0; i < N; i++) {
      const sealed = seal(key, pt, aad);
      nonces.add(Buffer.from(sealed.buffer, sealed.byteOffset, NONCE_BYTES).toString('hex'));
    }
    expect(nonces.size).toBe(N);
    expect(nonces.has('00'.repeat(NONCE_BYTES))).toBe(false);
    // Control: the nonce really is the first 24 bytes of what was sealed.
    const sealed = seal(key, pt, aad);
    const forged = new Uint8Array(sealed);
    forged[0]! ^= 1;
    expect(() => open(key, forged, aad)).toThrow();
    expect(Buffer.from(open(key, sealed, aad)).equals(Buffer.from(pt))).toBe(true);
  });

  it('values written by a store use distinct nonces (same name, same value, many versions)', async () => {
    const path = join(mkdtempSync(join(base, 's-')), 'store.db');
    const store = await initStore(path, rawKey(new Uint8Array(randomBytes(32))));
    try {
      for (let i = 0; i < 300; i++) await store.put('same', 'same value every time');
      for (let i = 0; i < 100; i++) await store.put(`n/${i}`, 'same value every time');
    } finally {
      await store.close();
    }
    const db = new Database(path, { fileMustExist: true, readonly: true });
    const blobs = db.prepare('SELECT ciphertext FROM versions').pluck().all() as Buffer[];
    db.close();
    expect(blobs.length).toBe(400);
    expect(new Set(blobs.map((b) => b.subarray(5, 5 + NONCE_BYTES).toString('hex'))).size).toBe(400);
    expect(new Set(blobs.map((b) => b.subarray(5 + NONCE_BYTES).toString('hex'))).size).toBe(400);
  });
});

describe('no SQL or value logging', () => {
  const files = sourceFiles(SRC);

  it('finds the driver sources it scans (control)', () => {
    const all = files.map((f) => stripComments(readFileSync(f, 'utf8'))).join('\n');
    expect(databaseCalls(all).length).toBeGreaterThan(0);
    expect(databaseCalls('x = new Database(p, { verbose: console.log, a: f(1) }); y')).toEqual(['p, { verbose: console.log, a: f(1) }']);
    expect(stripComments('a // never verbose\n/* verbose */ b')).not.toContain('verbose');
  });

  it('no `new Database(…)` in src/ passes a verbose option (nor an options variable that could hide one)', () => {
    const offenders: string[] = [];
    for (const f of files) {
      for (const args of databaseCalls(stripComments(readFileSync(f, 'utf8')))) {
        const opts = args.slice(args.indexOf(',') + 1).trim();
        const literal = args.includes(',') ? /^\{[^{}]*\}$/.test(opts) : true;
        if (/verbose/.test(args) || !literal) offenders.push(`${relative(SRC, f)}: new Database(${args})`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/store and src/crypto mention no verbose logger and never print', () => {
    const offenders: string[] = [];
    for (const f of files.filter((p) => /[/\\](store|crypto)[/\\]/.test(p))) {
      const code = stripComments(readFileSync(f, 'utf8'));
      for (const bad of [/\bverbose\b/, /\bconsole\./, /process\.(stdout|stderr)/]) {
        if (bad.test(code)) offenders.push(`${relative(SRC, f)}: ${bad}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('a store session writes nothing to the console or stdio', async () => {
    const canary = `CANARY-${randomBytes(8).toString('hex')}`;
    const printed: string[] = [];
    const saved = {
      log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug, trace: console.trace,
      out: process.stdout.write, err: process.stderr.write,
    };
    const capture = (...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    };
    const captureWrite = ((chunk: unknown) => {
      printed.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    console.log = console.info = console.warn = console.error = console.debug = console.trace = capture;
    process.stdout.write = captureWrite;
    process.stderr.write = captureWrite;
    try {
      const path = join(mkdtempSync(join(base, 'q-')), 'store.db');
      const key = new Uint8Array(randomBytes(32));
      const store = await initStore(path, rawKey(key));
      await store.put('app/x', canary);
      await store.get('app/x');
      await store.put('app/x', canary, { cas: 0 }).catch(() => undefined);
      await store.rollback('app/x', 1);
      await store.delete('app/x');
      await store.destroy('app/x', [1]);
      await store.purge('app/x');
      await store.close();
    } finally {
      Object.assign(console, { log: saved.log, info: saved.info, warn: saved.warn, error: saved.error, debug: saved.debug, trace: saved.trace });
      process.stdout.write = saved.out;
      process.stderr.write = saved.err;
    }
    expect(printed).toEqual([]);
  });
});
