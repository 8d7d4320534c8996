/**
 * Talking to the unlock agent. A missing socket, or one nobody answers on
 * (left by an agent that died), means no agent. Clients never remove a
 * socket: the agent that starts next does, under a lock, so two of them
 * cannot each take the other's fresh socket for a stale one.
 */
import { connect, type Socket } from 'node:net';
import { StoreError } from '../../../errors.js';
import { wipe } from '../../bytes.js';
import { agentDir, agentSocketPath, checkAgentDir, type Env } from './paths.js';
import { readFrames, sendFrame, type Frame, type ReplyHead, type RequestHead } from './protocol.js';

/** An agent that does not answer within this long is treated as broken, not waited on. */
const REPLY_TIMEOUT_MS = 10_000;

export interface AgentConnectionOptions {
  /** How long a request waits for its reply before the connection counts as broken (default 10 s; tests shorten it). */
  replyTimeoutMs?: number;
}

export class AgentError extends StoreError {
  constructor(message: string, hints: readonly string[] = []) {
    super('E_AGENT', message, hints);
    this.name = 'AgentError';
  }
}

/** The connection ended before the reply: the agent exited (its last store ran out) or died. */
export class AgentConnectionLost extends AgentError {}

/**
 * The agent refused an unwrap: the ciphertext does not open under the key it
 * holds. Deliberately not a StoreError: like a local key's failed AEAD open,
 * the caller (the master-key check, the keyset load) decides what it means.
 */
export class AgentUnwrapError extends Error {}

interface Pending {
  resolve: (frame: Frame<ReplyHead>) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class AgentConnection {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  readonly #replyTimeoutMs: number;
  #nextId = 1;
  /** close() was called, or a reply timed out: the socket may still be ending, but takes no more requests. */
  #closed = false;

  constructor(socket: Socket, options: AgentConnectionOptions = {}) {
    this.#socket = socket;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
    socket.unref(); // an idle connection never keeps a process alive; pending requests ref it
    readFrames<ReplyHead>(socket, (frame) => this.#settle(frame));
    socket.on('error', () => this.#failAll(new AgentConnectionLost('the agent connection failed')));
    socket.on('close', () => this.#failAll(new AgentConnectionLost('the agent closed the connection')));
  }

  #settle(frame: Frame<ReplyHead>): void {
    const pending = this.#pending.get(frame.head.id);
    if (!pending) {
      for (const f of frame.fields) wipe(f);
      return;
    }
    this.#pending.delete(frame.head.id);
    clearTimeout(pending.timer);
    if (this.#pending.size === 0) this.#socket.unref();
    pending.resolve(frame);
  }

  #failAll(e: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.#pending.clear();
  }

  /**
   * The connection is no use any more (a reply timed out: the agent hangs or
   * is stopped; or it is closed with requests still waiting): fail every
   * request still waiting and destroy the socket, which then holds no process
   * open. Ending it would wait for the agent's FIN, which a hung agent never sends.
   */
  #abandon(e: Error): void {
    this.#closed = true;
    this.#failAll(e);
    this.#socket.destroy();
  }

  /**
   * Send one request; resolves with the reply's head and byte fields.
   * @throws AgentError when the agent refuses, fails or does not answer
   */
  async request(head: Omit<RequestHead, 'id'>, fields: Uint8Array[] = []): Promise<Frame<ReplyHead>> {
    if (this.#closed || this.#socket.destroyed) throw new AgentConnectionLost('the agent connection is closed');
    const id = this.#nextId++;
    const timeout = this.#replyTimeoutMs;
    const reply = new Promise<Frame<ReplyHead>>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Every request on this connection waits on the same agent: fail them all, and let go of the socket.
        this.#abandon(new AgentError(`the agent did not answer within ${timeout / 1000} s`, ['stop it with: store lock --all']));
      }, timeout);
      this.#pending.set(id, { resolve, reject, timer });
    });
    this.#socket.ref();
    try {
      // Not awaited: the reply settles the request, whether or not the write's callback ever runs (a hung
      // agent that stops reading leaves it waiting); a failed write fails the socket, and so the reply.
      void sendFrame(this.#socket, { ...head, id }, fields);
    } catch (e) {
      // The frame could not even be made (too large): nothing was sent; drop the request.
      const p = this.#pending.get(id)!;
      this.#pending.delete(id);
      clearTimeout(p.timer);
      if (this.#pending.size === 0) this.#socket.unref();
      throw e;
    }
    const frame = await reply;
    if (!frame.head.ok) {
      for (const f of frame.fields) wipe(f);
      if (frame.head.code === 'E_UNWRAP') throw new AgentUnwrapError('the agent key does not open this');
      throw new AgentError(`the agent refused: ${frame.head.message ?? 'no reason given'}`);
    }
    return frame;
  }

  /**
   * End the connection: the agent sees it end and closes its side, and this
   * side goes with it. Ended, not destroyed: the socket holds no process open
   * meanwhile (it is unref'd), so a command that is done exits at once,
   * where destroying it first cost a short command ~0.5 ms (Node builds
   * process.stderr to compare the socket with it). With requests still
   * waiting (their socket is ref'd, and their timers run) or after a reply
   * timed out, it is destroyed instead: those fail at once, and nothing
   * waits on an agent that may never answer.
   */
  close(): void {
    if (this.#pending.size > 0) {
      this.#abandon(new AgentConnectionLost('the agent connection was closed before the reply'));
      return;
    }
    this.#closed = true;
    if (!this.#socket.destroyed) this.#socket.end();
  }
}

/**
 * Connect to the agent at `socketPath` (whose directory the caller has
 * checked). Undefined when there is no agent, or only a dead one's socket.
 */
export function connectAgent(socketPath: string, options: AgentConnectionOptions = {}): Promise<AgentConnection | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(new AgentConnection(socket, options));
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      socket.destroy();
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return resolve(undefined);
      reject(new AgentError(`cannot reach the agent at ${socketPath}: ${e.code ?? 'error'}`));
    });
  });
}

/**
 * Ask the agent (if one runs) to forget one store, by hex id, or every store.
 * Resolves to the ids it forgot, or undefined when no agent runs.
 */
export async function forgetInAgent(socketPath: string, storeId?: string): Promise<string[] | undefined> {
  const connection = await connectAgent(socketPath);
  if (!connection) return undefined;
  try {
    const { head } = await connection.request({ op: 'forget', storeId });
    return head.forgot ?? [];
  } finally {
    connection.close();
  }
}

/**
 * The agent's socket path when its directory exists and is private;
 * undefined when there is no directory (so no agent).
 * @throws E_AGENT when the directory is not private
 */
export function privateAgentSocket(env: Env): string | undefined {
  // The directory first: with none there is no agent, even where its socket path would be too long.
  if (!checkAgentDir(agentDir(env))) return undefined;
  return agentSocketPath(env);
}

/**
 * After a change of the store's master key (rotate-master, restore): make a
 * running agent forget the store, whose old key would now fail every open.
 * The change is done, so failing to reach the agent is a warning, not an error.
 */
export async function forgetStoreInAgent(env: Env, storeId: string, warn: (text: string) => void): Promise<void> {
  try {
    const socketPath = privateAgentSocket(env);
    if (socketPath) await forgetInAgent(socketPath, storeId);
  } catch (e) {
    warn(`could not make the unlock agent forget the old key (${(e as Error).message}): run store lock`);
  }
}
