/**
 * The agent client against a fake agent on a Unix socket in a temp dir: one
 * that accepts and never answers (hung, or SIGSTOPped) must not keep the
 * client's process alive; a reply that times out fails every request on the
 * connection and destroys the socket. A normal close() still ends it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConnection, AgentConnectionLost, connectAgent } from '../../../../src/crypto/master/agent/client.js';
import { encodeFrame, readFrames, type RequestHead } from '../../../../src/crypto/master/agent/protocol.js';
import { tempDir } from '../../../helpers/tmp.js';

let server: Server | undefined;
const peers: Socket[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A fake agent: `answer` decides whether it replies to hellos; resolves with its socket path. */
async function fakeAgent(answer: boolean, onPeer: (peer: Socket) => void = () => undefined): Promise<string> {
  const path = join(tempDir(), 'agent.sock');
  // allowHalfOpen: like a hung agent, it never ends its own side, even when the client ends its.
  server = createServer({ allowHalfOpen: true }, (peer) => {
    peers.push(peer);
    peer.on('error', () => undefined);
    onPeer(peer);
    // It reads what it is sent (so it sees the client's side end), and answers only when told to.
    if (answer) readFrames<RequestHead>(peer, ({ head }) => peer.write(encodeFrame({ id: head.id, ok: true, protocol: 1 })));
    else peer.resume();
  });
  await new Promise<void>((resolve) => server!.listen(path, resolve));
  return path;
}

/** Resolves true when `peer` (the agent's side) sees the client's side close within `ms`, else false. */
function seesClose(peer: Promise<Socket>, ms: number): Promise<boolean> {
  return peer.then((p) => new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    if (p.readableEnded || p.destroyed) done();
    p.once('end', done);
    p.once('close', done);
  }));
}

function connected(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

describe('the agent client and an agent that never answers', () => {
  it('a request times out (E_AGENT), every request on the connection fails, and the socket is destroyed', async () => {
    let gotPeer!: (p: Socket) => void;
    const peer = new Promise<Socket>((r) => (gotPeer = r));
    const path = await fakeAgent(false, gotPeer);
    const socket = await connected(path);
    const connection = new AgentConnection(socket, { replyTimeoutMs: 100 });

    const started = Date.now();
    const first = connection.request({ op: 'hello' });
    const second = connection.request({ op: 'has', storeId: '00' });
    await expect(first).rejects.toMatchObject({ code: 'E_AGENT', message: expect.stringContaining('did not answer') });
    await expect(second).rejects.toMatchObject({ code: 'E_AGENT' });
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing is left to keep the process alive: the socket is gone, and the agent sees it go.
    expect(socket.destroyed).toBe(true);
    expect(await seesClose(peer, 2_000)).toBe(true);
    // The connection takes no more requests, and close() after the timeout is harmless.
    await expect(connection.request({ op: 'hello' })).rejects.toBeInstanceOf(AgentConnectionLost);
    expect(() => connection.close()).not.toThrow();
  });

  it('connectAgent takes the timeout too', async () => {
    const path = await fakeAgent(false);
    const connection = (await connectAgent(path, { replyTimeoutMs: 50 }))!;
    await expect(connection.request({ op: 'hello' })).rejects.toMatchObject({ code: 'E_AGENT', message: expect.stringContaining('did not answer') });
  });

  it('close() with a request still waiting fails it at once and destroys the socket', async () => {
    let gotPeer!: (p: Socket) => void;
    const peer = new Promise<Socket>((r) => (gotPeer = r));
    const path = await fakeAgent(false, gotPeer);
    const socket = await connected(path);
    const connection = new AgentConnection(socket, { replyTimeoutMs: 60_000 });
    const waiting = connection.request({ op: 'hello' });
    connection.close();
    await expect(waiting).rejects.toBeInstanceOf(AgentConnectionLost);
    expect(socket.destroyed).toBe(true);
    expect(await seesClose(peer, 2_000)).toBe(true);
  });

  it('a normal close() after an answer ends the connection (not destroyed at once), and the agent sees it end', async () => {
    let gotPeer!: (p: Socket) => void;
    const peer = new Promise<Socket>((r) => (gotPeer = r));
    const path = await fakeAgent(true, gotPeer);
    const socket = await connected(path);
    const connection = new AgentConnection(socket, { replyTimeoutMs: 5_000 });
    const { head } = await connection.request({ op: 'hello' });
    expect(head.ok).toBe(true);
    connection.close();
    expect(socket.destroyed).toBe(false);
    expect(socket.writableEnded).toBe(true);
    expect(await seesClose(peer, 2_000)).toBe(true);
  });
});
