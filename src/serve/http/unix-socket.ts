/**
 * Listening on a Unix socket that only its owner can connect to.
 *
 * A socket file left behind by a server that died is removed, but only
 * after a connection attempt is refused: a live server's socket is never
 * taken over, and a path that is not a socket is never removed. The check
 * and the bind run under the exclusive lock of that path, so two servers
 * starting at once cannot each take the other's fresh socket for a stale one.
 *
 * The socket is born 0600: the process umask is narrowed to 0177 around the
 * bind (which Node performs synchronously inside `listen`, so no other code
 * runs with that umask), then the mode is set again explicitly. Connecting
 * to a Unix socket needs write permission on it, so only the owner (and
 * root) can. Some systems ignore a socket's mode; a private directory for
 * the socket protects there too.
 */
import { connect, type Server } from 'node:net';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { StoreError } from '../../errors.js';
import { withExclusiveLock } from '../../platform/lock.js';

/** How long to wait for a concurrent start's lock on the same path. */
const LOCK_WAIT_MS = 4000;

/**
 * The longest socket path the system takes, in bytes with the terminating
 * NUL: the size of sockaddr_un's sun_path (108 on Linux, 104 on macOS and the
 * BSDs). Node does not refuse a longer path: it is cut short, so the socket
 * would be bound at another path (and the error is a misleading ENOENT).
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 108 : 104;

export async function listenOnUnixSocket(server: Server, socketPath: string): Promise<void> {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes + 1 > MAX_SOCKET_PATH_BYTES) {
    throw new StoreError('E_USAGE', `cannot listen on ${socketPath}: the socket path is ${bytes} bytes long, and this system allows at most ${MAX_SOCKET_PATH_BYTES - 1} (${MAX_SOCKET_PATH_BYTES} with the terminating NUL); choose a shorter path`);
  }
  await withExclusiveLock(socketPath, async () => {
    await removeStaleSocket(socketPath);
    await bindOwnerOnly(server, socketPath);
  }, { wait: true, waitMs: LOCK_WAIT_MS });
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(socketPath).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new StoreError('E_IO', `cannot listen on ${socketPath}: ${errorCode(e)}`);
  }
  if (!isSocket) throw new StoreError('E_IO', `cannot listen on ${socketPath}: the path exists and is not a socket (not removed)`);
  const probe = await probeSocket(socketPath);
  if (probe === 'live') throw new StoreError('E_IO', `cannot listen on ${socketPath}: another server is listening on it`);
  if (probe !== 'ECONNREFUSED' && probe !== 'ENOENT') throw new StoreError('E_IO', `cannot listen on ${socketPath}: cannot tell whether a server listens on it (${probe})`);
  try {
    unlinkSync(socketPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new StoreError('E_IO', `cannot remove the stale socket ${socketPath}: ${errorCode(e)}`);
  }
}

/** 'live' when something accepts a connection there, else the error code of the attempt. */
function probeSocket(socketPath: string): Promise<'live' | string> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve('live');
    });
    socket.once('error', (e) => {
      socket.destroy();
      resolve(errorCode(e));
    });
  });
}

function bindOwnerOnly(server: Server, socketPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: Error) => {
      server.removeListener('listening', onListening);
      reject(new StoreError('E_IO', `cannot listen on ${socketPath}: ${errorCode(e)}`));
    };
    const onListening = () => {
      server.removeListener('error', onError);
      try {
        chmodSync(socketPath, 0o600);
      } catch (e) {
        server.close();
        reject(new StoreError('E_IO', `cannot make ${socketPath} private: ${errorCode(e)}`));
        return;
      }
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    let previous: number | undefined;
    try {
      previous = process.umask(0o177);
    } catch {
      // Worker threads cannot change the umask; the chmod above still narrows the mode.
    }
    try {
      server.listen(socketPath);
    } finally {
      if (previous !== undefined) process.umask(previous);
    }
  });
}

function errorCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}
