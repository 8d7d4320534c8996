/** The key of a v1 bundle from what the caller gave (a passphrase, a key file, raw bytes): new for an export, for its header on import. */
import { StoreError } from '../../errors.js';
import { utf8, wipe } from '../../crypto/bytes.js';
import type { BundleHeader } from '../../crypto/bundle/header.js';
import { keyFileBundleKey, keyFileHeader, passphraseBundleKey, passphraseHeader } from '../../crypto/bundle/keys.js';
import { DEFAULT_SCRYPT } from '../../crypto/kdf.js';
import { readKeyFile } from '../../crypto/master/keyfile.js';
import { usage } from './checks.js';
import type { BundleKey } from './types.js';

function passphraseBytes(p: string | Uint8Array): Uint8Array {
  const pw = typeof p === 'string' ? utf8.encode(p) : new Uint8Array(p);
  if (pw.length === 0) throw new StoreError('E_MASTER_KEY', 'the export passphrase is empty');
  return pw;
}

function fileKeyOf(key: BundleKey): Uint8Array {
  if ('keyFile' in key) return readKeyFile(key.keyFile);
  if ('key' in key) {
    if (!(key.key instanceof Uint8Array) || key.key.length !== 32) throw new StoreError('E_MASTER_KEY', 'a bundle key must be 32 bytes');
    return new Uint8Array(key.key);
  }
  throw usage('a bundle key is { passphrase }, { keyFile } or { key }');
}

/** A fresh header (random salt) for `key`, and the bundle key it gives. */
export async function newBundleKey(key: BundleKey, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>): Promise<{ header: BundleHeader; bundleKey: Uint8Array }> {
  if (key && 'passphrase' in key) {
    const pw = passphraseBytes(key.passphrase);
    try {
      const header = passphraseHeader({ ...DEFAULT_SCRYPT, ...key.scrypt }, fields);
      return { header, bundleKey: await passphraseBundleKey(pw, header) };
    } finally {
      wipe(pw);
    }
  }
  const fileKey = fileKeyOf(key);
  try {
    const header = keyFileHeader(fileKey, fields);
    return { header, bundleKey: keyFileBundleKey(fileKey, header) };
  } finally {
    wipe(fileKey);
  }
}

/** The bundle key for an existing header. @throws E_WRONG_MASTER_KEY, E_MASTER_KEY */
export async function bundleKeyFor(key: BundleKey, header: BundleHeader): Promise<Uint8Array> {
  if (key && 'passphrase' in key) {
    const pw = passphraseBytes(key.passphrase);
    try {
      return await passphraseBundleKey(pw, header);
    } finally {
      wipe(pw);
    }
  }
  const fileKey = fileKeyOf(key);
  try {
    return keyFileBundleKey(fileKey, header);
  } finally {
    wipe(fileKey);
  }
}
