/**
 * A process that makes many MACs is a long-running one: after a thousand
 * hashes in WebAssembly the MACs load node:crypto and go on with OpenSSL's
 * SHA-256 (src/crypto/mac.ts), giving the same MACs. A file of its own, so
 * that nothing else in it has loaded node:crypto first.
 */
import { createHmac } from 'node:crypto';
import { expect, it } from 'vitest';
import { Hmac } from '../../src/crypto/mac.js';
import { nodeCryptoIfLoaded } from '../../src/platform/node-crypto.js';

it('the MACs move from WebAssembly to node:crypto after a thousand hashes, with the same results on both sides', () => {
  const key = Buffer.alloc(32, 7);
  const mac = new Hmac(key);
  const check = (i: number) => {
    const message = Buffer.from(`row ${i}`);
    expect(Buffer.from(mac.of(message)).toString('hex')).toBe(createHmac('sha256', key).update(message).digest('hex'));
  };
  for (let i = 0; i < 499; i++) check(i); // two hashes a MAC: 998
  expect(nodeCryptoIfLoaded()).toBeUndefined();
  for (let i = 499; i < 502; i++) check(i);
  expect(nodeCryptoIfLoaded()).toBeDefined();
  for (let i = 502; i < 600; i++) check(i);
});
