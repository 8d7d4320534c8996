import { describe, expect, it } from 'vitest';
import { MAX_NAME_LENGTH, checkName, namePattern, nameProblem } from '../../src/store/names.js';
import { parseRequirement } from '../../src/store/check.js';
import { codeOf, errorOf } from '../helpers/errors.js';

describe('secret names', () => {
  const valid = [
    'a', 'Z', '0', 'db', 'app/prod/db-password', 'A.B_C-D/e.f', 'a'.repeat(MAX_NAME_LENGTH),
    `${'a/'.repeat(127)}b`, '.env', 'a/.b', 'a..b', '...', '.a./b', '-', '_', 'x-/-y',
  ];
  const invalid: [string, unknown][] = [
    ['empty', ''],
    ['leading /', '/a'],
    ['trailing /', 'a/'],
    ['only /', '/'],
    ['empty segment', 'a//b'],
    ['dot-dot segment', 'a/../b'],
    ['leading dot-dot segment', '../a'],
    ['trailing dot-dot segment', 'a/..'],
    ['dot segment', 'a/./b'],
    ['trailing dot segment', 'a/.'],
    ['.', '.'],
    ['..', '..'],
    ['space', 'a b'],
    ['tab', 'a\tb'],
    ['257 chars', 'a'.repeat(MAX_NAME_LENGTH + 1)],
    ['non-ASCII letter', 'ä'],
    ['emoji', 'key🔑'],
    ['glob star', 'a*'],
    ['glob ?', 'a?'],
    ['bracket', 'a[1]'],
    ['backslash', 'a\\b'],
    ['percent', '50%'],
    ['plus', 'a+b'],
    ['equals', 'a=b'],
    ['NUL', 'a\u0000'],
    ['number', 1],
    ['boolean', true],
    ['array', ['a']],
    ['String object', new String('a')],
  ];

  it('MAX_NAME_LENGTH is 256', () => {
    expect(MAX_NAME_LENGTH).toBe(256);
  });

  for (const n of valid) {
    it(`accepts ${JSON.stringify(n.length > 40 ? `${n.slice(0, 20)}…(${n.length})` : n)}`, () => {
      expect(nameProblem(n)).toBeUndefined();
      expect(checkName(n)).toBe(n);
    });
  }

  for (const [what, n] of invalid) {
    it(`refuses ${what} with E_INVALID_NAME`, () => {
      expect(typeof nameProblem(n)).toBe('string');
      expect(codeOf(() => checkName(n))).toBe('E_INVALID_NAME');
    });
  }

  it('a pattern without * ? [ is a plain prefix', () => {
    for (const p of ['app/', '', 'a.b-c_d']) expect(namePattern(p)).toEqual({ prefix: p });
  });

  it('globs match like a shell: * and ? stay in one segment, ** crosses them', () => {
    const names = ['app/x/db', 'app/x/y/db', 'app/db', 'app/prod/api', 'b.c', 'bxc'];
    const matching = (p: string) => {
      const m = namePattern(p);
      return names.filter((n) => n.startsWith(m.prefix) && (!m.test || m.test(n)));
    };
    expect(namePattern('app/*/db').prefix).toBe('app/');
    expect(matching('app/*/db')).toEqual(['app/x/db']);
    expect(matching('app/**/db')).toEqual(['app/x/db', 'app/x/y/db']);
    expect(matching('b?c')).toEqual(['b.c', 'bxc']);
    expect(matching('b.c')).toEqual(['b.c']); // '.' is literal, not a regex wildcard
    expect(matching('app/[px]*/*')).toEqual(['app/x/db', 'app/prod/api']);
    expect(matching('app/[!p]/db')).toEqual(['app/x/db']);
    expect(() => namePattern('app/[x')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('a name holding = is never quoted (NAME=value habit; issue 10, 12)', () => {
  it('checkName: E_INVALID_NAME without the name, and a hint that values come from stdin or --file', () => {
    for (const n of ['FOO=hunter2', 'a=b', '=hunter2', 'app/db=hunter2']) {
      const e = errorOf(() => checkName(n));
      expect(e.code).toBe('E_INVALID_NAME');
      expect(e.message).not.toContain('hunter2');
      expect(e.message).not.toContain(n);
      expect(e.hints.join(' ')).toMatch(/stdin or with --file/);
    }
    // A name without '=' is still quoted when short and printable (it helps find a typo).
    expect(errorOf(() => checkName('bad name!')).message).not.toContain('"bad name!"'); // a space: not printable-only
    expect(errorOf(() => checkName('bad!')).message).toContain('"bad!"');
  });

  it('a list pattern and a check requirement do not echo it either', () => {
    const p = errorOf(() => namePattern('FOO=hunter2[x'));
    expect(p.code).toBe('E_USAGE');
    expect(p.message).not.toContain('hunter2');
    const r = errorOf(() => parseRequirement('FOO=hunter2'));
    expect(r.code).toBe('E_USAGE');
    expect(r.message).not.toContain('hunter2');
    // Rules hold '=' on purpose; a bad rule under a good name is still quoted.
    expect(errorOf(() => parseRequirement('app/db:min=x')).message).toContain('"app/db:min=x"');
  });
});
