/**
 * Loading pkcs11js and PKCS#11 modules. pkcs11js is a native CommonJS addon:
 * it is imported lazily, at the first create or unlock, so users of the other
 * master-key sources never load it.
 *
 * C_Initialize/C_Finalize are per process: loaded modules are cached by path
 * with a reference count (one per open master key); the last release
 * finalizes and unloads.
 */
import { realpathSync } from 'node:fs';
import type * as Pkcs11Js from 'pkcs11js';
import { masterKeyMissing } from '../master-key.js';

export type P11 = typeof Pkcs11Js;
export type Handle = Buffer;

let pkcs11js: Promise<P11> | undefined;

/** Import pkcs11js once (CommonJS: its constants are only on the default export). */
export async function loadPkcs11js(): Promise<P11> {
  pkcs11js ??= import('pkcs11js').then(
    (ns) => (ns as unknown as { default?: P11 }).default ?? ns,
    (e: unknown) => {
      pkcs11js = undefined;
      throw masterKeyMissing(`cannot load the pkcs11js package: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, [
        'npm install pkcs11js (a native addon: it needs a C++ toolchain to build)',
      ]);
    },
  );
  return pkcs11js;
}

export interface LoadedModule {
  readonly p11: P11;
  readonly lib: Pkcs11Js.PKCS11;
  readonly path: string;
  readonly cacheKey: string;
  /** Open master keys (and test sessions) using this module. */
  refs: number;
  /** False when someone else in the process had already initialised it: then not ours to finalize. */
  readonly ownsInit: boolean;
  /** Logged-in sessions per token (slot id in hex): log out only when the last closes. */
  readonly loggedIn: Map<string, number>;
}

const modules = new Map<string, LoadedModule>();
/** How many times a module library was handed to the dynamic loader (for the tests). */
let loadAttempts = 0;

/** The name of a PKCS#11 return value (CKR_…), or a neutral word; never anything else from the error. */
export function ckrOf(e: unknown): string {
  const m = e instanceof Error ? /^CKR_[A-Z0-9_]+$/.exec(e.message) : null;
  return m ? m[0] : 'error';
}

export function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

export function acquireModule(p11: P11, path: string): LoadedModule {
  let cacheKey = path;
  try {
    cacheKey = realpathSync(path); // two spellings of one library share one dlopen handle
  } catch {
    // A bare name (found by the dynamic loader) or a missing file: load() decides.
  }
  const cached = modules.get(cacheKey);
  if (cached) {
    cached.refs++;
    return cached;
  }
  const lib = new p11.PKCS11();
  loadAttempts++;
  try {
    lib.load(path);
  } catch {
    throw masterKeyMissing(`cannot load PKCS#11 module ${path}`, [
      'give the path of the module library (SoftHSM2 on Debian: /usr/lib/softhsm/libsofthsm2.so)',
    ]);
  }
  let ownsInit = true;
  try {
    lib.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (codeOf(e) === p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      ownsInit = false;
    } else {
      try {
        lib.close();
      } catch {
        // nothing more to undo
      }
      throw masterKeyMissing(`cannot initialise PKCS#11 module ${path}: ${ckrOf(e)}`);
    }
  }
  const loaded: LoadedModule = { p11, lib, path, cacheKey, refs: 1, ownsInit, loggedIn: new Map() };
  modules.set(cacheKey, loaded);
  return loaded;
}

export function releaseModule(m: LoadedModule): void {
  if (--m.refs > 0) return;
  modules.delete(m.cacheKey);
  try {
    if (m.ownsInit) m.lib.C_Finalize();
  } catch {
    // finalizing is best effort: the process keeps going either way
  }
  try {
    m.lib.close();
  } catch {
    // as above
  }
}

/** How many modules are loaded (for the tests: every release must unload). */
export function loadedModuleCount(): number {
  return modules.size;
}

/** How many times a module library was passed to dlopen in this process (for the tests: a refused module never is). */
export function moduleLoadAttempts(): number {
  return loadAttempts;
}
