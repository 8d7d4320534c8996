// The PKCS#11 module path a store records at init (its moduleHint) comes from
// the store file, which someone without the master key may be able to write,
// and a module is native code loaded before anything in the file can be
// authenticated. Recorded paths are loaded only from the system library
// directories (as ssh-agent's default -P) or from a directory listed in
// STORE_PKCS11_PROVIDERS; a module given by --module or STORE_PKCS11_MODULE
// is used as given. In-process against SoftHSM2 (a copy of its library
// stands for a module in an untrusted directory).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { copyFileSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { __TESTS } from '../../src/crypto/master/pkcs11/test-hooks.js';
import { TRUSTED_MODULE_DIRS, trustedRecordedModule } from '../../src/crypto/master/pkcs11/trusted-module.js';
import { StoreError } from '../../src/index.js';
import { softHsm, USER_PIN, type SoftHsm } from '../helpers/softhsm.js';
import { runInProcess } from '../helpers/in-process.js';
import { workspace } from './run-cli.js';

let hsm: SoftHsm;
const ws = workspace();
const at = (name: string) => join(ws.dir, name);
const planted = at('planted');
const copy = join(planted, 'libsofthsm2.so');
const PIN_ENV = { STORE_PKCS11_PIN: USER_PIN };

beforeAll(() => {
  hsm = softHsm();
  hsm.initToken('trust-token');
  writeFileSync(at('pin'), `${USER_PIN}\n`, { mode: 0o600 });
  mkdirSync(planted);
  copyFileSync(hsm.module, copy);
});
afterAll(() => ws.cleanup());

/** Set the store's recorded module path with SQL, as someone who can write the file but lacks the key would. */
function plantHint(db: string, path: string): void {
  const sql = new Database(db);
  try {
    sql.prepare("UPDATE meta SET value = json_set(value, '$.moduleHint', ?) WHERE key = 'master'").run(path);
  } finally {
    sql.close();
  }
}

async function initHsmStore(db: string, module: string, keyLabel: string): Promise<void> {
  const init = await runInProcess(['--store', db, '--module', module, 'init', '--master', 'pkcs11', '--token-label', 'trust-token', '--key-label', keyLabel], { env: PIN_ENV });
  expect(init.status, init.err).toBe(0);
  const set = await runInProcess(['--store', db, '--module', module, 'set', 'app/db'], { input: 'the-value', env: PIN_ENV });
  expect(set.status, set.err).toBe(0);
}

describe('the PKCS#11 module a store recorded', () => {
  it('is not loaded from outside the trusted directories: E_MASTER_KEY naming it and saying to pass --module, and nothing dlopened', async () => {
    const db = at('untrusted.db');
    await initHsmStore(db, copy, 'k-untrusted'); // given with --module at init: used as given, and recorded

    const loads = __TESTS.moduleLoads();
    const r = await runInProcess(['--store', db, 'get', 'app/db', '--json'], { env: PIN_ENV });
    expect(r.status, r.err).toBe(6);
    const e = (JSON.parse(r.err) as { error: { code: string; message: string; hints: string[] } }).error;
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toContain(JSON.stringify(copy));
    expect(e.message).toMatch(/--module/);
    expect(e.message).toMatch(/STORE_PKCS11_MODULE/);
    expect(r.out).toBe('');
    expect(__TESTS.moduleLoads()).toBe(loads); // refused before the dynamic loader saw it
    expect(__TESTS.loadedModules()).toBe(0);

    // The text form says the same.
    const text = await runInProcess(['--store', db, 'get', 'app/db'], { env: PIN_ENV });
    expect(text.status).toBe(6);
    expect(text.err).toContain(copy);
    expect(__TESTS.moduleLoads()).toBe(loads);
  });

  it('the same path given with --module, STORE_PKCS11_MODULE, or its directory listed in STORE_PKCS11_PROVIDERS, opens the store', async () => {
    const db = at('given.db');
    await initHsmStore(db, copy, 'k-given');
    const given = await runInProcess(['--store', db, '--module', copy, 'get', 'app/db'], { env: PIN_ENV });
    expect(given.status, given.err).toBe(0);
    expect(given.out).toBe('the-value');
    const fromEnv = await runInProcess(['--store', db, 'get', 'app/db'], { env: { ...PIN_ENV, STORE_PKCS11_MODULE: copy } });
    expect(fromEnv.status, fromEnv.err).toBe(0);
    expect(fromEnv.out).toBe('the-value');
    for (const providers of [planted, `/nonexistent:relative/dir:${planted}`, ws.dir]) {
      const listed = await runInProcess(['--store', db, 'get', 'app/db'], { env: { ...PIN_ENV, STORE_PKCS11_PROVIDERS: providers } });
      expect(listed.status, `${providers}: ${listed.err}`).toBe(0);
      expect(listed.out).toBe('the-value');
    }
    // A listed directory that is not the module's (nor above it) trusts nothing more.
    const other = await runInProcess(['--store', db, 'get', 'app/db'], { env: { ...PIN_ENV, STORE_PKCS11_PROVIDERS: `${at('elsewhere')}:relative` } });
    expect(other.status).toBe(6);
  });

  it('a header edited to point at a planted library is refused before the module is loaded or the PIN read', async () => {
    const db = at('edited.db');
    await initHsmStore(db, hsm.module, 'k-edited');
    plantHint(db, copy);
    const loads = __TESTS.moduleLoads();
    // The PIN file does not exist: were it read first, that would be the error.
    const r = await runInProcess(['--store', db, '--pin-file', at('no-such-pin'), 'get', 'app/db', '--json']);
    expect(r.status, r.err).toBe(6);
    const e = (JSON.parse(r.err) as { error: { code: string; message: string } }).error;
    expect(e.code).toBe('E_MASTER_KEY');
    expect(e.message).toContain(JSON.stringify(copy));
    expect(__TESTS.moduleLoads()).toBe(loads);

    // A relative or bare name would be searched by the dynamic loader (cwd, LD_LIBRARY_PATH): refused as well.
    for (const hint of ['libsofthsm2.so', 'planted/libsofthsm2.so', at('planted/../planted/missing.so')]) {
      plantHint(db, hint);
      const bare = await runInProcess(['--store', db, 'get', 'app/db', '--json'], { env: PIN_ENV });
      expect(bare.status, `${hint}: ${bare.err}`).toBe(6);
      expect(JSON.parse(bare.err).error.message).toContain(JSON.stringify(hint));
      expect(__TESTS.moduleLoads()).toBe(loads);
    }
  });

  it('a recorded module under /usr/lib (SoftHSM2 as installed) still opens without --module, also through a symbolic link', async () => {
    const real = realpathSync(hsm.module);
    expect(TRUSTED_MODULE_DIRS.some((d) => real.startsWith(`${d}/`)), `${real} is not in a system library directory`).toBe(true);
    const db = at('system.db');
    await initHsmStore(db, hsm.module, 'k-system');
    const r = await runInProcess(['--store', db, 'get', 'app/db'], { env: PIN_ENV });
    expect(r.status, r.err).toBe(0);
    expect(r.out).toBe('the-value');
    const viaPin = await runInProcess(['--store', db, '--pin-file', at('pin'), 'get', 'app/db']);
    expect(viaPin.out).toBe('the-value');

    // A link in an untrusted directory to the system library: what counts is where it leads.
    const link = at('link-to-system.so');
    symlinkSync(hsm.module, link);
    const linked = at('linked.db');
    await initHsmStore(linked, link, 'k-linked');
    const l = await runInProcess(['--store', linked, 'get', 'app/db'], { env: PIN_ENV });
    expect(l.status, l.err).toBe(0);
    expect(l.out).toBe('the-value');
  });
});

describe('trustedRecordedModule', () => {
  const refused = (recorded: string, providers?: string) => {
    try {
      trustedRecordedModule(recorded, providers);
    } catch (e) {
      expect(e).toBeInstanceOf(StoreError);
      return (e as StoreError).code;
    }
    return undefined;
  };

  it('accepts the real path under a system directory or a listed one, and gives the resolved path to load', () => {
    expect(trustedRecordedModule(hsm.module, undefined)).toBe(realpathSync(hsm.module));
    expect(trustedRecordedModule(copy, planted)).toBe(realpathSync(copy));
    expect(trustedRecordedModule(copy, `${ws.dir}/`)).toBe(realpathSync(copy));
  });

  it('refuses anything else with E_MASTER_KEY', () => {
    expect(refused(copy)).toBe('E_MASTER_KEY');
    expect(refused(copy, '')).toBe('E_MASTER_KEY');
    expect(refused(copy, 'planted')).toBe('E_MASTER_KEY'); // relative entries count for nothing
    expect(refused(copy, `${planted}-not`)).toBe('E_MASTER_KEY'); // a prefix of the name is not the directory
    expect(refused(`${planted}/../planted/libsofthsm2.so`)).toBe('E_MASTER_KEY');
    expect(refused('/usr/lib/../../tmp/x.so')).toBe('E_MASTER_KEY');
    expect(refused('/usr/lib')).toBe('E_MASTER_KEY'); // the directory itself is not under itself
    expect(refused('libsofthsm2.so')).toBe('E_MASTER_KEY');
    expect(refused('/usr/lib/no-such-module-here.so')).toBe('E_MASTER_KEY');
  });
});
