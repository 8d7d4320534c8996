/**
 * One key creation at a time on this host, per token and label. A token
 * cannot make a label unique, and key-object.ts looks again after
 * generating; but SoftHSM2's file store, written by two processes at the
 * same moment, can leave each of them a view without the other's new key,
 * so both look, see one key, and both succeed (seen in test/crypto/master/
 * pkcs11/key-race.test.ts). Serialising the search, the generation and the
 * second look on the host closes that: the second process searches after the
 * first has finished. Across hosts (a network HSM) only the second look is left.
 *
 * The lock is a file created exclusively in the temp directory, holding its
 * pid; one whose process is gone is taken over. A file of that name owned by
 * another user is not trusted as a lock (it could only be there to block):
 * the creation then goes on unlocked, as across hosts.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../../errors.js';
import { nodeCrypto } from '../../../platform/node-crypto.js';
import { isAlive } from '../../../platform/process.js';

/** How long a creation waits for another on the same token and label. */
const WAIT_MS = 15_000;
const STEP_MS = 20;

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function lockPath(tokenLabel: string, keyLabel: string): string {
  const id = nodeCrypto().createHash('sha256').update(`${tokenLabel}\0${keyLabel}`).digest('hex').slice(0, 24);
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `strongbox-pkcs11-create-${uid}-${id}.lock`);
}

/** Whether the lock file at `path` is ours to wait on: our user's, and its process alive. Removes a dead one. */
function holderAlive(path: string): boolean | 'foreign' {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return false; // gone meanwhile: try again
  }
  try {
    const st = fstatSync(fd);
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return 'foreign';
    const pid = Number(readFileSync(fd, 'utf8'));
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) return true;
  } finally {
    closeSync(fd);
  }
  try {
    unlinkSync(path); // its process is gone (or it never wrote its pid): taken over
  } catch {
    // another waiter removed it first
  }
  return false;
}

/** Run `create` holding this host's creation lock for `tokenLabel`/`keyLabel`. @throws E_LOCKED after WAIT_MS */
export function withCreateLock<T>(tokenLabel: string, keyLabel: string, create: () => T): T {
  const path = lockPath(tokenLabel, keyLabel);
  const deadline = Date.now() + WAIT_MS;
  let fd: number | undefined;
  for (;;) {
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      writeSync(fd, String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return create(); // no temp dir to lock in: the second look is left
    }
    const holder = holderAlive(path);
    if (holder === 'foreign') return create();
    if (holder && Date.now() > deadline) {
      throw new StoreError('E_LOCKED', `another process is creating a key labelled ${JSON.stringify(keyLabel)} on token ${JSON.stringify(tokenLabel)}; run again`);
    }
    if (holder) pause(STEP_MS);
  }
  try {
    return create();
  } finally {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
