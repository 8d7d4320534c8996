// The CLI, in-process, against a real SoftHSM2 token: init, get/set,
// rotate-keys, rotate-master between the HSM and a key file, and the clear
// errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let hsm: SoftHsm;
const ws = workspace();
const pinFile = join(ws.dir, 'pin');
const hsmArgs = () => ['--store', ws.db, '--module', hsm.module, '--pin-file', pinFile];

beforeAll(() => {
  hsm = softHsm(); // sets SOFTHSM2_CONF, which the CLI children inherit (and the in-process CLI reads)
  hsm.initToken('cli-token');
  writeFileSync(pinFile, `${USER_PIN}\n`, { mode: 0o600 });
});
afterAll(() => ws.cleanup());

describe('store with a PKCS#11 master key', () => {
  it('init creates the key in the token; set, get and rotate-keys work through it', async () => {
    const init = await runInProcess([...hsmArgs(), 'init', '--master', 'pkcs11', '--token-label', 'cli-token', '--key-label', 'strongbox-master']);
    expect(init.status, init.err).toBe(0);
    expect((await runInProcess([...hsmArgs(), 'set', 'db/password'], { input: 'from-the-hsm' })).status).toBe(0);
    // The module path recorded as a hint is enough; the PIN can come from the environment.
    expect((await runInProcess(['--store', ws.db, 'get', 'db/password'], { env: { STORE_PKCS11_PIN: USER_PIN } })).out).toBe('from-the-hsm');
    const rot = await runInProcess([...hsmArgs(), 'rotate-keys', '--json']);
    expect(rot.status, rot.err).toBe(0);
    expect(JSON.parse(rot.out)).toMatchObject({ rotated: true, rewrapped: 1 });
    expect(JSON.parse((await runInProcess([...hsmArgs(), 'status', '--json'])).out).masterKind).toBe('pkcs11');
  });

  it('a PIN file an editor started with a UTF-8 BOM still logs in (the BOM is not part of the PIN)', async () => {
    const bomPin = join(ws.dir, 'pin-bom');
    writeFileSync(bomPin, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${USER_PIN}\r\n`)]), { mode: 0o600 });
    const r = await runInProcess(['--store', ws.db, '--module', hsm.module, '--pin-file', bomPin, 'get', 'db/password']);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('from-the-hsm');
  });

  it('a wrong PIN, a missing module, a missing token or no PIN each give a clear error', async () => {
    const wrong = await runInProcess(['--store', ws.db, '--module', hsm.module, 'get', 'db/password'], { env: { STORE_PKCS11_PIN: '0000' } });
    expect(wrong.status).toBe(5);
    expect(wrong.err).toMatch(/refused the PIN/);
    expect(wrong.err).not.toContain('0000');
    const noModule = await runInProcess(['--store', ws.db, '--module', join(ws.dir, 'missing.so'), '--pin-file', pinFile, 'get', 'db/password']);
    expect(noModule.status).toBe(6);
    expect(noModule.err).toMatch(/cannot load PKCS#11 module/);
    const noPin = await runInProcess(['--store', ws.db, '--module', hsm.module, 'get', 'db/password']);
    expect(noPin.status).toBe(6);
    const noToken = await runInProcess(['--store', join(ws.dir, 'other.db'), '--module', hsm.module, '--pin-file', pinFile,
      'init', '--master', 'pkcs11', '--token-label', 'no-such-token', '--key-label', 'k']);
    expect(noToken.status).toBe(6);
    expect(noToken.err).toMatch(/no PKCS#11 token labelled "no-such-token".*cli-token/);
  });

  it('doctor: the store\'s HSM token deleted is a failed master-key check (exit 10), not a skip; no PIN given is a skip', async () => {
    const db = join(ws.dir, 'doomed.db');
    hsm.initToken('doomed-token');
    const init = await runInProcess(['--store', db, '--module', hsm.module, '--pin-file', pinFile, 'init', '--master', 'pkcs11',
      '--token-label', 'doomed-token', '--key-label', 'k']);
    expect(init.status, init.err).toBe(0);
    const healthy = await runInProcess(['--store', db, '--pin-file', pinFile, 'doctor', '--json']);
    expect(healthy.status, healthy.out).toBe(0);
    // No PIN at all (and none can be asked for): the checks that need the key are skipped, as for any store.
    const noPin = await runInProcess(['--store', db, 'doctor', '--json'], { env: { STORE_NO_PROMPT: '1' } });
    expect(noPin.status).toBe(0);
    expect((JSON.parse(noPin.out) as { findings: { check: string; level: string }[] }).findings.find((f) => f.check === 'master-key')?.level).toBe('skip');

    execFileSync('softhsm2-util', ['--delete-token', '--token', 'doomed-token'], { env: { ...process.env, SOFTHSM2_CONF: hsm.conf }, stdio: 'ignore' });
    const gone = await runInProcess(['--store', db, '--pin-file', pinFile, 'doctor', '--json']);
    expect(gone.status).toBe(10);
    const f = (JSON.parse(gone.out) as { findings: { check: string; level: string; message: string }[] }).findings.find((x) => x.check === 'master-key');
    expect(f).toMatchObject({ level: 'fail', message: expect.stringContaining('doomed-token') });
  });

  it('rotate-master moves from the HSM to a key file and back; each old key stops working', async () => {
    const keyFile = join(ws.dir, 'moved.key');
    expect((await runInProcess([...hsmArgs(), 'rotate-master', '--to', 'keyfile', '--new-keyfile', keyFile])).status).toBe(0);
    expect((await runInProcess(['--store', ws.db, '--keyfile', keyFile, 'get', 'db/password'])).out).toBe('from-the-hsm');
    // The HSM is not asked any more: with the new key file moved away, the HSM's arguments open nothing.
    renameSync(keyFile, `${keyFile}.away`);
    expect((await runInProcess([...hsmArgs(), 'get', 'db/password'])).status).not.toBe(0);
    renameSync(`${keyFile}.away`, keyFile);

    const back = await runInProcess(['--store', ws.db, '--keyfile', keyFile, '--module', hsm.module, '--pin-file', pinFile,
      'rotate-master', '--to', 'pkcs11', '--token-label', 'cli-token', '--key-label', 'strongbox-master-2']);
    expect(back.status, back.err).toBe(0);
    expect((await runInProcess([...hsmArgs(), 'get', 'db/password'])).out).toBe('from-the-hsm');
    expect((await runInProcess(['--store', ws.db, '--keyfile', keyFile, 'get', 'db/password'])).status).not.toBe(0);
  });

  it('rotate-master from one HSM key to another: the labels given name the new key, not the old one', async () => {
    const next = await runInProcess([...hsmArgs(), 'rotate-master', '--to', 'pkcs11', '--token-label', 'cli-token', '--key-label', 'strongbox-master-3']);
    expect(next.status, next.err).toBe(0);
    expect((await runInProcess([...hsmArgs(), 'get', 'db/password'])).out).toBe('from-the-hsm');
    expect(JSON.parse((await runInProcess([...hsmArgs(), 'status', '--json'])).out).masterKind).toBe('pkcs11');
  });
});
