/**
 * Logged-in sessions on a token. Login is per token, shared by all of the
 * process's sessions, and C_Logout logs every session out: sessions are
 * counted per token and the last to close logs out. A second login to a
 * token already logged in is accepted without the PIN being checked again
 * (PKCS#11 semantics, CKR_USER_ALREADY_LOGGED_IN).
 */
import type * as Pkcs11Js from 'pkcs11js';
import { WrongMasterKeyError } from '../../../errors.js';
import { masterKeyMissing } from '../master-key.js';
import { acquireModule, ckrOf, codeOf, releaseModule, type Handle, type LoadedModule, type P11 } from './module.js';

/** A logged-in session on one token of a loaded module. */
export interface TokenSession {
  readonly module: LoadedModule;
  readonly session: Handle;
  readonly tokenLabel: string;
  release(): void;
}

/** A token label as the token reports it: a blank-padded 32-byte field. */
export function trimLabel(label: string): string {
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
export function openToken(p11: P11, modulePath: string, tokenLabel: string, pin: string, readWrite: boolean): TokenSession {
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
