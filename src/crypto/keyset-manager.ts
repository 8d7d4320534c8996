/**
 * The transitions of a data key's status, as Tink's keyset manager has them:
 * primary → active when a new primary replaces it (it still decrypts what it
 * sealed), active → retired once no version uses it, retired → destroyed
 * (its material erased) only then. Pure rules: the store layer
 * (src/store/rotation.ts) counts the uses and writes the status they give.
 */
import { StoreError } from '../errors.js';
import type { DataKeyInfo, KeyStatus } from './keyset.js';

type KeyFacts = Pick<DataKeyInfo, 'status' | 'version'>;

/** The status of a primary that a new primary replaces: decrypt only. Any other key keeps its status. */
export function demote(key: Pick<DataKeyInfo, 'status'>): KeyStatus {
  return key.status === 'primary' ? 'active' : key.status;
}

/** 'retired' for an active key that `uses` (the versions it encrypts) says nothing needs; else undefined, the key stays. */
export function canRetire(key: Pick<DataKeyInfo, 'status'>, uses: number): 'retired' | undefined {
  return key.status === 'active' && uses === 0 ? 'retired' : undefined;
}

/**
 * 'destroyed' for a retired key that encrypts nothing (or one destroyed
 * already); for any other key the E_KEY_IN_USE to refuse with.
 */
export function canDestroy(key: KeyFacts, uses: number): 'destroyed' | StoreError {
  if (key.status === 'destroyed' || (key.status === 'retired' && uses === 0)) return 'destroyed';
  return new StoreError(
    'E_KEY_IN_USE',
    `data key ${key.version} is ${key.status} and encrypts ${uses} version(s); only a retired key can be destroyed`,
    ['run store rotate-keys first: it rewraps old versions and retires unused keys'],
  );
}
