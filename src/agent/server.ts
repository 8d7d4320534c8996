/**
 * The unlock agent: a per-user process that holds unlocked master keys in
 * memory and does wrap/unwrap with them for clients on its Unix socket, so
 * the key never goes back to disk or to another process once it is here
 * (ssh-agent signs for its clients the same way). Each store's key is
 * forgotten, and zeroed, when its time runs out or on `store lock`; with no
 * key left the agent removes its socket and exits.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { appendFileSync, chmodSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { MasterKey, MasterKind } from '../crypto/master/master-key.js';
import { rawMasterKey } from '../crypto/master/raw-master.js';
import { wipe } from '../crypto/bytes.js';
import { ensureAgentDir } from '../crypto/master/agent/paths.js';
import { AGENT_PROTOCOL, readFrames, sendFrame, type Frame, type HeldStore, type ReplyHead, type RequestHead } from '../crypto/master/agent/protocol.js';
import { connectAgent } from '../crypto/master/agent/client.js';
import { withExclusiveLock } from '../platform/lock.js';

/** An agent nobody adds a key to within this long after it starts exits (a failed unlock). */
const FIRST_KEY_WITHIN_MS = 30_000;
/** How long a starting agent waits for another one's start-up lock. */
const START_LOCK_WAIT_MS = 4000;
const WATCH_EVERY_MS = 1000;
/** Longest `store unlock --for` (setTimeout's limit is 24.8 days; a week is plenty). */
export const MAX_UNLOCK_MS = 7 * 24 * 3_600_000;

interface Held {
  info: HeldStore;
  key: MasterKey;
  timer: NodeJS.Timeout;
}

const KINDS: readonly MasterKind[] = ['passphrase', 'keyfile', 'env', 'raw'];

class Agent {
  readonly #held = new Map<string, Held>();
  #server: Server | undefined;
  #socketIno: number | undefined;
  #socketPath = '';
  #idleTimer: NodeJS.Timeout | undefined;

  async listen(socketPath: string): Promise<boolean> {
    this.#socketPath = socketPath;
    ensureAgentDir(dirname(socketPath));
    // Set before binding: a client may connect (and say hello) while the start-up lock is
    // being released, and an agent with no key and no idle timer would take that for its end.
    this.#idleTimer = setTimeout(() => this.#shutdown(), FIRST_KEY_WITHIN_MS);
    const server = createServer((socket) => this.#serve(socket));
    const bound = await this.#bind(server, socketPath);
    if (!bound) {
      clearTimeout(this.#idleTimer);
      return false;
    }
    this.#server = server;
    this.#watch();
    return true;
  }

  /**
   * Bind, taking over a socket file left by a dead agent; false if a live
   * agent holds it. Under a lock: two agents starting at once must not each
   * take the other's fresh socket for a stale one and remove it.
   */
  #bind(server: Server, socketPath: string): Promise<boolean> {
    return withExclusiveLock(socketPath, async () => {
      const live = await connectAgent(socketPath);
      if (live) {
        live.close();
        return false; // another `store unlock` started one first: it serves
      }
      try {
        unlinkSync(socketPath); // stale: its agent died without cleaning up
      } catch {
        // none there
      }
      const previous = process.umask(0o177); // the socket is born 0600, no window where it is wider
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(socketPath, () => {
            server.removeListener('error', reject);
            resolve();
          });
        });
      } finally {
        process.umask(previous);
      }
      chmodSync(socketPath, 0o600);
      this.#socketIno = statSync(socketPath).ino;
      return true;
    }, { wait: true, waitMs: START_LOCK_WAIT_MS });
  }

  /**
   * Once a second, by the wall clock: forget stores whose time has run out
   * even if their timers were late (a suspended laptop does not advance
   * them), and stop if our socket was removed or replaced, since no client
   * could reach us to lock.
   */
  #watch(): void {
    const watchdog = setInterval(() => {
      for (const id of [...this.#held.keys()]) this.#entry(id);
      let ours = false;
      try {
        ours = statSync(this.#socketPath).ino === this.#socketIno;
      } catch {
        // removed
      }
      if (!ours || (this.#held.size === 0 && this.#idleTimer === undefined)) this.#shutdown();
    }, WATCH_EVERY_MS);
    watchdog.unref();
  }

  #serve(socket: Socket): void {
    socket.on('error', () => undefined); // a client that vanishes mid-reply is its own problem
    readFrames<RequestHead>(socket, (frame) => {
      void this.#reply(socket, frame);
    });
  }

  async #reply(socket: Socket, frame: Frame<RequestHead>): Promise<void> {
    let reply: { head: Omit<ReplyHead, 'id'>; fields?: Uint8Array[] };
    try {
      reply = await this.#handle(frame);
    } catch (e) {
      reply = { head: { ok: false, code: 'E_AGENT', message: (e as Error).message } };
    } finally {
      for (const f of frame.fields) wipe(f);
    }
    if (!socket.destroyed) await sendFrame(socket, { ...reply.head, id: frame.head.id }, reply.fields);
    for (const f of reply.fields ?? []) wipe(f);
    // The last key forgotten (lock, or expiry seen on a request): the reply is out, so go.
    if (this.#held.size === 0 && this.#idleTimer === undefined) this.#shutdown();
  }

  /** The held entry for a store id, forgetting it first if its time ran out (timers can run late). */
  #entry(storeId: unknown): Held | undefined {
    if (typeof storeId !== 'string') return undefined;
    const held = this.#held.get(storeId);
    if (held && held.info.expiresAt <= Date.now()) {
      this.#forget(storeId);
      return undefined;
    }
    return held;
  }

  async #handle({ head, fields }: Frame<RequestHead>): Promise<{ head: Omit<ReplyHead, 'id'>; fields?: Uint8Array[] }> {
    switch (head.op) {
      case 'hello':
        return { head: { ok: true, pid: process.pid, protocol: AGENT_PROTOCOL } };
      case 'add':
        return this.#add(head, fields[0]);
      case 'has':
        return { head: { ok: true, held: this.#entry(head.storeId)?.info ?? null } };
      case 'wrap':
      case 'unwrap': {
        const held = this.#entry(head.storeId);
        if (!held) return { head: { ok: false, code: 'E_AGENT', message: 'this store is not unlocked (its time ran out, or it was locked)' } };
        const [data, aad] = fields;
        if (!data || !aad) return { head: { ok: false, code: 'E_AGENT', message: 'bad request' } };
        try {
          const out = head.op === 'wrap' ? await held.key.wrap(data, aad) : await held.key.unwrap(data, aad);
          return { head: { ok: true }, fields: [out] };
        } catch {
          return { head: { ok: false, code: 'E_UNWRAP', message: 'the key does not open this' } };
        }
      }
      case 'forget': {
        const ids = head.storeId === undefined ? [...this.#held.keys()] : [head.storeId].filter((id) => this.#held.has(id));
        for (const id of ids) this.#forget(id);
        return { head: { ok: true, forgot: ids } };
      }
      default:
        return { head: { ok: false, code: 'E_AGENT', message: `unknown request ${String(head.op)}` } };
    }
  }

  #add(head: RequestHead, root: Uint8Array | undefined): { head: Omit<ReplyHead, 'id'> } {
    const { storeId, kind, ttlMs } = head;
    const valid = typeof storeId === 'string' && /^[0-9a-f]{32}$/.test(storeId) && kind !== undefined && KINDS.includes(kind)
      && typeof ttlMs === 'number' && Number.isSafeInteger(ttlMs) && ttlMs > 0 && ttlMs <= MAX_UNLOCK_MS && root !== undefined;
    if (!valid) return { head: { ok: false, code: 'E_AGENT', message: 'bad add request' } };
    const key = rawMasterKey(kind, root, Buffer.from(storeId, 'hex')); // throws on a root of the wrong size
    if (this.#held.has(storeId)) this.#forget(storeId);
    const info: HeldStore = { storeId, kind, expiresAt: Date.now() + ttlMs };
    const timer = setTimeout(() => {
      this.#forget(storeId);
      if (this.#held.size === 0) this.#shutdown();
    }, ttlMs);
    this.#held.set(storeId, { info, key, timer });
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    return { head: { ok: true, held: info } };
  }

  #forget(storeId: string): void {
    const held = this.#held.get(storeId);
    if (!held) return;
    clearTimeout(held.timer);
    held.key.close(); // zeroes the key-encryption key
    this.#held.delete(storeId);
  }

  /** Forget everything, remove our socket (not one another agent has put there since) and exit. */
  #shutdown(): void {
    for (const id of [...this.#held.keys()]) this.#forget(id);
    try {
      if (this.#socketIno !== undefined && statSync(this.#socketPath).ino === this.#socketIno) unlinkSync(this.#socketPath);
    } catch {
      // already gone
    }
    this.#server?.close();
    process.exit(0);
  }

  stop(): void {
    this.#shutdown();
  }
}

/** `store __agent --socket PATH`: run the agent in this process until it has nothing left to hold. */
export async function agentMain(argv: string[]): Promise<number> {
  const i = argv.indexOf('--socket');
  const socketPath = i >= 0 ? argv[i + 1] : undefined;
  if (!socketPath) return 2;
  process.title = 'strongbox-agent';
  process.chdir('/'); // hold no directory busy
  // The agent has no terminal: why it stopped goes to agent.log beside its socket (never key material).
  const logFailure = (e: unknown) => {
    try {
      appendFileSync(join(dirname(socketPath), 'agent.log'), `${new Date().toISOString()} pid ${process.pid}: ${(e as Error)?.stack ?? String(e)}\n`, { mode: 0o600 });
    } finally {
      process.exit(70);
    }
  };
  process.on('uncaughtException', logFailure);
  process.on('unhandledRejection', logFailure);
  const agent = new Agent();
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => agent.stop());
  const serving = await agent.listen(socketPath);
  return serving ? new Promise<number>(() => undefined) : 0; // serving: the process ends in #shutdown
}
