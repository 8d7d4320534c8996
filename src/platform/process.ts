/** Who runs where: telling a live process from a dead one, on this host. */
import { hostname } from 'node:os';
import { nodeCrypto } from './node-crypto.js';

/** True when a process `pid` exists on this host (one of another user counts: it is alive). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, but another user's
  }
}

/**
 * Eight hex digits standing for this host in file names, so a pid in a name
 * is only ever checked on the host it belongs to (a directory may be shared
 * over the network). Host names may hold any character; this never does.
 */
export function hostTag(): string {
  return nodeCrypto().createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
}
