/**
 * SHA-256 of short messages in WebAssembly (sha256.wat), for a process that
 * has not loaded node:crypto: `store get` makes 34 hashes of ~8.6 KB in all
 * for its MACs, and node:crypto costs ~2.7 ms to load, a pure-JS SHA-256
 * in a cold process ~10 ms to run; the module here compiles in well under a
 * millisecond and runs at native speed from its first call. src/crypto/mac.ts
 * chooses between it and node:crypto.
 *
 * The padding (FIPS 180-4 §5.1.1) is made here, the blocks are hashed in the
 * module. The bytes hashed include HMAC keys' pads: the message area and
 * the schedule are zeroed after every hash, so no key material stays behind
 * in the module's memory.
 */
import { SHA256_WASM_BASE64 } from './sha256-bytes.js';

/** Where the padded message starts in the module's memory (see sha256.wat). */
const MESSAGE_AT = 1024;
/** The module's one page of memory, less the digest, schedule and constants before MESSAGE_AT. */
const PAGE = 65536;
/** The longest message hashed here: its padding (up to 72 bytes) must fit in the page too. */
export const WASM_SHA256_MAX = PAGE - MESSAGE_AT - 72;

interface Sha256Module {
  memory: Uint8Array;
  view: DataView;
  digest: (at: number, blocks: number) => void;
}

/** The part of the WebAssembly API used here (the TypeScript libs this project builds with do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: { memory: { buffer: ArrayBuffer }; digest: (at: number, blocks: number) => void } };
} | undefined;

/** The module once made; null where this Node has no WebAssembly (`node --jitless`) or may not compile it. */
let loaded: Sha256Module | null | undefined;

function load(): Sha256Module | null {
  if (typeof WebAssembly === 'undefined') return null;
  try {
    // Compiled and instantiated synchronously: the module is under a kilobyte.
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(SHA256_WASM_BASE64, 'base64')));
    // The memory never grows (one page holds the longest message), so these views stay valid.
    return { memory: new Uint8Array(exports.memory.buffer), view: new DataView(exports.memory.buffer), digest: exports.digest };
  } catch {
    return null; // an embedder that forbids compiling WebAssembly: the caller uses node:crypto
  }
}

/**
 * SHA-256 of `data` (at most WASM_SHA256_MAX bytes), as a fresh 32-byte
 * Buffer; undefined where this Node has no WebAssembly (the caller then
 * uses node:crypto).
 */
export function wasmSha256(data: Uint8Array): Buffer | undefined {
  if (data.length > WASM_SHA256_MAX) throw new RangeError(`wasmSha256: ${data.length} bytes is more than ${WASM_SHA256_MAX}`);
  if (loaded === undefined) loaded = load();
  const m = loaded;
  if (m === null) return undefined;
  const blocks = (data.length + 72) >>> 6; // the message, 0x80, zeros, and its 64-bit length: whole 64-byte blocks
  const end = MESSAGE_AT + blocks * 64;
  m.memory.set(data, MESSAGE_AT);
  m.memory[MESSAGE_AT + data.length] = 0x80;
  m.memory.fill(0, MESSAGE_AT + data.length + 1, end - 8);
  const bits = data.length * 8;
  m.view.setUint32(end - 8, Math.floor(bits / 0x100000000));
  m.view.setUint32(end - 4, bits >>> 0);
  m.digest(MESSAGE_AT, blocks);
  const digest = Buffer.from(m.memory.subarray(0, 32));
  m.memory.fill(0, 0, 320); // the digest and the schedule
  m.memory.fill(0, MESSAGE_AT, end); // the message
  return digest;
}
