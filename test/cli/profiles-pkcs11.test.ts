// A profile holding a PKCS#11 master key (SoftHSM2): its module, labels and
// PIN file reach the provider, and the environment still beats them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';
import { runInProcess, type InProcessOptions } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let hsm: SoftHsm;
const ws = workspace();
const at = (name: string) => join(ws.dir, name);
const run = (args: string[], input?: string, env: InProcessOptions['env'] = {}) =>
  runInProcess(args, { input, env: { XDG_CONFIG_HOME: at('config'), ...env } });

beforeAll(() => {
  hsm = softHsm(); // sets SOFTHSM2_CONF, which the CLI children inherit (and the in-process CLI reads)
  hsm.initToken('profile-token');
  writeFileSync(at('pin'), `${USER_PIN}\n`, { mode: 0o600 });
  const hsmProfile = { store: at('hsm.db'), master: 'pkcs11', module: hsm.module, tokenLabel: 'profile-token', keyLabel: 'profile-key' };
  const file = join(at('config'), 'strongbox', 'config.json');
  mkdirSync(join(at('config'), 'strongbox'), { recursive: true });
  writeFileSync(file, JSON.stringify({
    profiles: {
      hsm: { ...hsmProfile, pinFile: at('pin') },
      'hsm-no-pin': { ...hsmProfile, pinFile: at('missing-pin') },
    },
  }));
  chmodSync(file, 0o600);
});
afterAll(() => ws.cleanup());

describe('a pkcs11 profile', () => {
  it('init takes the module, the labels and the PIN file from the profile', async () => {
    const init = await run(['--profile', 'hsm', 'init', '--json']);
    expect(init.status, init.err).toBe(0);
    expect(JSON.parse(init.out)).toMatchObject({ path: at('hsm.db'), masterKind: 'pkcs11' });
    expect((await run(['--profile', 'hsm', 'set', 'db/password'], 'from-the-hsm')).status).toBe(0);
    expect((await run(['--profile', 'hsm', 'get', 'db/password'])).out).toBe('from-the-hsm');
  });

  it('STORE_PKCS11_PIN beats the profile\'s PIN file', async () => {
    expect((await run(['--profile', 'hsm-no-pin', 'get', 'db/password'])).status).toBe(6);
    expect((await run(['--profile', 'hsm-no-pin', 'get', 'db/password'], undefined, { STORE_PKCS11_PIN: USER_PIN })).out).toBe('from-the-hsm');
  });

  it('STORE_PKCS11_MODULE beats the profile\'s module, and --module beats both', async () => {
    const env = { STORE_PKCS11_MODULE: at('missing.so') };
    const r = await run(['--profile', 'hsm', 'get', 'db/password'], undefined, env);
    expect(r.status).toBe(6);
    expect(r.err).toContain('missing.so');
    expect((await run(['--profile', 'hsm', '--module', hsm.module, 'get', 'db/password'], undefined, env)).out).toBe('from-the-hsm');
  });
});
