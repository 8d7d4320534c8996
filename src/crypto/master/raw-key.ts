/** Master keys that are 32 raw bytes: from the caller, the environment, or a key file. */
import { fromBase64, wipe } from '../bytes.js';
import { checkFamily, masterKeyMissing, masterKeyNotGiven, typeName, type MasterKeySource, type MasterKind } from './master-key.js';
import { MASTER_KEY_BYTES, rawMasterKey } from './raw-master.js';

/**
 * A source over a loader of the 32 root bytes. The loader runs at most once
 * per create/unlock and its bytes are wiped as soon as the KEK is derived.
 */
/** `recorded`: public facts the store keeps to find the key again (a key file's path), never key material. */
export function rawKeySource(kind: MasterKind, load: (creating: boolean) => Promise<Uint8Array>, recorded: Record<string, string> = {}): MasterKeySource {
  async function make(storeId: Uint8Array, creating: boolean) {
    const root = await load(creating);
    try {
      return rawMasterKey(kind, root, storeId);
    } finally {
      wipe(root);
    }
  }
  return {
    kind,
    async create(storeId) {
      return { key: await make(storeId, true), params: { kind, ...recorded } };
    },
    async unlock(storeId, params) {
      checkFamily(kind, params);
      return make(storeId, false);
    },
  };
}

/** Decode a base64 master key, or say what is wrong with it (never what it holds). */
export function decodeMasterKey(text: string, where: string): Uint8Array {
  const key = fromBase64(text);
  if (!key || key.length !== MASTER_KEY_BYTES) {
    wipe(key);
    throw masterKeyMissing(`${where} must hold ${MASTER_KEY_BYTES} bytes in base64`, [
      'make one with: head -c 32 /dev/urandom | base64',
    ]);
  }
  return key;
}

/** A master key given as 32 bytes by the caller (copied; the caller keeps its own). */
export function rawKey(key: Uint8Array): MasterKeySource {
  if (!(key instanceof Uint8Array)) throw masterKeyMissing(`a raw master key is a Uint8Array of ${MASTER_KEY_BYTES} bytes, not ${typeName(key)}`);
  if (key.length !== MASTER_KEY_BYTES) throw masterKeyMissing(`a raw master key must be ${MASTER_KEY_BYTES} bytes`);
  const copy = new Uint8Array(key);
  return rawKeySource('raw', async () => new Uint8Array(copy));
}

/** A master key in base64 in an environment variable (default STORE_MASTER_KEY). */
export function envKey(variable = 'STORE_MASTER_KEY', env: NodeJS.ProcessEnv = process.env): MasterKeySource {
  return rawKeySource('env', async () => {
    const text = env[variable];
    if (!text) throw masterKeyNotGiven(`${variable} is not set`, [`export ${variable} with a base64 32-byte key`]);
    return decodeMasterKey(text, variable);
  });
}
