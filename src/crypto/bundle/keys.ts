/**
 * The keys of a v1 bundle (docs/export-format.md): a passphrase (scrypt,
 * capped by BUNDLE_SCRYPT_LIMITS, then HKDF) or a 32-byte key-file key (HKDF),
 * the key id a key-file bundle records, and the opening of the header's key
 * check, which tells a wrong key (E_WRONG_MASTER_KEY) from a damaged file.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { WrongMasterKeyError } from '../../errors.js';
import { AeadOpenError, KEY_BYTES, open } from '../aead.js';
import { concat, equalBytes, hex, utf8, wipe } from '../bytes.js';
import { BUNDLE_SCRYPT_LIMITS, checkScryptParams, scrypt, type ScryptParams } from '../kdf.js';
import { hkdfSha256 } from '../mac.js';
import { randomBytes } from '../random.js';
import { CHECK_BYTES, CHECK_PLAINTEXT, HKDF_SALT_BYTES, KEY_ID_BYTES, SCRYPT_SALT_BYTES, checkAad, type BundleHeader } from './header.js';
import { lp } from './wire.js';

const KEY_INFO = utf8.encode('strongbox/export/v1/bundle-key');
const KEY_ID_LABEL = utf8.encode('strongbox/export/v1/key-id');

/** The id a key-file bundle records for its key: not secret, lets a reader say "wrong key file". */
export function bundleKeyId(fileKey: Uint8Array): Uint8Array {
  return sha256(concat(lp(KEY_ID_LABEL), fileKey)).subarray(0, KEY_ID_BYTES);
}

function bundleKeyFromRoot(root: Uint8Array, salt: Uint8Array): Uint8Array {
  return hkdfSha256(root, salt, KEY_INFO, KEY_BYTES);
}

/** A fresh header for a passphrase bundle (random salt); counts filled in by the writer. */
export function passphraseHeader(scryptParams: ScryptParams, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>, salt = randomBytes(SCRYPT_SALT_BYTES)): BundleHeader {
  return { kind: 'passphrase', scrypt: checkScryptParams(scryptParams, BUNDLE_SCRYPT_LIMITS), salt, ...fields, secrets: 0, versions: 0 };
}

/** A fresh header for a key-file bundle (random HKDF salt). */
export function keyFileHeader(fileKey: Uint8Array, fields: Pick<BundleHeader, 'allVersions' | 'createdAt'>, salt = randomBytes(HKDF_SALT_BYTES)): BundleHeader {
  return { kind: 'keyfile', keyId: bundleKeyId(fileKey), salt, ...fields, secrets: 0, versions: 0 };
}

/**
 * The bundle key from a passphrase: scrypt (capped like the store's) then HKDF.
 * @throws StoreError E_USAGE when the header is not a passphrase header
 */
export async function passphraseBundleKey(passphrase: Uint8Array, h: BundleHeader): Promise<Uint8Array> {
  if (h.kind !== 'passphrase' || !h.scrypt) {
    throw new WrongMasterKeyError('this bundle is sealed to a key file, not a passphrase', ['give the key file (--recipient-keyfile)']);
  }
  const root = await scrypt(passphrase, h.salt, h.scrypt, 32, BUNDLE_SCRYPT_LIMITS);
  try {
    return bundleKeyFromRoot(root, h.salt);
  } finally {
    wipe(root);
  }
}

/**
 * The bundle key from a 32-byte key-file key.
 * @throws WrongMasterKeyError when the header names another key (by id) or is a passphrase bundle
 */
export function keyFileBundleKey(fileKey: Uint8Array, h: BundleHeader): Uint8Array {
  if (fileKey.length !== KEY_BYTES) throw new RangeError(`bundle: a key-file key is ${KEY_BYTES} bytes`);
  if (h.kind !== 'keyfile' || !h.keyId) {
    throw new WrongMasterKeyError('this bundle is sealed with a passphrase, not a key file', ['give the export passphrase']);
  }
  const given = bundleKeyId(fileKey);
  if (!equalBytes(given, h.keyId)) {
    throw new WrongMasterKeyError(
      `this bundle is sealed to key file id ${hex(h.keyId)}; the key file given has id ${hex(given)}`,
      ['give the key file the bundle was exported for; nothing was imported'],
    );
  }
  return bundleKeyFromRoot(fileKey, h.salt);
}

/**
 * Open the key check with `key`.
 * @throws WrongMasterKeyError when it does not open: a wrong passphrase or key (or a damaged check)
 */
export function verifyBundleKey(key: Uint8Array, headerBytes: Uint8Array): void {
  const unchecked = headerBytes.subarray(0, headerBytes.length - CHECK_BYTES);
  let opened: Uint8Array | undefined;
  try {
    opened = open(key, headerBytes.subarray(headerBytes.length - CHECK_BYTES), checkAad(unchecked));
  } catch (e) {
    if (!(e instanceof AeadOpenError)) throw e;
  }
  if (!opened || !equalBytes(opened, CHECK_PLAINTEXT)) {
    throw new WrongMasterKeyError('the passphrase or key does not open this export bundle', [
      'check the export passphrase or recipient key file; nothing was imported',
    ]);
  }
}
