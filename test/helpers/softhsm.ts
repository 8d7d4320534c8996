/**
 * A throwaway SoftHSM2 for tests: a temp directory with its own
 * softhsm2.conf and token directory, and tokens initialised in it with
 * softhsm2-util.
 *
 * SoftHSM reads SOFTHSM2_CONF when the module is initialised (C_Initialize),
 * and a module is initialised once per process, so there is one instance per
 * process (per test file under vitest's forks pool): `softHsm()` makes it on
 * first call and returns the same one afterwards. Initialise every token
 * before the first PKCS#11 call of the file.
 *
 * A missing SoftHSM2 is a failure, not a skip: the pkcs11 provider would go
 * untested without anyone noticing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';
import { __TESTS } from '../../src/crypto/master/pkcs11/test-hooks.js';

const INSTALL_HINT = 'run scripts/install-softhsm.sh (or apt-get install softhsm2), or set SOFTHSM2_MODULE';

/** Where distributions put the module; SOFTHSM2_MODULE wins. */
const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
];

export const SO_PIN = '5678';
export const USER_PIN = '1234';

export interface SoftHsm {
  /** Path of libsofthsm2.so. */
  readonly module: string;
  /** The temp directory (softhsm2.conf, tokens/). */
  readonly dir: string;
  /** Path of the softhsm2.conf in use (also in process.env.SOFTHSM2_CONF). */
  readonly conf: string;
  /** Initialise a new token in a free slot. */
  initToken(label: string, pin?: string, soPin?: string): void;
}

let instance: SoftHsm | undefined;

/** The module path, or a thrown error saying how to install SoftHSM2. */
export function softHsmModule(): string {
  const found = [process.env.SOFTHSM2_MODULE, ...MODULE_CANDIDATES].find((p) => p && existsSync(p));
  if (!found) throw new Error(`libsofthsm2.so not found: ${INSTALL_HINT}`);
  return found;
}

/** The process's SoftHSM2 (made on first call). @throws when softhsm2-util or the module is missing */
export function softHsm(): SoftHsm {
  if (instance) return instance;
  const probe = spawnSync('softhsm2-util', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`softhsm2-util is not on PATH: ${INSTALL_HINT}`);
  const module = softHsmModule();

  const dir = tempDir('strongbox-softhsm-');
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;

  instance = {
    module,
    dir,
    conf,
    initToken(label, pin = USER_PIN, soPin = SO_PIN) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', soPin], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    },
  };
  return instance;
}

/** The AES key objects labelled `keyLabel` on the token `tokenLabel` of `module`, counted through PKCS#11 (up to 10). */
export async function countKeys(module: string, tokenLabel: string, pin: string, keyLabel: string): Promise<number> {
  return __TESTS.withSession({ module, tokenLabel, pin }, (lib, session, p) => {
    lib.C_FindObjectsInit(session, [
      { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
      { type: p.CKA_LABEL, value: keyLabel },
    ]);
    try {
      return lib.C_FindObjects(session, 10).length;
    } finally {
      lib.C_FindObjectsFinal(session);
    }
  });
}
