/**
 * A TCP proxy on loopback in front of the test PostgreSQL cluster, for the
 * network faults a test needs: each connection's traffic passes through a
 * tap that may hold it back. A real server and a real client on each side;
 * only the wire between them is the test's.
 */
import net from 'node:net';
import { onTestFinished } from 'vitest';
import { tcpUrl, type TestDatabase } from './postgres.js';

/** One proxied connection: the client's socket and the one to the server. */
export interface Proxied {
  client: net.Socket;
  server: net.Socket;
  /**
   * Drop the client's connection with a reset, now, and hold everything the
   * server answers from here on: the client sees its connection lost, the
   * server has what was sent (and its session ends a moment later).
   */
  cut(): void;
}

/** What passes on a connection: `fromClient` sees each chunk the client sends, `fromServer` each one the server answers; false holds it back. */
export interface Tap {
  fromClient?(data: Buffer, c: Proxied): boolean;
  fromServer?(data: Buffer, c: Proxied): boolean;
}

/** A proxy to `db`'s cluster whose connections go through a tap `tap(c)` makes each; its URL for `db`. Closed when the test ends. */
export async function proxyTo(db: TestDatabase, tap: (c: Proxied) => Tap): Promise<{ url: string }> {
  const proxy = net.createServer((client) => {
    const server = net.connect(db.cluster.port, '127.0.0.1');
    let cut = false;
    const c: Proxied = {
      client,
      server,
      cut: () => {
        cut = true;
        client.resetAndDestroy();
        setTimeout(() => server.end(), 500);
      },
    };
    const t = tap(c);
    client.on('data', (d) => {
      if (t.fromClient?.(d, c) ?? true) server.write(d);
    });
    server.on('data', (d) => {
      if (!cut && (t.fromServer?.(d, c) ?? true)) client.write(d);
    });
    client.on('error', () => { if (!cut) server.destroy(); });
    server.on('error', () => client.destroy());
    client.on('close', () => { if (!cut) server.destroy(); });
    server.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
  const port = (proxy.address() as net.AddressInfo).port;
  return { url: tcpUrl(db.cluster, db.name).replace(`:${db.cluster.port}/`, `:${port}/`) };
}
