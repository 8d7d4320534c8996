/**
 * Which master key the CLI uses: flags first, then environment variables,
 * then (for a passphrase) a prompt on the terminal. Never argv for secrets.
 */
import { StoreError } from '../errors.js';
import { quotedIfSafe } from '../store/names.js';
import { masterFamily, masterKeyNotGiven, type MasterKeySource, type MasterKind, type MasterParams } from '../crypto/master/master-key.js';
import { passphrase } from '../crypto/master/passphrase.js';
import { keyFile } from '../crypto/master/keyfile.js';
import { envKey } from '../crypto/master/raw-key.js';
import { trustedRecordedModule } from '../crypto/master/pkcs11/trusted-module.js';
import type { Io } from './io.js';
import { promptsForbidden, readSecretInput } from './secret-input.js';

export interface MasterOptions {
  keyfile?: string;
  passphraseFile?: string;
  /** PKCS#11: module path, PIN file, and at init the token and key labels. */
  module?: string;
  pinFile?: string;
  tokenLabel?: string;
  keyLabel?: string;
  /** scrypt cost for a new passphrase store (log2 N). */
  scryptLogN?: number;
}

/** No key given at all (doctor skips for this one; a key given or recorded that fails is another error). */
function missing(message: string, hints: string[]): StoreError {
  return masterKeyNotGiven(message, hints);
}

export function readPassphrase(opts: MasterOptions, io: Io, confirm: boolean): Promise<Uint8Array> {
  return readSecretInput({
    what: 'passphrase', file: opts.passphraseFile, fromEnv: io.env.STORE_PASSPHRASE, noPrompt: promptsForbidden(io.env),
    hints: [`use --passphrase-file FILE or STORE_PASSPHRASE${confirm ? '' : ', unlock the store for a while with store unlock'}, or run on a terminal to be asked`],
  }, confirm);
}

async function passphraseSource(opts: MasterOptions, io: Io, creating: boolean): Promise<MasterKeySource> {
  const pw = await readPassphrase(opts, io, creating);
  try {
    return passphrase(pw, opts.scryptLogN !== undefined ? { scrypt: { logN: opts.scryptLogN } } : {});
  } finally {
    pw.fill(0); // passphrase() keeps its own copy, wiped once the key is derived
  }
}

async function readPin(opts: MasterOptions, io: Io): Promise<Uint8Array> {
  const pin = await readSecretInput({
    what: 'PKCS#11 PIN', file: opts.pinFile, fromEnv: io.env.STORE_PKCS11_PIN, noPrompt: promptsForbidden(io.env),
    hints: ['use --pin-file FILE or STORE_PKCS11_PIN, or run on a terminal to be asked'],
  }, false);
  // A PIN file is one a person writes, and some editors start it with a UTF-8 BOM (EF BB BF), which no
  // PIN means: skip it, as the PIN's UTF-8 decoding always did before it came to keep a BOM (for values).
  return pin[0] === 0xef && pin[1] === 0xbb && pin[2] === 0xbf ? pin.subarray(3) : pin;
}

/**
 * The module to load: one the user gave (--module, STORE_PKCS11_MODULE or a
 * profile) as given; else the path the store recorded at init, but only
 * from a trusted directory (trusted-module.ts), as it comes from the store
 * file and is loaded before anything in that file can be authenticated.
 * Checked before the PIN is read: a refused module never gets to see it.
 */
function hsmModule(opts: MasterOptions, io: Io, params?: MasterParams): string | undefined {
  const given = opts.module ?? io.env.STORE_PKCS11_MODULE;
  if (given !== undefined) return given;
  const hint = typeof params?.moduleHint === 'string' && params.moduleHint ? params.moduleHint : undefined;
  return hint === undefined ? undefined : trustedRecordedModule(hint, io.env.STORE_PKCS11_PROVIDERS);
}

async function hsmSource(opts: MasterOptions, io: Io, params?: MasterParams): Promise<MasterKeySource> {
  const module = hsmModule(opts, io, params);
  if (!module) throw missing('no PKCS#11 module given', ['use --module PATH or STORE_PKCS11_MODULE (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)']);
  const creating = params === undefined;
  if (creating && (!opts.tokenLabel || !opts.keyLabel)) {
    throw new StoreError('E_USAGE', 'a PKCS#11 master key needs --token-label and --key-label');
  }
  const pin = await readPin(opts, io);
  try {
    // Lazy import: only HSM users load the PKCS#11 code and its native addon.
    const { pkcs11 } = await import('../crypto/master/pkcs11/source.js');
    // At open the labels the store recorded find the key: labels given (by flag or profile) are for
    // a new key, at init or rotate-master --to pkcs11, and must not redirect the old one.
    const labels = creating ? { tokenLabel: opts.tokenLabel, keyLabel: opts.keyLabel } : {};
    return pkcs11({ module, ...labels, pin, create: creating });
  } finally {
    pin.fill(0); // pkcs11() keeps its own copy
  }
}

/**
 * A key given (flag, STORE_KEYFILE or profile, then STORE_MASTER_KEY) wins;
 * else the key file the store recorded at init, so that the command after
 * `store init --master keyfile --keyfile K` just works.
 */
function keySource(opts: MasterOptions, io: Io, creating: boolean, params?: MasterParams): MasterKeySource {
  if (opts.keyfile) return keyFile(opts.keyfile, { create: creating });
  if (io.env.STORE_MASTER_KEY) return envKey('STORE_MASTER_KEY', io.env);
  if (!creating && typeof params?.keyfile === 'string') return recordedKeyFile(params.keyfile);
  throw missing('no master key given', ['use --keyfile FILE (or STORE_KEYFILE), or set STORE_MASTER_KEY']);
}

/** The key file the store recorded at init; when it cannot be read, say where it was expected and how to point elsewhere. */
function recordedKeyFile(path: string): MasterKeySource {
  const source = keyFile(path);
  return {
    ...source,
    async unlock(storeId, params) {
      try {
        return await source.unlock(storeId, params);
      } catch (e) {
        if (!(e instanceof StoreError) || e.code !== 'E_MASTER_KEY') throw e;
        throw new StoreError(e.code, e.message, [
          `this store's key file was ${path} when it was made; if it moved, use --keyfile FILE (or STORE_KEYFILE), or set STORE_MASTER_KEY`,
        ]);
      }
    },
  };
}

/** The source for `store init --master KIND`. */
export async function sourceForInit(kind: MasterKind, opts: MasterOptions, io: Io): Promise<MasterKeySource> {
  switch (kind) {
    case 'passphrase':
      return passphraseSource(opts, io, true);
    case 'keyfile':
      if (!opts.keyfile) throw new StoreError('E_USAGE', '--master keyfile needs --keyfile PATH (created 0600 if absent)');
      return keyFile(opts.keyfile, { create: true });
    case 'env':
      return envKey('STORE_MASTER_KEY', io.env);
    case 'pkcs11':
      return hsmSource(opts, io);
    default:
      throw new StoreError('E_USAGE', `unknown master key kind${quotedIfSafe(kind)}; choose passphrase, keyfile, env or pkcs11`);
  }
}

/** The kind `store init` uses when --master is not given. */
export function defaultInitKind(opts: MasterOptions, io: Io): MasterKind {
  if (opts.keyfile) return 'keyfile';
  if (io.env.STORE_MASTER_KEY) return 'env';
  return 'passphrase';
}

/**
 * A passphrase given (file or environment) is used as given, as a flag beats
 * everything else; otherwise the agent, where `store unlock` left the store
 * (no KDF, no prompt); otherwise the prompt.
 */
async function passphraseOrAgent(opts: MasterOptions, io: Io): Promise<MasterKeySource> {
  if (opts.passphraseFile || io.env.STORE_PASSPHRASE) return passphraseSource(opts, io, false);
  // Lazy: key-file and HSM stores never load the agent client (and node:net).
  const { agent } = await import('../crypto/master/agent/source.js');
  return agent({
    env: io.env,
    fallback: () => passphraseSource(opts, io, false),
    onUnusable: (e) => io.stderr.write(`store: warning: not using the unlock agent: ${e.message}\n`),
  });
}

/** A chooser for openStore: the source matching the kind the store was made with. */
export function sourceForOpen(opts: MasterOptions, io: Io): (params: MasterParams) => Promise<MasterKeySource> {
  return async (params) => {
    const family = masterFamily(params.kind);
    if (family === 'passphrase') return passphraseOrAgent(opts, io);
    if (family === 'pkcs11') return hsmSource(opts, io, params);
    return keySource(opts, io, false, params);
  };
}
