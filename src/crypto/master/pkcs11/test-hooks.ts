import type * as Pkcs11Js from 'pkcs11js';
import { loadedModuleCount, loadPkcs11js, moduleLoadAttempts, type Handle, type P11 } from './module.js';
import { openToken } from './session.js';

/**
 * Test hooks: a logged-in session through the same module cache the
 * source uses (a second C_Initialize would be refused), and the number of
 * modules still loaded. Not part of the library API.
 * @internal left out of the published declarations, which would otherwise need pkcs11js (an optional peer) installed
 */
export const __TESTS = {
  async withSession<T>(
    options: { module: string; tokenLabel: string; pin: string },
    fn: (lib: Pkcs11Js.PKCS11, session: Handle, p11: P11) => T,
  ): Promise<T> {
    const p11 = await loadPkcs11js();
    const t = openToken(p11, options.module, options.tokenLabel, options.pin, true);
    try {
      return fn(t.module.lib, t.session, p11);
    } finally {
      t.release();
    }
  },
  loadedModules(): number {
    return loadedModuleCount();
  },
  /** How many times a module library was handed to dlopen so far in this process. */
  moduleLoads(): number {
    return moduleLoadAttempts();
  },
};
