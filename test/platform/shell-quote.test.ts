/** shellQuote and shellWord (src/platform/shell-quote.ts): what a POSIX shell reads back is the text itself. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { shellQuote, shellWord } from '../../src/platform/shell-quote.js';
import { modeText } from '../../src/platform/file-mode.js';

/** The words as `shell` reads them back: each printed NUL-terminated by printf. */
function readBack(shell: string, words: string[]): string[] {
  const r = spawnSync(shell, ['-c', `printf '%s\\0' ${words.join(' ')}`]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split('\0').slice(0, -1);
}

describe('shell words', () => {
  it('sh and bash read back any text, the empty one and quotes too, from both', () => {
    const fixed = ['', "it's", "''", 'a b', '$HOME', '`id`', '\\', '*', '~', 'a\nb', '-n', '/plain/path.db', 'x=y'];
    fc.assert(fc.property(fc.array(fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')), { maxLength: 20 }), (random) => {
      const texts = [...fixed, ...random];
      for (const shell of ['sh', 'bash']) {
        expect(readBack(shell, texts.map(shellQuote))).toEqual(texts);
        expect(readBack(shell, texts.map(shellWord))).toEqual(texts);
      }
    }), { numRuns: 20 });
  });

  it('shellQuote always quotes; shellWord leaves a plain word bare', () => {
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('abc')).toBe("'abc'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellWord('')).toBe("''");
    expect(shellWord('/var/lib/app/secrets.db')).toBe('/var/lib/app/secrets.db');
    expect(shellWord('/tmp/my store.db')).toBe("'/tmp/my store.db'");
  });
});

describe('modeText', () => {
  it('four octal digits of the permission bits, special bits too, file type bits not', () => {
    expect(modeText(0o100644)).toBe('0644');
    expect(modeText(0o40700)).toBe('0700');
    expect(modeText(0o41777)).toBe('1777');
    expect(modeText(0o600)).toBe('0600');
  });
});
