/**
 * The PKCS#11 master key: wrapping is AES-GCM computed inside the token
 * (PKCS#11 v2.40 §2.12.3, CKM_AES_GCM) with a 96-bit IV we draw from
 * random.ts, the caller's AAD and a 128-bit tag:
 *
 *     wrapped = 0x01 (format) ‖ iv (12) ‖ ciphertext ‖ tag (16)
 *
 * Every PKCS#11 call is synchronous and each wrap/unwrap runs with no
 * `await` between its C_*Init and C_Encrypt/C_Decrypt, so two wraps on one
 * session never interleave.
 */
import type * as Pkcs11Js from 'pkcs11js';
import { StoreError } from '../../../errors.js';
import { concat } from '../../bytes.js';
import { randomBytes } from '../../random.js';
import { masterKeyMissing, type MasterKey } from '../master-key.js';
import { ckrOf, codeOf, type Handle, type P11 } from './module.js';
import type { TokenSession } from './session.js';

const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Largest plaintext wrap() accepts: data keys are 32 bytes, the master check 29. */
const MAX_WRAP_INPUT = 64;
const MIN_WRAPPED = 1 + IV_BYTES + 1 + TAG_BYTES;
const MAX_WRAPPED = 1 + IV_BYTES + MAX_WRAP_INPUT + TAG_BYTES;

/** CK_GCM_PARAMS of PKCS#11 v2.40 (with ulIvBits), which SoftHSM2 and current HSMs take. */
function gcm(p11: P11, iv: Uint8Array, aad: Uint8Array): Pkcs11Js.Mechanism {
  const parameter: Pkcs11Js.AesGCM = {
    type: p11.CK_PARAMS_AES_GCM_v240,
    iv: Buffer.from(iv),
    ivBits: IV_BYTES * 8,
    aad: Buffer.from(aad),
    tagBits: TAG_BYTES * 8,
  };
  return { mechanism: p11.CKM_AES_GCM, parameter };
}

/** A failure of the token itself (not of the data): the HSM, session or login went away. */
function isDeviceFailure(p11: P11, e: unknown): boolean {
  const code = codeOf(e);
  return (
    code !== undefined &&
    [
      p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_DEVICE_REMOVED, p11.CKR_DEVICE_ERROR,
      p11.CKR_DEVICE_MEMORY, p11.CKR_HOST_MEMORY, p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_USER_NOT_LOGGED_IN,
      p11.CKR_CRYPTOKI_NOT_INITIALIZED, p11.CKR_KEY_HANDLE_INVALID,
    ].includes(code)
  );
}

/** Unwrap failed: malformed, altered, bound to other AAD, or another key. No detail by design. */
function unwrapFailed(): Error {
  return new Error('pkcs11 master key: unwrap failed');
}

export class Pkcs11MasterKey implements MasterKey {
  readonly kind = 'pkcs11' as const;
  #token: TokenSession | undefined;
  readonly #key: Handle;
  readonly #keyLabel: string;

  constructor(token: TokenSession, key: Handle, keyLabel: string) {
    this.#token = token;
    this.#key = key;
    this.#keyLabel = keyLabel;
  }

  #open(): TokenSession {
    if (!this.#token) throw new Error('master key: used after close');
    return this.#token;
  }

  #hsmFailure(op: string, e: unknown): StoreError {
    return masterKeyMissing(
      `the HSM failed to ${op} with key ${JSON.stringify(this.#keyLabel)} on token ${JSON.stringify(this.#token?.tokenLabel)}: ${ckrOf(e)}`,
    );
  }

  async wrap(key: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const t = this.#open();
    const { lib, p11 } = t.module;
    if (key.length < 1 || key.length > MAX_WRAP_INPUT) {
      throw new RangeError(`pkcs11 master key: wrap expects 1..${MAX_WRAP_INPUT} bytes, got ${key.length}`);
    }
    const iv = randomBytes(IV_BYTES);
    try {
      lib.C_EncryptInit(t.session, gcm(p11, iv, aad), this.#key);
    } catch (e) {
      throw this.#hsmFailure('start AES-GCM encryption', e);
    }
    // Room beyond ciphertext ‖ tag so no token answers CKR_BUFFER_TOO_SMALL (which would leave the operation active).
    const out = Buffer.alloc(key.length + TAG_BYTES + 16);
    let sealed: Buffer;
    try {
      sealed = lib.C_Encrypt(t.session, Buffer.from(key.buffer, key.byteOffset, key.length), out);
    } catch (e) {
      throw this.#hsmFailure('encrypt', e);
    }
    if (sealed.length !== key.length + TAG_BYTES) {
      throw masterKeyMissing(`the HSM returned ${sealed.length} bytes for AES-GCM over ${key.length} (expected ${key.length + TAG_BYTES})`);
    }
    return concat(Uint8Array.of(FORMAT_V1), iv, sealed);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const t = this.#open();
    const { lib, p11 } = t.module;
    if (wrapped.length < MIN_WRAPPED || wrapped.length > MAX_WRAPPED) throw unwrapFailed();
    if (wrapped[0] !== FORMAT_V1) {
      throw new StoreError('E_UNSUPPORTED_FORMAT', `pkcs11 wrapped key: unknown format byte 0x${wrapped[0]!.toString(16).padStart(2, '0')}`);
    }
    const iv = wrapped.subarray(1, 1 + IV_BYTES);
    const sealed = Buffer.from(wrapped.subarray(1 + IV_BYTES));
    try {
      lib.C_DecryptInit(t.session, gcm(p11, iv, aad), this.#key);
    } catch (e) {
      throw this.#hsmFailure('start AES-GCM decryption', e);
    }
    const out = Buffer.alloc(sealed.length);
    try {
      const opened = lib.C_Decrypt(t.session, sealed, out);
      if (opened.length !== sealed.length - TAG_BYTES) throw unwrapFailed();
      return new Uint8Array(opened);
    } catch (e) {
      if (isDeviceFailure(p11, e)) throw this.#hsmFailure('decrypt', e);
      throw unwrapFailed(); // the token's own error is replaced, not wrapped
    } finally {
      out.fill(0);
    }
  }

  close(): void {
    const t = this.#token;
    this.#token = undefined;
    t?.release();
  }

  toString(): string {
    return `Pkcs11MasterKey(${JSON.stringify(this.#keyLabel)})`;
  }
}
