/**
 * `store serve` from the sources, in this process: startServer
 * (src/serve/server.ts) on a free loopback port over a new key-file store,
 * with a root token made as --init-root-token makes it. serve-child.ts runs
 * the built CLI; this runs the routes and the dispatcher as they are in src/,
 * for the tests of what they answer. Real clients still talk to it over TCP.
 */
import { keyFile, openStore } from '../../src/index.js';
import { startServer } from '../../src/serve/server.js';
import { newKeyfileStore } from './serve-child.js';

export interface InProcessServe {
  /** VAULT_ADDR: http://127.0.0.1:<port> */
  addr: string;
  rootToken: string;
  storePath: string;
  keyPath: string;
  /** Finish the requests under way, then close the store. */
  stop(): Promise<void>;
}

export async function startServeInProcess(): Promise<InProcessServe> {
  const { storePath, keyPath } = await newKeyfileStore();
  let rootToken = '';
  const server = await startServer({
    openStore: () => openStore(storePath, keyFile(keyPath)),
    onUnseal: async (services) => {
      rootToken = (await services.tokens.create(undefined, { policies: ['root'], orphan: true, displayName: 'root' })).token;
    },
    listen: { host: '127.0.0.1', port: 0 },
    version: '0.0.0-test',
  });
  return { addr: server.address, rootToken, storePath, keyPath, stop: () => server.close() };
}
