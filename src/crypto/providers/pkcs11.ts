/**
 * Master key in a PKCS#11 token (an HSM; SoftHSM2 in tests): an AES-256
 * secret key object that is sensitive and non-extractable, so its bytes never
 * leave the token. Wrapping is AES-GCM computed inside the token (PKCS#11
 * v2.40 §2.12.3, CKM_AES_GCM) with a 96-bit IV we draw from random.ts, the
 * caller's AAD and a 128-bit tag:
 *
 *     wrapped = 0x01 (format) ‖ iv (12) ‖ ciphertext ‖ tag (16)
 *
 * The store keeps only labels (token, key) and the mechanism name in its
 * header; the module path is given again at every open (kept as a hint).
 *
 * pkcs11js is a native CommonJS addon: it is imported lazily, inside create
 * and unlock, so users of the other providers never load it. Every PKCS#11
 * call is synchronous and each wrap/unwrap runs with no `await` between its
 * C_*Init and C_Encrypt/C_Decrypt, so two wraps on one session never
 * interleave.
 *
 * Process-wide state a PKCS#11 module imposes, handled here:
 * - C_Initialize/C_Finalize are per process: loaded modules are cached by
 *   path with a reference count (one per open master key); the last close
 *   finalizes and unloads.
 * - Login is per token, shared by all of the process's sessions, and
 *   C_Logout logs every session out: we count sessions per token and log out
 *   only when the last closes. A second login to a token already logged in
 *   is accepted without the PIN being checked again (PKCS#11 semantics,
 *   CKR_USER_ALREADY_LOGGED_IN).
 */
import { realpathSync } from 'node:fs';
import type * as Pkcs11Js from 'pkcs11js';
import { StoreError, WrongMasterKeyError } from '../../errors.js';
import { concat, tryUtf8, utf8, wipe } from '../bytes.js';
import { checkFamily, masterKeyMissing, type MasterKey, type MasterKeySource, type MasterParams } from '../master.js';
import { randomBytes } from '../random.js';

type P11 = typeof Pkcs11Js;
type Handle = Buffer;

/** The mechanism name recorded in the store header; the only one there is so far. */
export const PKCS11_MECHANISM = 'AES-GCM';

const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
/** Largest plaintext wrap() accepts: data keys are 32 bytes, the master check 29. */
const MAX_WRAP_INPUT = 64;
const MIN_WRAPPED = 1 + IV_BYTES + 1 + TAG_BYTES;
const MAX_WRAPPED = 1 + IV_BYTES + MAX_WRAP_INPUT + TAG_BYTES;
/** A token label is a 32-byte blank-padded field (CK_TOKEN_INFO.label). */
const MAX_TOKEN_LABEL_BYTES = 32;
const MAX_KEY_LABEL_BYTES = 128;

export interface Pkcs11Options {
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). Not kept as authoritative: give it at every open. */
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

// ---------------------------------------------------------------------------
// Loading pkcs11js and modules

let pkcs11js: Promise<P11> | undefined;

/** Import pkcs11js once (CommonJS: its constants are only on the default export). */
async function loadPkcs11js(): Promise<P11> {
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

interface LoadedModule {
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

/** The name of a PKCS#11 return value (CKR_…), or a neutral word; never anything else from the error. */
function ckrOf(e: unknown): string {
  const m = e instanceof Error ? /^CKR_[A-Z0-9_]+$/.exec(e.message) : null;
  return m ? m[0] : 'error';
}

function codeOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

function acquireModule(p11: P11, path: string): LoadedModule {
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

function releaseModule(m: LoadedModule): void {
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

// ---------------------------------------------------------------------------
// Token sessions

/** A logged-in session on one token of a loaded module. */
interface TokenSession {
  readonly module: LoadedModule;
  readonly session: Handle;
  readonly tokenLabel: string;
  release(): void;
}

/** A token label as the token reports it: a blank-padded 32-byte field. */
function trimLabel(label: string): string {
  return label.replace(/[ \0]+$/, '');
}

function findSlot(m: LoadedModule, tokenLabel: string): Handle {
  const { lib, p11 } = m;
  let slots: Handle[];
  try {
    slots = lib.C_GetSlotList(true);
  } catch (e) {
    throw masterKeyMissing(`cannot list the slots of PKCS#11 module ${m.path}: ${ckrOf(e)}`);
  }
  const seen: string[] = [];
  const matches: Handle[] = [];
  for (const slot of slots) {
    let info: Pkcs11Js.TokenInfo;
    try {
      info = lib.C_GetTokenInfo(slot);
    } catch {
      continue; // a slot whose token went away while we listed
    }
    if ((info.flags & p11.CKF_TOKEN_INITIALIZED) === 0) continue;
    const label = trimLabel(info.label);
    seen.push(JSON.stringify(label));
    if (label === tokenLabel) matches.push(slot);
  }
  if (matches.length === 0) {
    throw masterKeyMissing(
      `no PKCS#11 token labelled ${JSON.stringify(tokenLabel)} in ${m.path} (tokens seen: ${seen.length ? seen.join(', ') : 'none'})`,
      ['check the token label, and that the token is initialised (softhsm2-util --show-slots)'],
    );
  }
  if (matches.length > 1) {
    throw masterKeyMissing(`${matches.length} PKCS#11 tokens in ${m.path} are labelled ${JSON.stringify(tokenLabel)}`, [
      'give each token its own label',
    ]);
  }
  return matches[0]!;
}

function login(m: LoadedModule, session: Handle, pin: string, tokenLabel: string): void {
  const { p11 } = m;
  try {
    m.lib.C_Login(session, p11.CKU_USER, pin);
  } catch (e) {
    const code = codeOf(e);
    if (code === p11.CKR_USER_ALREADY_LOGGED_IN) return; // another store of this process holds the login
    if (code === p11.CKR_PIN_INCORRECT || code === p11.CKR_PIN_INVALID || code === p11.CKR_PIN_LEN_RANGE) {
      throw new WrongMasterKeyError('the HSM refused the PIN', [
        `check the user PIN of token ${JSON.stringify(tokenLabel)}; repeated failures may lock it`,
      ]);
    }
    if (code === p11.CKR_PIN_LOCKED) {
      throw masterKeyMissing(`the user PIN of token ${JSON.stringify(tokenLabel)} is locked`, [
        'the token\'s security officer must reset it',
      ]);
    }
    throw masterKeyMissing(`cannot log in to token ${JSON.stringify(tokenLabel)}: ${ckrOf(e)}`);
  }
}

/** Load the module, find the token, open a session and log in as the user. */
function openToken(p11: P11, modulePath: string, tokenLabel: string, pin: string, readWrite: boolean): TokenSession {
  const m = acquireModule(p11, modulePath);
  let session: Handle | undefined;
  try {
    const slot = findSlot(m, tokenLabel);
    const slotKey = slot.toString('hex');
    const flags = p11.CKF_SERIAL_SESSION | (readWrite ? p11.CKF_RW_SESSION : 0);
    try {
      session = m.lib.C_OpenSession(slot, flags);
    } catch (e) {
      throw masterKeyMissing(`cannot open a session on token ${JSON.stringify(tokenLabel)}: ${ckrOf(e)}`);
    }
    login(m, session, pin, tokenLabel);
    m.loggedIn.set(slotKey, (m.loggedIn.get(slotKey) ?? 0) + 1);
    const opened = session;
    let released = false;
    return {
      module: m,
      session: opened,
      tokenLabel,
      release() {
        if (released) return;
        released = true;
        const left = (m.loggedIn.get(slotKey) ?? 1) - 1;
        if (left > 0) {
          m.loggedIn.set(slotKey, left);
        } else {
          m.loggedIn.delete(slotKey);
          try {
            m.lib.C_Logout(opened);
          } catch {
            // closing the token's last session logs out anyway
          }
        }
        try {
          m.lib.C_CloseSession(opened);
        } catch {
          // the session may already be gone with its token
        }
        releaseModule(m);
      },
    };
  } catch (e) {
    if (session) {
      try {
        m.lib.C_CloseSession(session);
      } catch {
        // as above
      }
    }
    releaseModule(m);
    throw e;
  }
}

// ---------------------------------------------------------------------------
// The key object

function keyTemplate(p11: P11, keyLabel: string): Pkcs11Js.Template {
  return [
    { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
    { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
    { type: p11.CKA_TOKEN, value: true },
    { type: p11.CKA_LABEL, value: keyLabel },
  ];
}

/** The AES key objects labelled `keyLabel` (at most 2: enough to see an ambiguity). */
function findKeys(t: TokenSession, keyLabel: string): Handle[] {
  const { lib, p11 } = t.module;
  try {
    lib.C_FindObjectsInit(t.session, keyTemplate(p11, keyLabel));
    try {
      return lib.C_FindObjects(t.session, 2);
    } finally {
      lib.C_FindObjectsFinal(t.session);
    }
  } catch (e) {
    throw masterKeyMissing(`cannot search token ${JSON.stringify(t.tokenLabel)} for keys: ${ckrOf(e)}`);
  }
}

/** Make the master key inside the token: AES-256, sensitive, never extractable, encrypt/decrypt only. */
function generateKey(t: TokenSession, keyLabel: string): Handle {
  const { lib, p11 } = t.module;
  try {
    return lib.C_GenerateKey(t.session, { mechanism: p11.CKM_AES_KEY_GEN }, [
      ...keyTemplate(p11, keyLabel),
      { type: p11.CKA_VALUE_LEN, value: KEY_BYTES },
      { type: p11.CKA_PRIVATE, value: true },
      { type: p11.CKA_SENSITIVE, value: true },
      { type: p11.CKA_EXTRACTABLE, value: false },
      { type: p11.CKA_ENCRYPT, value: true },
      { type: p11.CKA_DECRYPT, value: true },
      // Least privilege: the key wraps through AES-GCM encrypt/decrypt only.
      { type: p11.CKA_WRAP, value: false },
      { type: p11.CKA_UNWRAP, value: false },
      { type: p11.CKA_SIGN, value: false },
      { type: p11.CKA_VERIFY, value: false },
      { type: p11.CKA_DERIVE, value: false },
    ]);
  } catch (e) {
    throw masterKeyMissing(`cannot generate key ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}: ${ckrOf(e)}`);
  }
}

function attrBool(v: Buffer | undefined): boolean | undefined {
  return v && v.length > 0 ? v[0] !== 0 : undefined;
}

/** A CK_ULONG as the platform lays it out (little-endian here), small values only. */
function attrULong(v: Buffer | undefined): number | undefined {
  return v && v.length > 0 ? v.readUIntLE(0, Math.min(v.length, 6)) : undefined;
}

/** Refuse a key Strongbox would not have made: extractable, not sensitive, not AES-256, or unable to encrypt. */
function checkKeyPolicy(t: TokenSession, key: Handle, keyLabel: string): void {
  const { lib, p11 } = t.module;
  let values: Map<number, Buffer>;
  try {
    const got = lib.C_GetAttributeValue(t.session, key, [
      { type: p11.CKA_SENSITIVE },
      { type: p11.CKA_EXTRACTABLE },
      { type: p11.CKA_VALUE_LEN },
      { type: p11.CKA_ENCRYPT },
      { type: p11.CKA_DECRYPT },
    ]);
    values = new Map(got.map((a) => [a.type, a.value]));
  } catch (e) {
    throw masterKeyMissing(`cannot read the attributes of key ${JSON.stringify(keyLabel)}: ${ckrOf(e)}`);
  }
  const where = `PKCS#11 key ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}`;
  if (attrBool(values.get(p11.CKA_SENSITIVE)) !== true || attrBool(values.get(p11.CKA_EXTRACTABLE)) !== false) {
    throw masterKeyMissing(`${where} can be extracted from the token (it must be sensitive and non-extractable)`, [
      'use another key label: init with create generates a suitable key',
    ]);
  }
  if (attrULong(values.get(p11.CKA_VALUE_LEN)) !== KEY_BYTES) {
    throw masterKeyMissing(`${where} is not an AES-256 key`);
  }
  if (attrBool(values.get(p11.CKA_ENCRYPT)) !== true || attrBool(values.get(p11.CKA_DECRYPT)) !== true) {
    throw masterKeyMissing(`${where} is not allowed to encrypt and decrypt (CKA_ENCRYPT, CKA_DECRYPT)`);
  }
}

function findOrCreateKey(t: TokenSession, keyLabel: string, create: boolean): Handle {
  const found = findKeys(t, keyLabel);
  if (found.length > 1) {
    throw masterKeyMissing(`several AES keys on token ${JSON.stringify(t.tokenLabel)} are labelled ${JSON.stringify(keyLabel)}`, [
      'give the master key a label of its own',
    ]);
  }
  let key = found[0];
  if (!key) {
    if (!create) {
      throw masterKeyMissing(`no AES key labelled ${JSON.stringify(keyLabel)} on token ${JSON.stringify(t.tokenLabel)}`, [
        'check the key label; at init, ask for the key to be created',
      ]);
    }
    key = generateKey(t, keyLabel);
  }
  checkKeyPolicy(t, key, keyLabel);
  return key;
}

// ---------------------------------------------------------------------------
// The master key

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

class Pkcs11MasterKey implements MasterKey {
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

// ---------------------------------------------------------------------------
// The source

function checkLabel(label: string | undefined, what: string, maxBytes: number): string | undefined {
  if (label === undefined) return undefined;
  if (typeof label !== 'string' || trimLabel(label).length === 0) throw masterKeyMissing(`the PKCS#11 ${what} is empty`);
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
 *   another family), E_UNSUPPORTED_FORMAT (unknown mechanism in the store header)
 * @example
 *   const store = await initStore(path, pkcs11({ module: '/usr/lib/softhsm/libsofthsm2.so',
 *     tokenLabel: 'strongbox', keyLabel: 'master', pin, create: true }));
 */
export function pkcs11(options: Pkcs11Options): MasterKeySource {
  if (typeof options.module !== 'string' || options.module.length === 0) throw masterKeyMissing('no PKCS#11 module path given');
  const modulePath = options.module;
  const tokenOption = checkLabel(options.tokenLabel, 'token label', MAX_TOKEN_LABEL_BYTES);
  const keyOption = checkLabel(options.keyLabel, 'key label', MAX_KEY_LABEL_BYTES);
  let pin: Uint8Array | undefined = typeof options.pin === 'string' ? utf8.encode(options.pin) : new Uint8Array(options.pin);
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
      const key = findOrCreateKey(token, keyLabel, creating && options.create === true);
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

/**
 * Test hooks: a logged-in session through the same module cache the
 * provider uses (a second C_Initialize would be refused), and the number of
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
    return modules.size;
  },
};
