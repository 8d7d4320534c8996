/** `store check`: required secrets, every format rule good and bad, all problems in one report, no value printed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let ws: ReturnType<typeof workspace>;
const store = (...args: string[]) => [...ws.base, ...args];
/** Every bad value below holds this, so a report that leaks any part of a value is caught. */
const MARKER = 'LEAKMARKER7f2e';

async function ok(args: string[], input?: string) {
  const r = await runInProcess(store(...args), { input });
  expect(r.status, r.err).toBe(0);
  return r;
}

const PEM = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

/** name -> [value that keeps the rule, value that breaks it] */
const RULES: Record<string, [rule: string, good: string, bad: string, reason: RegExp]> = {
  pem: ['pem', PEM, `-----BEGIN ${MARKER}-----\n${MARKER}\n-----END OTHER-----\n`, /^not PEM \(/],
  base64: ['base64', 'c2VjcmV0LXZhbHVl', `${MARKER}==`, /^not base64 \(/],
  base64url: ['base64url', 'c2VjcmV0LXZhbHVl_-8', `${MARKER}+/`, /^not base64url \(/],
  hex: ['hex', 'deadbeef00', `${MARKER}`, /^not hex \(/],
  json: ['json', '{"user": "app"}', `{"${MARKER}": `, /^not JSON \(does not parse\)$/],
  url: ['url', 'postgres://app:pw@db.internal/app', `https://${MARKER} host`, /^not a URL \(/],
  min: ['min=32', 'x'.repeat(32), `${MARKER}`, /^too short \(14 bytes, needs at least 32\)$/],
};

// One store for all: the tests only read it, but for the secrets one test deletes and destroys.
beforeAll(async () => {
  ws = workspace();
  await ok(['init', '--master', 'keyfile']);
  for (const [name, [, good, bad]] of Object.entries(RULES)) {
    await ok(['set', `good/${name}`], good);
    await ok(['set', `bad/${name}`], bad);
  }
});
afterAll(() => ws.cleanup());

describe('store check', () => {
  it('passes (exit 0) when every rule holds', async () => {
    const requires = Object.entries(RULES).flatMap(([name, [rule]]) => ['--require', `good/${name}:${rule}`]);
    const r = await ok(['check', ...requires]);
    expect(r.out).toBe('ok: 7 required secrets present and well-formed\n');
    expect(JSON.parse((await ok(['check', ...requires, '--json'])).out)).toEqual({ time: expect.any(String), ok: true, checked: 7, problems: [] });
  });

  it('reports every broken rule, missing, deleted and destroyed secret in one report (exit 1), never a value', async () => {
    await ok(['set', 'gone/deleted'], MARKER);
    await ok(['delete', 'gone/deleted']);
    await ok(['set', 'gone/destroyed'], MARKER);
    await ok(['destroy', 'gone/destroyed', '--versions', '1']);
    const requires = [
      ...Object.entries(RULES).flatMap(([name, [rule]]) => ['--require', `bad/${name}:${rule}`]),
      '--require', 'nope/missing:pem', '--require', 'gone/deleted', '--require', 'gone/destroyed:hex',
      '--require', 'good/hex:hex,min=32', // one rule kept, one broken
    ];
    const r = await runInProcess(store('check', ...requires));
    expect(r.status).toBe(10);
    const lines = r.out.trimEnd().split('\n');
    for (const [name, [, , , reason]] of Object.entries(RULES)) {
      const line = lines.find((l) => l.startsWith(`bad/${name}: `));
      expect(line, name).toBeDefined();
      expect(line!.slice(`bad/${name}: `.length), name).toMatch(reason);
    }
    expect(lines).toContain('nope/missing: missing');
    expect(lines).toContain('gone/deleted: deleted (its current version is soft-deleted)');
    expect(lines).toContain('gone/destroyed: destroyed (its current version was destroyed)');
    expect(lines).toContain('good/hex: too short (10 bytes, needs at least 32)');
    expect(lines.at(-1)).toBe('11 problem(s) in 11 required secrets');
    expect(r.out + r.err).not.toContain(MARKER);

    const json = await runInProcess(store('check', ...requires, '--json'));
    expect(json.status).toBe(10);
    expect(json.out).not.toContain(MARKER);
    const report = JSON.parse(json.out) as { ok: boolean; checked: number; problems: { name: string; problem: string; rule?: string; message: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checked).toBe(11);
    expect(report.problems.map((p) => [p.name, p.problem, p.rule])).toEqual([
      ...Object.entries(RULES).map(([name, [rule]]) => [`bad/${name}`, 'format', rule]),
      ['nope/missing', 'missing', undefined],
      ['gone/deleted', 'deleted', undefined],
      ['gone/destroyed', 'destroyed', undefined],
      ['good/hex', 'format', 'min=32'],
    ]);
  });

  it('checks presence alone without rules, and reads a name given twice once with both rules', async () => {
    expect((await ok(['check', '--require', 'good/hex'])).out).toContain('ok: 1 required secret present');
    const r = await runInProcess(store('check', '--require', 'good/hex:hex', '--require', 'good/hex:min=32', '--json'));
    expect(r.status).toBe(10);
    expect(JSON.parse(r.out)).toMatchObject({ checked: 1, problems: [{ name: 'good/hex', rule: 'min=32' }] });
  });

  it('reads requirements from files: one a line, # comments, blank lines; with --require too', async () => {
    const file = join(ws.dir, 'required-secrets');
    writeFileSync(file, '# secrets the app needs\n\ngood/pem:pem   # the signing key\n  good/url:url\nnope/missing\n');
    const r = await runInProcess(store('check', '--require-file', file, '--require', 'bad/hex:hex'));
    expect(r.status).toBe(10);
    // --require ones first, then the files', each in its order.
    expect(r.out).toBe('bad/hex: not hex (character at offset 0 is not a hex digit)\nnope/missing: missing\n2 problem(s) in 4 required secrets\n');
  });

  it('a bad requirement is a usage error (exit 2) found before the store is opened', async () => {
    const absent = ['--store', join(ws.dir, 'absent.db'), '--keyfile', ws.key];
    const cases: [string[], RegExp][] = [
      [['--require', 'a:yaml'], /bad requirement "a:yaml": unknown format rule "yaml"/],
      [['--require', 'a:min=0'], /min= takes a whole number of bytes from 1 up/],
      [['--require', 'a:pem,'], /unknown format rule ""/],
      [['--require', '/bad'], /bad requirement "\/bad": invalid secret name/],
      [[], /needs at least one --require/],
    ];
    for (const [args, message] of cases) {
      const r = await runInProcess([...absent, 'check', ...args]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
    }
    const file = join(ws.dir, 'req');
    writeFileSync(file, 'good/pem:pem\n\nx:nope\n');
    const r = await runInProcess([...absent, 'check', '--require-file', file]);
    expect(r.status).toBe(2);
    expect(r.err).toContain(`${file} line 3: bad requirement "x:nope"`);
    // A requirements file that cannot be read is a bad requirement too, not "a problem was found" (exit 1).
    for (const [unreadable, code] of [[join(ws.dir, 'none'), 'ENOENT'], [ws.dir, 'EISDIR']] as const) {
      const bad = await runInProcess([...absent, 'check', '--require-file', unreadable]);
      expect(bad.status).toBe(2);
      expect(bad.err).toContain(`store: error: cannot read requirements file ${unreadable}: ${code}`);
    }
  });

  it('a store that cannot be opened is its own error, not a report', async () => {
    const r = await runInProcess(['--store', join(ws.dir, 'absent.db'), '--keyfile', ws.key, 'check', '--require', 'a']);
    expect(r.status).toBe(7);
    expect(r.out).toBe('');
  });
});
