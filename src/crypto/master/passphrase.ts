/** Master key from a passphrase: scrypt with a random 16-byte salt kept in the store header. */
import { fromBase64, toBase64, wipe } from '../bytes.js';
import { DEFAULT_SCRYPT, checkScryptParams, scrypt, type ScryptParams } from '../kdf.js';
import { checkFamily, masterKeyMissing, secretCopy, sourceOptions, type MasterKeySource, type MasterParams } from './master-key.js';
import { randomBytes } from '../random.js';
import { rawMasterKey } from './raw-master.js';
import { StoreError } from '../../errors.js';

const SALT_BYTES = 16;

export interface PassphraseOptions {
  /** scrypt cost for a new store (default logN 17, r 8, p 1; never below logN 15). */
  scrypt?: Partial<ScryptParams>;
}

function readParams(params: MasterParams): { salt: Uint8Array; cost: ScryptParams } {
  const salt = typeof params.salt === 'string' ? fromBase64(params.salt) : undefined;
  if (params.kdf !== 'scrypt' || !salt || salt.length !== SALT_BYTES) {
    throw new StoreError('E_UNSUPPORTED_FORMAT', 'the store header has no usable passphrase KDF parameters');
  }
  const cost = checkScryptParams({ logN: Number(params.logN), r: Number(params.r), p: Number(params.p) });
  return { salt, cost };
}

/**
 * The 32 root bytes `pw` gives under a store's recorded KDF parameters: what
 * the unlock agent holds, so it can stand in for the passphrase. The caller
 * wipes them.
 */
export function passphraseRoot(pw: Uint8Array, params: MasterParams): Promise<Uint8Array> {
  checkFamily('passphrase', params);
  const { salt, cost } = readParams(params);
  return scrypt(pw, salt, cost);
}

/**
 * A passphrase master-key source. The passphrase is copied and wiped once
 * the key is derived; a source therefore unlocks or creates once.
 */
export function passphrase(secret: string | Uint8Array, options: PassphraseOptions = {}): MasterKeySource {
  options = sourceOptions(options, 'passphrase()');
  const pw = secretCopy(secret, 'passphrase');
  if (pw.length === 0) throw masterKeyMissing('the passphrase is empty');

  let used = false;
  async function derive(storeId: Uint8Array, salt: Uint8Array, cost: ScryptParams) {
    if (used) throw masterKeyMissing('this passphrase source was used already (its copy of the passphrase is wiped): make a new one');
    used = true;
    const root = await scrypt(pw, salt, cost);
    try {
      return rawMasterKey('passphrase', root, storeId);
    } finally {
      wipe(root, pw);
    }
  }

  return {
    kind: 'passphrase',
    async create(storeId) {
      const cost = checkScryptParams({ ...DEFAULT_SCRYPT, ...options.scrypt });
      const salt = randomBytes(SALT_BYTES);
      const key = await derive(storeId, salt, cost);
      return { key, params: { kind: 'passphrase', kdf: 'scrypt', ...cost, salt: toBase64(salt) } };
    },
    async unlock(storeId, params) {
      checkFamily('passphrase', params);
      const { salt, cost } = readParams(params);
      return derive(storeId, salt, cost);
    },
  };
}
