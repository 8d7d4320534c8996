/**
 * Context rows: the AEAD the store uses (src/crypto/aead.ts seal/open,
 * XChaCha20-Poly1305 from @noble/ciphers) on a 64-byte value and on a 1 MiB
 * value (the default size limit). No target: these explain the other rows.
 */
import { open, seal } from '../src/crypto/aead.js';
import { randomBytes } from '../src/crypto/random.js';
import { check, equalBytes, median, opsPerSec, size, type Row } from './harness.js';
import { valueOf } from './data.js';

const MiB = 1024 * 1024;

async function measure(name: string, bytes: number, ops: number, rounds: number): Promise<Row[]> {
  const key = randomBytes(32);
  const aad = randomBytes(78);
  const plaintext = valueOf(7, bytes);

  // Check before timing: the sealed value opens to what went in, and a changed AAD fails.
  const sealed = seal(key, plaintext, aad);
  check(equalBytes(open(key, sealed, aad), plaintext), `${name}: open(seal(x)) = x`);
  const wrongAad = aad.slice();
  wrongAad[0]! ^= 1;
  let refused = false;
  try {
    open(key, sealed, wrongAad);
  } catch {
    refused = true;
  }
  check(refused, `${name}: a changed AAD is refused`);

  let sink = 0;
  const sealLoop = (n: number) => {
    for (let i = 0; i < n; i++) sink += seal(key, plaintext, aad)[0]!;
  };
  const openLoop = (n: number) => {
    for (let i = 0; i < n; i++) sink += open(key, sealed, aad)[0]!;
  };
  sealLoop(Math.max(1, ops >> 2));
  openLoop(Math.max(1, ops >> 2));
  const s: number[] = [];
  const o: number[] = [];
  for (let r = 0; r < rounds; r++) {
    s.push(await opsPerSec(ops, sealLoop));
    o.push(await opsPerSec(ops, openLoop));
  }
  check(sink >= 0, 'sink');
  const row = (what: string, rate: number): Row => ({
    name: `aead ${what} ${name}`,
    opsPerSec: rate,
    ratio: null,
    target: '—',
    mark: 'info',
    detail: `${((rate * bytes) / 1e6).toFixed(1)} MB/s`,
    extra: { MBps: (rate * bytes) / 1e6, bytes },
  });
  return [row('seal', median(s)), row('open', median(o))];
}

export async function benchCrypto(): Promise<Row[]> {
  return [
    ...(await measure('64 B', 64, size(50_000, 2_000), 5)),
    ...(await measure('1 MiB', MiB, size(40, 4), 3)),
  ];
}
