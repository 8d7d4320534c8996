/**
 * `store inject` filters (issue 11, item 8): json, base64, base64url, indent
 * N and trim, chained left to right; a template that does not parse is
 * refused with its line before the store is opened; values never reach an
 * error. In-process through run(argv, io).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let base: string[];

const store = (args: string[], input: string | Buffer = '') => runInProcess([...base, ...args], { input });
const inject = (template: string) => store(['inject'], template);

const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\nSECRETxLINEx2\n-----END CERTIFICATE-----\n';
const QUOTED = 'pa"ss\\word\nline2 ünï\t';
const BINARY = Buffer.from([0x00, 0xff, 0xfe, 0x0a, 0x80, 0x3e, 0x3f]);

beforeEach(async () => {
  dir = tempDir();
  base = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'master.key')];
  expect((await store(['init', '--master', 'keyfile'])).status).toBe(0);
  for (const [name, value] of [['app/cert', PEM], ['app/quoted', QUOTED], ['app/bin', BINARY], ['app/padded', '  tok-SECRET \r\n'], ['app/db', 'one-SECRET']] as const) {
    expect((await store(['set', name], value)).status).toBe(0);
  }
  expect((await store(['set', 'app/db'], 'two-SECRET')).status).toBe(0);
});

describe('filters', () => {
  it('json: a JSON string literal with its quotes, as JSON.stringify gives it', async () => {
    const r = await inject('{"password": {{ store:app/quoted | json }}}\n');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(`{"password": ${JSON.stringify(QUOTED)}}\n`);
    expect(JSON.parse(r.out)).toEqual({ password: QUOTED });
  });

  it('base64 (padded) and base64url (unpadded) work on any bytes', async () => {
    const r = await inject('a={{ store:app/bin | base64 }}\nb={{ store:app/bin|base64url }}\n');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(`a=${BINARY.toString('base64')}\nb=${BINARY.toString('base64url')}\n`);
    expect(r.out).toContain('a=AP/+CoA+Pw==\n');
    expect(r.out).toContain('b=AP_-CoA-Pw\n');
  });

  it('trim: spaces, tabs, CR and LF off both ends', async () => {
    const r = await inject('token="{{ store:app/padded | trim }}"\n');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('token="tok-SECRET"\n');
  });

  it('indent N: every line after the first, empty lines and the end excepted', async () => {
    expect((await store(['set', 'multi'], 'a\n\nb\r\n\r\nc\n')).status).toBe(0);
    const r = await inject('x: {{ store:multi | indent 2 }}.');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('x: a\n\n  b\r\n\r\n  c\n.');
    expect((await inject('{{ store:multi | indent 0 }}')).out).toBe('a\n\nb\r\n\r\nc\n');
  });

  it('a multi-line PEM inside a YAML block scalar', async () => {
    const template = 'tls:\n  cert: |\n    {{ store:app/cert | indent 4 }}\n  enabled: true\n';
    const r = await inject(template);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe(
      'tls:\n  cert: |\n' +
      '    -----BEGIN CERTIFICATE-----\n    MIIBszCCAVmgAwIBAgIU\n    SECRETxLINEx2\n    -----END CERTIFICATE-----\n' +
      '\n  enabled: true\n',
    );
    // The block's lines, indentation removed, are the PEM again (a YAML block scalar with clip chomping).
    const block = r.out.split('\n').slice(2, 6).map((l) => l.slice(4)).join('\n') + '\n';
    expect(block).toBe(PEM);
  });

  it('chaining applies left to right', async () => {
    const r = await inject('{"key": {{ store:app/bin | base64 | json }}, "cert": {{ store:app/cert|trim|json }}}');
    expect(r.status, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ key: BINARY.toString('base64'), cert: PEM.trim() });
    const twice = await inject('{{ store:app/db | base64 | base64 }}');
    expect(twice.out).toBe(Buffer.from(Buffer.from('two-SECRET').toString('base64')).toString('base64'));
  });

  it('json on bytes that are not UTF-8: exit 2 naming the reference and its line, nothing written', async () => {
    const out = join(dir, 'out.json');
    const r = await store(['inject', '-o', out], 'ok\n{{ store:app/db }}\nv={{ store:app/bin | json }}\n');
    expect(r.status).toBe(2);
    expect(r.err).toContain('{{ store:app/bin }} (template line 3)');
    expect(r.err).toContain('not UTF-8');
    expect(r.err).toContain('| base64 | json');
    expect(r.err).not.toContain('SECRET');
    expect(existsSync(out)).toBe(false);
  });
});

describe('parsing', () => {
  it('the existing syntax still works, and other {{ }} text passes through', async () => {
    const r = await inject('a={{store:app/db@1}} b={{  store:app/db  }} c={{ other }} d={store:app/db} e={{ store:app/db@2|trim }}\n');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('a=one-SECRET b=two-SECRET c={{ other }} d={store:app/db} e=two-SECRET\n');
  });

  it('an unknown filter: a usage error naming it and its line, before the store is opened', async () => {
    // No key file at all: a parse error must come first (exit 2), not a key error (exit 6).
    const keyless = ['--store', join(dir, 'store.db'), '--keyfile', join(dir, 'absent.key')];
    const r = await runInProcess([...keyless, 'inject'], { input: 'line one\nx={{ store:app/db | yaml }}\n' });
    expect(r.status).toBe(2);
    expect(r.err).toContain('template line 2, column 3: unknown filter "yaml"');
    expect(r.err).toContain('json, base64, base64url, indent N');
    expect(r.out).toBe('');
  });

  it('malformed references: each refused with its line and column, nothing written, no value shown', async () => {
    const out = join(dir, 'out.conf');
    writeFileSync(out, 'keep me');
    const cases: [string, RegExp][] = [
      ['{{ store:app/db', /line 1, column 1: .*not closed/],
      ['ok\n  {{ store:app/db\n}}', /line 2, column 3: .*not closed/],
      ['{{ store: }}', /not followed by a secret name/],
      ['{{ store:app//db }}', /invalid secret name "app\/\/db"/],
      ['{{ store:app/db@0 }}', /version number from 1 up/],
      ['{{ store:app/db@x }}', /version number from 1 up/],
      ['{{ store:app/db extra }}', /unexpected text after app\/db/],
      ['{{ store:app/db | }}', /nothing follows a \|/],
      ['{{ store:app/db | indent }}', /indent filter takes one whole number/],
      ['{{ store:app/db | indent 101 }}', /indent filter takes one whole number/],
      ['{{ store:app/db | indent -1 }}', /indent filter takes one whole number/],
      ['{{ store:app/db | json 2 }}', /json filter takes no argument/],
      ['a\nb\nc {{ store:app/db | hunter2=x }}', /line 3, column 3: unknown filter \(the filters are/],
    ];
    for (const [template, message] of cases) {
      const r = await store(['inject', '-o', out], template);
      expect(r.status, template).toBe(2);
      expect(r.err, template).toMatch(message);
      expect(r.err, template).not.toContain('SECRET');
      expect(r.err, template).not.toContain('hunter2');
      expect(readFileSync(out, 'utf8')).toBe('keep me');
    }
  });

  it('--help documents every filter', async () => {
    const r = await store(['inject', '--help']);
    expect(r.status).toBe(0);
    for (const f of ['json', 'base64 ', 'base64url', 'indent N', 'trim']) expect(r.out).toContain(`  ${f}`);
  });
});
