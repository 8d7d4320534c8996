/**
 * Master key in a PKCS#11 token (an HSM; SoftHSM2 in tests): an AES-256
 * secret key object that is sensitive and non-extractable, so its bytes never
 * leave the token; wrapping happens inside it.
 *
 * The store keeps only labels (token, key) and the mechanism name in its
 * header; the module path is given again at every open (kept as a hint,
 * which comes from the store file like the rest of the header, so it is
 * not to be loaded unchecked: see trusted-module.ts, which the CLI uses).
 *
 * The parts, by job: module.ts loads pkcs11js and modules, session.ts opens
 * and logs in to a token, key-object.ts finds or makes the key and checks
 * its policy, wrap.ts is the wrap format and the MasterKey.
 */
import { StoreError } from '../../../errors.js';
import { tryUtf8, utf8, wipe } from '../../bytes.js';
import { checkFamily, masterKeyMissing, secretCopy, sourceOptions, typeName, type MasterKey, type MasterKeySource, type MasterParams } from '../master-key.js';
import { findOrCreateKey } from './key-object.js';
import { loadPkcs11js } from './module.js';
import { openToken, trimLabel } from './session.js';
import { Pkcs11MasterKey } from './wrap.js';

/** The mechanism name recorded in the store header; the only one there is so far. */
export const PKCS11_MECHANISM = 'AES-GCM';

/** A token label is a 32-byte blank-padded field (CK_TOKEN_INFO.label). */
const MAX_TOKEN_LABEL_BYTES = 32;
const MAX_KEY_LABEL_BYTES = 128;

export interface Pkcs11Options {
  /**
   * Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so), loaded as given. Not kept as authoritative:
   * give it at every open; the `moduleHint` a store recorded comes from the store file, not to be passed here unchecked.
   */
  module: string;
  /** Label of the token holding the key. Needed at create; at unlock the store's recorded label is used when absent. */
  tokenLabel?: string;
  /** CKA_LABEL of the AES key. Needed at create; at unlock the store's recorded label is used when absent. */
  keyLabel?: string;
  /** The token's user PIN. Copied; the copy is wiped after the first create or unlock. */
  pin: string | Uint8Array;
  /** At create, generate the key in the token when none has `keyLabel` (default false). */
  create?: boolean;
}

function checkLabel(label: string | undefined, what: string, maxBytes: number): string | undefined {
  if (label === undefined) return undefined;
  if (typeof label !== 'string') throw masterKeyMissing(`the PKCS#11 ${what} must be a string, not ${typeName(label)}`);
  if (trimLabel(label).length === 0) throw masterKeyMissing(`the PKCS#11 ${what} is empty`);
  if (utf8.encode(label).length > maxBytes) throw masterKeyMissing(`the PKCS#11 ${what} is longer than ${maxBytes} bytes`);
  return label;
}

/** The labels a store recorded at init. @throws E_UNSUPPORTED_FORMAT */
function readParams(params: MasterParams): { tokenLabel: string; keyLabel: string } {
  if (params.mechanism !== PKCS11_MECHANISM) {
    const shown = typeof params.mechanism === 'string' ? JSON.stringify(params.mechanism.slice(0, 32)) : 'none';
    throw new StoreError('E_UNSUPPORTED_FORMAT', `the store's PKCS#11 wrapping mechanism ${shown} is not supported`);
  }
  const { tokenLabel, keyLabel } = params;
  if (typeof tokenLabel !== 'string' || !tokenLabel || typeof keyLabel !== 'string' || !keyLabel) {
    throw new StoreError('E_UNSUPPORTED_FORMAT', 'the store header has no usable PKCS#11 token and key labels');
  }
  return { tokenLabel, keyLabel };
}

/**
 * A master-key source over an AES-256 key inside a PKCS#11 token. The key
 * object is sensitive and non-extractable; wrapping is AES-GCM inside the
 * token, bound to the caller's AAD. Like `passphrase`, a source creates or
 * unlocks once: the PIN copy is wiped after its first use.
 *
 * @param options module path, token and key labels, user PIN, and whether create may generate the key
 * @returns a source of kind 'pkcs11'; its params record `tokenLabel`, `keyLabel`, `mechanism: 'AES-GCM'` and `moduleHint`
 * @throws E_MASTER_KEY (at call: empty PIN, module or label; at create/unlock: module not loadable, no such token,
 *   no such key, unsuitable key, token failure), E_WRONG_MASTER_KEY (the HSM refused the PIN; at unlock: a store of
 *   another family), E_UNSUPPORTED_FORMAT (unknown mechanism in the store header), E_LOCKED (at create: another
 *   process generated a key under the same label at the same moment; the one generated here was removed: run again)
 * @example
 *   const store = await initStore(path, pkcs11({ module: '/usr/lib/softhsm/libsofthsm2.so',
 *     tokenLabel: 'strongbox', keyLabel: 'master', pin, create: true }));
 */
export function pkcs11(options: Pkcs11Options): MasterKeySource {
  // Every option is checked before any PKCS#11 call: a PIN of the wrong type must never reach C_Login (a real token counts wrong PINs).
  if (options === undefined) throw masterKeyMissing('pkcs11() takes { module, pin, tokenLabel?, keyLabel?, create? }');
  options = sourceOptions(options, 'pkcs11()');
  if (options.module !== undefined && typeof options.module !== 'string') throw masterKeyMissing(`the PKCS#11 module path must be a string, not ${typeName(options.module)}`);
  if (typeof options.module !== 'string' || options.module.length === 0) throw masterKeyMissing('no PKCS#11 module path given');
  if (options.create !== undefined && typeof options.create !== 'boolean') throw masterKeyMissing('the PKCS#11 create option must be true or false');
  const modulePath = options.module;
  const tokenOption = checkLabel(options.tokenLabel, 'token label', MAX_TOKEN_LABEL_BYTES);
  const keyOption = checkLabel(options.keyLabel, 'key label', MAX_KEY_LABEL_BYTES);
  if (options.pin === undefined) throw masterKeyMissing('no PKCS#11 PIN given');
  let pin: Uint8Array | undefined = secretCopy(options.pin, 'PKCS#11 PIN');
  if (pin.length === 0) throw masterKeyMissing('the PKCS#11 PIN is empty');

  /** The PIN as C_Login takes it (a string: pkcs11js accepts nothing else); the byte copy is wiped. */
  function takePin(): string {
    if (!pin) throw masterKeyMissing('this PKCS#11 master-key source was already used: make a new one for each create or unlock');
    const text = tryUtf8(pin);
    wipe(pin);
    pin = undefined;
    if (text === undefined) throw masterKeyMissing('the PKCS#11 PIN is not valid UTF-8');
    return text;
  }

  async function connect(tokenLabel: string, keyLabel: string, creating: boolean): Promise<MasterKey> {
    const pinText = takePin();
    const p11 = await loadPkcs11js();
    const token = openToken(p11, modulePath, trimLabel(tokenLabel), pinText, creating && options.create === true);
    try {
      // Opening with the label the store recorded: a key that is not there was deleted (another hint than a mistyped label's).
      const key = findOrCreateKey(token, keyLabel, creating && options.create === true, !creating && keyOption === undefined);
      return new Pkcs11MasterKey(token, key, keyLabel);
    } catch (e) {
      token.release();
      throw e;
    }
  }

  return {
    kind: 'pkcs11',
    async create() {
      if (!tokenOption || !keyOption) throw masterKeyMissing('a new PKCS#11 master key needs a token label and a key label');
      const key = await connect(tokenOption, keyOption, true);
      const params: MasterParams = {
        kind: 'pkcs11', tokenLabel: trimLabel(tokenOption), keyLabel: keyOption, mechanism: PKCS11_MECHANISM, moduleHint: modulePath,
      };
      return { key, params };
    },
    async unlock(_storeId, params) {
      checkFamily('pkcs11', params);
      const stored = readParams(params);
      // The store's labels unless the caller names others (which then fail the master check, or find no key).
      return connect(tokenOption ?? stored.tokenLabel, keyOption ?? stored.keyLabel, false);
    },
  };
}
