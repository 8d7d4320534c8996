/**
 * fishQuote (src/platform/shell-quote.ts): what fish reads back is the text
 * itself; and shellQuote in the other shells `store env --format shell` is
 * for (dash and zsh; sh and bash are in shell-quote.test.ts). fish and zsh
 * are installed for the tests by scripts/install-shells.sh.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fishQuote, shellQuote } from '../../src/platform/shell-quote.js';

/** The words as `shell` reads them back: each printed NUL-terminated by printf. */
function readBack(shell: string[], words: string[]): string[] {
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', `printf '%s\\0' ${words.join(' ')}`]);
  expect(r.status, r.stderr.toString()).toBe(0);
  return r.stdout.toString('utf8').split('\0').slice(0, -1);
}

/** Texts an environment variable can hold: UTF-8 (no lone surrogates), no NUL. */
const text = fc.string({ unit: 'grapheme' }).map((s) => s.replace(/\0/g, ''));
const ascii = fc.string({ unit: 'binary-ascii' }).map((s) => s.replace(/\0/g, ''));
const fixed = ['', "it's", "''", 'x\\', "\\'", '\\\\', 'a\\\\b', "'; echo PWNED; #", 'a b', '$HOME', '(echo x)', '`id`', '{a,b}', '~', '*',
  'a\nb', 'a\r\nb', '\u001b[31m', '-n', '%s', '\uFEFF', 'héllo ✓ 🔑', '\uF600\uF6FF', 'a;b', 'a|b', 'a#b'];

describe('fishQuote', () => {
  it('fish reads back any text, the fixed hard ones and random ones', () => {
    fc.assert(fc.property(fc.array(fc.oneof(text, ascii), { maxLength: 20 }), (random) => {
      const texts = [...fixed, ...random];
      expect(readBack(['fish', '--no-config'], texts.map(fishQuote))).toEqual(texts);
    }), { numRuns: 20 });
  });

  it("escapes only \\ and ' inside single quotes", () => {
    expect(fishQuote('')).toBe("''");
    expect(fishQuote('abc')).toBe("'abc'");
    expect(fishQuote("it's")).toBe("'it\\'s'");
    expect(fishQuote('x\\')).toBe("'x\\\\'");
    expect(fishQuote('$a\n')).toBe("'$a\n'");
  });
});

describe('shellQuote in dash and zsh', () => {
  it('read back any text', () => {
    fc.assert(fc.property(fc.array(fc.oneof(text, ascii), { maxLength: 20 }), (random) => {
      const texts = [...fixed, ...random];
      for (const shell of [['dash'], ['zsh', '-f']]) expect(readBack(shell, texts.map(shellQuote)), shell[0]).toEqual(texts);
    }), { numRuns: 20 });
  });
});
