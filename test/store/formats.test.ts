/** The format rules of `store check`, each good and bad, and the rule parser. */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { formatProblem, parseRule, ruleText, type FormatRule } from '../../src/store/formats.js';
import { codeOf } from '../helpers/errors.js';

const bytes = (s: string | Uint8Array) => (typeof s === 'string' ? new TextEncoder().encode(s) : s);
const problem = (rule: string, value: string | Uint8Array) => formatProblem(parseRule(rule), bytes(value));

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }) as string;
const LEGACY_ENCRYPTED = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'Proc-Type: 4,ENCRYPTED',
  'DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF',
  '',
  'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=',
  '-----END RSA PRIVATE KEY-----',
  '',
].join('\n');

describe('parseRule', () => {
  it('reads every rule and writes it back as given', () => {
    for (const text of ['pem', 'base64', 'base64url', 'hex', 'json', 'url', 'min=1', 'min=32']) expect(ruleText(parseRule(text))).toBe(text);
    expect(parseRule(' min=8 ')).toEqual({ kind: 'min', bytes: 8 } satisfies FormatRule);
  });

  it('refuses unknown rules and bad lengths as usage errors', () => {
    for (const bad of ['', 'PEM', 'yaml', 'min', 'min=', 'min=0', 'min=-1', 'min=1.5', 'min=x', 'min=99999999999999999999']) {
      expect(codeOf(() => parseRule(bad)), bad).toBe('E_USAGE');
    }
  });
});

describe('pem', () => {
  it('takes a key, a public key, a chain of blocks, CRLF lines, surrounding blank lines and RFC 1421 headers', () => {
    expect(problem('pem', PRIVATE_PEM)).toBeUndefined();
    expect(problem('pem', PUBLIC_PEM.trimEnd())).toBeUndefined();
    expect(problem('pem', `${PRIVATE_PEM}\n${PUBLIC_PEM}`)).toBeUndefined();
    expect(problem('pem', PRIVATE_PEM.replace(/\n/g, '\r\n'))).toBeUndefined();
    expect(problem('pem', `\n\n${PRIVATE_PEM}\n\n`)).toBeUndefined();
    expect(problem('pem', LEGACY_ENCRYPTED)).toBeUndefined();
  });

  it('refuses text around the armour, mismatched labels, a missing END, a bad or empty body, binary', () => {
    const body = PRIVATE_PEM.split('\n')[1]!;
    const cases: [string, string | Uint8Array, RegExp][] = [
      ['text before', `key:\n${PRIVATE_PEM}`, /line 1 is not a BEGIN line/],
      ['text after', `${PRIVATE_PEM}trailer\n`, /text after the END line of block 1/],
      ['labels differ', PRIVATE_PEM.replace('END PRIVATE KEY', 'END PUBLIC KEY'), /BEGIN label at line 1 and the END label at line 3 differ/],
      ['no END', PRIVATE_PEM.replace(/-----END[^\n]*\n/, ''), /no END line/],
      ['bad body', PRIVATE_PEM.replace(body, `${body.slice(0, 10)}!${body.slice(11)}`), /body of the block at line 1 is not base64/],
      ['body cut', PRIVATE_PEM.replace(body, body.slice(0, -1)), /not base64/],
      ['empty body', '-----BEGIN X-----\n-----END X-----\n', /block at line 1 is empty/],
      ['headers without blank line', LEGACY_ENCRYPTED.replace('\n\n', '\n'), /not followed by a blank line/],
      ['no armour', 'just some text', /line 1 is not a BEGIN line/],
      ['empty', '', /no BEGIN line/],
      ['not UTF-8', new Uint8Array([0xff, 0xfe]), /not valid UTF-8/],
    ];
    for (const [what, value, reason] of cases) expect(problem('pem', value), what).toMatch(new RegExp(`^not PEM \\(.*${reason.source}`));
  });
});

describe('base64 and base64url', () => {
  it('base64: standard alphabet, padded, canonical', () => {
    for (const good of ['aGk=', 'aGVsbG8=', 'YWJj', '+/+/', 'AA==']) expect(problem('base64', good), good).toBeUndefined();
    const cases: [string, RegExp][] = [
      ['aGk', /wrong padding/],
      ['aGk==', /wrong padding/],
      ['a===', /4n\+1/],
      ['a', /4n\+1/],
      ['-_-_', /offset 0 belongs to the url-safe alphabet/],
      ['aG=k', /padding inside the text at offset 2/],
      ['aG k', /offset 2 is outside the alphabet/],
      ['aGl=', /non-zero bits after the last byte/],
      ['aGk=\n', /ends with a newline/],
      [' aGk=', /whitespace around it/],
      ['', /empty/],
    ];
    for (const [value, reason] of cases) expect(problem('base64', value), value).toMatch(new RegExp(`^not base64 \\(.*${reason.source}`));
  });

  it('base64url: url-safe alphabet, padding optional', () => {
    for (const good of ['aGk', 'aGk=', '-_-_', 'YWJj']) expect(problem('base64url', good), good).toBeUndefined();
    expect(problem('base64url', '+/+/')).toMatch(/^not base64url \(character at offset 0 belongs to the standard alphabet\)$/);
    expect(problem('base64url', 'aGk==')).toMatch(/wrong padding/);
    expect(problem('base64url', 'aGl')).toMatch(/non-zero bits/);
  });
});

describe('hex', () => {
  it('takes an even number of digits in any case, nothing else', () => {
    for (const good of ['00', 'deadBEEF', '0123456789abcdefABCDEF']) expect(problem('hex', good), good).toBeUndefined();
    expect(problem('hex', 'abc')).toBe('not hex (odd number of hex digits (3))');
    expect(problem('hex', '0xab')).toBe('not hex (character at offset 1 is not a hex digit)');
    expect(problem('hex', 'ab cd')).toMatch(/offset 2 is not a hex digit/);
    expect(problem('hex', 'abcd\n')).toMatch(/ends with a newline/);
    expect(problem('hex', '')).toBe('not hex (empty)');
  });
});

describe('json', () => {
  it('takes any JSON text, with whitespace around it', () => {
    for (const good of ['{}', '[1,2]', '"s"', '12', 'null', ' {"a": {"b": [true]}}\n']) expect(problem('json', good), good).toBeUndefined();
  });

  it('refuses what JSON.parse refuses and bytes that are not UTF-8, without quoting the text', () => {
    for (const bad of ['{', "{'a': 1}", '{"a": 1,}', '', 'NaN']) expect(problem('json', bad), bad).toBe('not JSON (does not parse)');
    expect(problem('json', new Uint8Array([0x22, 0xc3, 0x28, 0x22]))).toBe('not JSON (not valid UTF-8)');
  });
});

describe('url', () => {
  it('takes absolute URLs with a host, and file: URLs', () => {
    for (const good of ['https://example.com', 'postgres://user:pw@db.internal:5432/app?sslmode=require', 'redis://localhost', 'file:///etc/app.conf']) {
      expect(problem('url', good), good).toBeUndefined();
    }
  });

  it('refuses relative URLs, schemes without a host, and whitespace', () => {
    expect(problem('url', 'example.com/path')).toBe('not a URL (does not parse as an absolute URL)');
    expect(problem('url', '/just/a/path')).toBe('not a URL (does not parse as an absolute URL)');
    expect(problem('url', 'mailto:someone@example.com')).toBe('not a URL (no host after mailto:)');
    expect(problem('url', 'https://example.com\n')).toBe('not a URL (ends with a newline)');
    expect(problem('url', 'https://exa mple.com')).toBe('not a URL (does not parse as an absolute URL)');
  });
});

describe('min=N', () => {
  it('counts bytes, not characters', () => {
    expect(problem('min=3', 'abc')).toBeUndefined();
    expect(problem('min=3', 'ab')).toBe('too short (2 bytes, needs at least 3)');
    expect(problem('min=4', 'éé')).toBeUndefined(); // 2 characters, 4 bytes
  });
});

describe('reasons never quote the value', () => {
  it('holds for every rule on a value made of a marker', () => {
    const marker = 'MARKER-9f3c1d';
    for (const value of [marker, `${marker}\n`, `{${marker}`, `https://${marker} x`, `-----BEGIN ${marker}-----\n${marker}\n-----END X-----`]) {
      for (const rule of ['pem', 'base64', 'base64url', 'hex', 'json', 'url', 'min=1000']) {
        expect(problem(rule, value) ?? '').not.toContain('MARKER');
      }
    }
  });
});
