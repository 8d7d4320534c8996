/**
 * A master key held by the agent: wrap and unwrap are requests to it, so an
 * opened store works as with a key of its own while the key stays in the
 * agent. After the agent forgets the store (time out, `store lock`), the next
 * wrap/unwrap fails with E_AGENT; an open Store needs its master key only to
 * load data keys another process added, or to rotate.
 */
import type { MasterKey, MasterKind } from '../master-key.js';
import { hex } from '../../bytes.js';
import { connectAgent, privateAgentSocket, type AgentConnection } from './client.js';
import type { Env } from './paths.js';

class AgentMasterKey implements MasterKey {
  constructor(
    readonly kind: MasterKind,
    readonly storeId: string,
    private readonly connection: AgentConnection,
  ) {}

  async #call(op: 'wrap' | 'unwrap', data: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const reply = await this.connection.request({ op, storeId: this.storeId }, [data, aad]);
    const out = reply.fields[0];
    if (!out) throw new Error('agent: reply without data');
    return out;
  }

  wrap(key: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#call('wrap', key, aad);
  }

  unwrap(wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return this.#call('unwrap', wrapped, aad);
  }

  close(): void {
    this.connection.close();
  }
}


/**
 * The agent's key for the store `storeId`, or undefined when no agent runs
 * or it does not hold this store.
 * @throws E_AGENT when the agent directory is not private or the agent fails
 */
export async function agentKeyFor(storeId: Uint8Array, env: Env): Promise<MasterKey | undefined> {
  const socketPath = privateAgentSocket(env);
  if (!socketPath) return undefined;
  const connection = await connectAgent(socketPath);
  if (!connection) return undefined;
  const id = hex(storeId);
  try {
    const { head } = await connection.request({ op: 'has', storeId: id });
    if (!head.held) {
      connection.close();
      return undefined;
    }
    return new AgentMasterKey(head.held.kind, id, connection);
  } catch (e) {
    connection.close();
    throw e;
  }
}
