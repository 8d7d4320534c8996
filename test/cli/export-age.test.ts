/**
 * `store export --recipient / --recipients-file [--armor]`, `store import
 * --identity` and `store age-keygen` as a user runs them (in-process through
 * run(argv, io)): exit statuses, stdout and stderr, files and modes, flag
 * conflicts, and that no value or identity shows up in any output.
 */
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/tmp.js';

let dir: string;
let src: string[];
let dst: string[];

const run = (base: string[], args: string[], input = '') => runInProcess([...base, ...args], { input });
const at = (name: string) => join(dir, name);

/** A new identity file via store age-keygen, and the public key it printed. */
async function keygen(name: string): Promise<{ file: string; recipient: string }> {
  const file = at(name);
  const r = await runInProcess(['age-keygen', file]);
  expect(r.status, r.err).toBe(0);
  return { file, recipient: r.out.trim() };
}

beforeEach(async () => {
  dir = tempDir();
  src = ['--store', at('src.db'), '--keyfile', at('src.key')];
  dst = ['--store', at('dst.db'), '--keyfile', at('dst.key')];
  expect((await run(src, ['init', '--master', 'keyfile'])).status).toBe(0);
  expect((await run(dst, ['init', '--master', 'keyfile'])).status).toBe(0);
  for (const [name, value] of [['app/db', 'db-SECRET-1'], ['app/db', 'db-SECRET-2'], ['app/api', 'api-SECRET'], ['other', 'other-SECRET']]) {
    expect((await run(src, ['set', name!], value)).status).toBe(0);
  }
});

describe('store age-keygen', () => {
  it('creates an identity file 0600 and prints its public key; -y prints it again; never overwrites', async () => {
    const { file, recipient } = await keygen('me.txt');
    expect(recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'latin1');
    expect(text).toContain(`# public key: ${recipient}\nAGE-SECRET-KEY-1`);

    const y = await runInProcess(['age-keygen', '-y', file]);
    expect(y.status, y.err).toBe(0);
    expect(y.out).toBe(`${recipient}\n`);
    const json = await runInProcess(['age-keygen', '-y', file, '--json']);
    expect(JSON.parse(json.out)).toEqual({ path: file, recipients: [recipient] });

    const again = await runInProcess(['age-keygen', file]);
    expect(again.status).toBe(2);
    expect(readFileSync(file, 'latin1')).toBe(text);
    // The secret key is never printed.
    for (const r of [y, json, again]) expect(r.out + r.err).not.toContain('AGE-SECRET-KEY');
  });
});

describe('store export --recipient / import --identity', () => {
  it('two recipients by flag and by file: each identity alone imports; the summary says how to open it', async () => {
    const alice = await keygen('alice.txt');
    const bob = await keygen('bob.txt');
    const carol = await keygen('carol.txt');
    const list = at('team.txt');
    writeFileSync(list, `# the team\n${bob.recipient}\n\n${carol.recipient}\n${alice.recipient}\n`);
    const out = at('team.age');
    const e = await run(src, ['export', out, '--recipient', alice.recipient, '--recipients-file', list, '--all-versions']);
    expect(e.status, e.err).toBe(0);
    expect(e.out).toMatch(/exported 3 secret\(s\) \(4 version\(s\)\) to .*team\.age, an age file for 3 recipient\(s\)\n$/);
    expect(e.err).toContain(`store import ${out} --identity KEYFILE (or age -d -i KEYFILE ${out})`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readFileSync(out).subarray(0, 22).toString()).toBe('age-encryption.org/v1\n');

    for (const who of [alice, bob, carol]) {
      const base = ['--store', at(`dst-${who.recipient.slice(4, 10)}.db`), '--keyfile', at(`dst-${who.recipient.slice(4, 10)}.key`)];
      expect((await run(base, ['init', '--master', 'keyfile'])).status).toBe(0);
      const i = await run(base, ['import', out, '--identity', who.file]);
      expect(i.status, i.err).toBe(0);
      expect(i.out).toContain('imported 3 secret(s) (4 version(s))');
      expect((await run(base, ['get', 'app/db'])).out).toBe('db-SECRET-2');
      expect((await run(base, ['get', 'app/db', '--version', '1'])).out).toBe('db-SECRET-1');
    }
  });

  it('--armor and --json: the report names the recipients; import reports format age', async () => {
    const me = await keygen('me.txt');
    const out = at('out.age.asc');
    const e = await run(src, ['export', out, '--recipient', me.recipient, '--armor', '--json']);
    expect(e.status, e.err).toBe(0);
    expect(JSON.parse(e.out)).toMatchObject({ format: 'age', recipients: [me.recipient], armored: true, secrets: 3, versions: 3 });
    expect(readFileSync(out, 'latin1')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    const i = await run(dst, ['import', out, '--identity', me.file, '--json']);
    expect(i.status, i.err).toBe(0);
    expect(JSON.parse(i.out)).toMatchObject({ format: 'age', created: ['app/api', 'app/db', 'other'] });
    expect((await run(dst, ['get', 'other'])).out).toBe('other-SECRET');
  });

  it('a wrong identity exits 5, a missing one 6, a loose identity file 6, a damaged bundle 5: nothing imported, no secret shown', async () => {
    const me = await keygen('me.txt');
    const stranger = await keygen('stranger.txt');
    const out = at('out.age');
    expect((await run(src, ['export', out, '--recipient', me.recipient])).status).toBe(0);
    const wrong = await run(dst, ['import', out, '--identity', stranger.file]);
    expect(wrong.status).toBe(5);
    expect(wrong.err).toMatch(/none of the 1 age identity given opens this bundle/);
    const none = await run(dst, ['import', out]);
    expect(none.status).toBe(6);
    expect(none.err).toContain('--identity');
    chmodSync(me.file, 0o644);
    expect((await run(dst, ['import', out, '--identity', me.file])).status).toBe(6);
    chmodSync(me.file, 0o600);
    const b = readFileSync(out);
    b[b.length - 3]! ^= 0x10;
    writeFileSync(at('bad.age'), b);
    const bad = await run(dst, ['import', at('bad.age'), '--identity', me.file]);
    expect(bad.status).toBe(5);
    expect(bad.err).toContain('damaged or was altered');
    writeFileSync(at('cut.age'), readFileSync(out).subarray(0, b.length - 20));
    expect((await run(dst, ['import', at('cut.age'), '--identity', me.file])).status).toBe(5);
    expect((await run(dst, ['list', '--json'])).out.trim()).toBe('[]');
    const secrets = [readFileSync(me.file, 'latin1'), readFileSync(stranger.file, 'latin1')].map((t) => t.match(/AGE-SECRET-KEY-1\w+/)![0]);
    for (const r of [wrong, none, bad]) {
      for (const s of [...secrets, 'SECRET']) expect(r.out + r.err).not.toContain(s);
    }
  });

  it('flag conflicts and bad recipients are usage errors (exit 2) before any file is written', async () => {
    const me = await keygen('me.txt');
    const out = at('x.age');
    writeFileSync(at('pw'), 'pw', { mode: 0o600 });
    const refused = [
      ['export', out, '--recipient', me.recipient, '--export-passphrase-file', at('pw')],
      ['export', out, '--recipient', me.recipient, '--recipient-keyfile', at('k')],
      ['export', out, '--recipient', me.recipient, '--scrypt-log-n', '15'],
      ['export', out, '--recipient', me.recipient, '--plaintext', '--format', 'json'],
      ['export', out, '--armor', '--export-passphrase-file', at('pw')],
      ['export', out, '--recipient', 'age1nope'],
      ['export', out, '--recipient', 'ssh-ed25519'],
    ];
    for (const args of refused) {
      const r = await run(src, args);
      expect(`${args.join(' ')}: ${r.status}`).toBe(`${args.join(' ')}: 2`);
    }
    expect((await run(src, ['export', out, '--recipients-file', at('absent.txt')])).status).toBe(1);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(at('k'))).toBe(false);
  });

  it('import: --identity is refused for v1 bundles and plaintext files; key options for age bundles', async () => {
    const me = await keygen('me.txt');
    const age = at('out.age');
    expect((await run(src, ['export', age, '--recipient', me.recipient])).status).toBe(0);
    writeFileSync(at('pw'), 'bundle pw', { mode: 0o600 });
    const v1 = at('out.sbx');
    expect((await run(src, ['export', v1, '--export-passphrase-file', at('pw'), '--scrypt-log-n', '15'])).status).toBe(0);
    writeFileSync(at('plain.json'), '{"x": "y"}');
    expect((await run(dst, ['import', v1, '--identity', me.file])).status).toBe(2);
    expect((await run(dst, ['import', at('plain.json'), '--identity', me.file])).status).toBe(2);
    expect((await run(dst, ['import', age, '--export-passphrase-file', at('pw')])).status).toBe(2);
    expect((await run(dst, ['import', age, '--identity', me.file, '--prefix', 'p/'])).status).toBe(2);
    // And the v1 bundle still imports as before.
    const i = await run(dst, ['import', v1, '--export-passphrase-file', at('pw')]);
    expect(i.status, i.err).toBe(0);
    expect((await run(dst, ['get', 'app/api'])).out).toBe('api-SECRET');
  });
});
