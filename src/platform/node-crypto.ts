/**
 * node:crypto, loaded on first use and not at start-up. Loading it costs
 * ~2.7 ms of a short command (it brings Node's stream modules with it), and
 * `store get` needs none of it: no randomness, and its MACs' SHA-256 comes
 * from WebAssembly until something has loaded this (src/crypto/mac.ts).
 */
import { createRequire } from 'node:module';

type NodeCrypto = typeof import('node:crypto');
let loaded: NodeCrypto | undefined;

export function nodeCrypto(): NodeCrypto {
  return (loaded ??= createRequire(import.meta.url)('node:crypto') as NodeCrypto);
}

/** node:crypto if this process has loaded it here already; undefined (and nothing loaded) if not. */
export function nodeCryptoIfLoaded(): NodeCrypto | undefined {
  return loaded;
}
