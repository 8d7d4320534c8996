/**
 * Which PKCS#11 module path recorded in a store may be loaded without the
 * user naming it. A module is native code run in this process, and it must
 * be loaded before the master key can authenticate anything in the store
 * file: the path the store recorded at init (`moduleHint`) is only as
 * trustworthy as whoever can write that file. So, as OpenSSH's ssh-agent
 * does for its PKCS#11 providers (-P), a recorded path is loaded only when
 * its real path (every symbolic link resolved) lies in a directory only root
 * can write on a normal system, or in one the user lists in
 * STORE_PKCS11_PROVIDERS. A module the user gives (--module,
 * STORE_PKCS11_MODULE, a profile, the library's pkcs11({ module })) is used
 * as given and never comes here.
 */
import { realpathSync } from 'node:fs';
import { delimiter, isAbsolute, relative } from 'node:path';
import { masterKeyMissing } from '../master-key.js';

/** The system library directories a recorded module may lie under (compared as written: never resolved). */
export const TRUSTED_MODULE_DIRS: readonly string[] = ['/usr/lib', '/usr/lib64', '/usr/local/lib', '/usr/local/lib64', '/lib', '/lib64'];

/** The environment variable listing more directories (separated as PATH is) that recorded modules may come from. */
export const PROVIDERS_ENV = 'STORE_PKCS11_PROVIDERS';

/** Whether `path` lies strictly inside `dir` (both absolute and without symbolic links). */
function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/** The directories STORE_PKCS11_PROVIDERS lists, each resolved (the user trusts where it leads); relative or missing ones count for nothing. */
function listedDirs(listed: string | undefined): string[] {
  const dirs: string[] = [];
  for (const entry of (listed ?? '').split(delimiter)) {
    if (!entry || !isAbsolute(entry)) continue;
    try {
      dirs.push(realpathSync(entry));
    } catch {
      // a directory that does not exist holds no module
    }
  }
  return dirs;
}

/** A path from the store file, for a message: quoted (no control characters reach the terminal) and bounded. */
function shown(path: string): string {
  return JSON.stringify(path.length > 256 ? `${path.slice(0, 256)}…` : path);
}

/**
 * The path to load for a module path a store recorded: its real path when
 * that lies under a trusted directory (loading the resolved path, so no
 * symbolic link can be switched between this check and the load).
 * @param recorded the store's `moduleHint`
 * @param providers the value of STORE_PKCS11_PROVIDERS (directories, separated as PATH is)
 * @throws E_MASTER_KEY naming the recorded path when it is anywhere else, is not an absolute path, or does not exist
 */
export function trustedRecordedModule(recorded: string, providers: string | undefined): string {
  const allowed = [...TRUSTED_MODULE_DIRS, ...listedDirs(providers)];
  const passIt = `if you trust it, pass --module ${shown(recorded)} (or set STORE_PKCS11_MODULE)`;
  const why = `a module path read from the store file is loaded only from ${TRUSTED_MODULE_DIRS.join(', ')} `
    + `or a directory listed in ${PROVIDERS_ENV}, since anyone who can write the file could change it`;
  let real: string | undefined;
  if (isAbsolute(recorded)) {
    try {
      real = realpathSync(recorded);
    } catch {
      throw masterKeyMissing(`the PKCS#11 module ${shown(recorded)} recorded in the store cannot be found; ${passIt}`, [
        'give the path of the module library with --module PATH or STORE_PKCS11_MODULE (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)',
      ]);
    }
  }
  if (real === undefined || !allowed.some((dir) => isInside(real, dir))) {
    throw masterKeyMissing(`not loading the PKCS#11 module ${shown(recorded)} recorded in the store: it is not in a trusted directory; ${passIt}`, [why]);
  }
  return real;
}
