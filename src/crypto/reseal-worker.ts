/**
 * A rewrap's opening and sealing, done on a second CPU: a worker thread
 * reseals one batch while the main thread writes the one before
 * (src/store/rotation.ts), so a rotation of 100,000 versions is not held to
 * one core's AEAD speed. It also expands each read row's MAC into the LtHash
 * element that leaves the digest (as lthashElement in mac.ts does), one less
 * thing for the write transaction.
 *
 * The main thread derives each value's XChaCha20 subkeys (xchacha.ts), and
 * the worker runs the IETF ChaCha20-Poly1305 under them from node:crypto
 * (OpenSSL). That keeps the worker to node's built-in modules: its source is
 * a string given to `new Worker(…, { eval: true })`, which works alike from
 * the sources, the ESM and CommonJS bundles and the CLI, none of which has
 * to ship or find a file for it. test/crypto/reseal-worker.test.ts checks
 * that the worker's output is byte for byte what aead.ts's seal gives, and
 * its elements lthashElement's.
 *
 * A batch goes over as two ArrayBuffers, transferred (not copied): the jobs,
 * packed, and the subkeys, which the worker zeroes when the batch is done.
 * Each plaintext lives only inside the worker, between opening and sealing,
 * and is zeroed there. What comes back is ciphertext.
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';
import { KEY_BYTES, TAG_BYTES } from './aead.js';
import { wipe } from './bytes.js';
import { MAC_BYTES } from './mac.js';
import { LTHASH_BYTES } from './lthash.js';
import { IETF_NONCE_BYTES as IV_BYTES } from './xchacha.js';

/** One value to reseal. */
export interface ResealJob {
  /** The IETF nonce under both subkeys (a rewrap keeps the nonce): xchachaIetfNonce. */
  iv: Uint8Array;
  /** The AAD the value was sealed with, and the one it is sealed with now (the header names the key). */
  oldAad: Uint8Array;
  newAad: Uint8Array;
  /** ciphertext ‖ tag as stored (after the nonce). */
  body: Uint8Array;
  /** The version row's MAC as read: the worker expands it into the row's LtHash element, which leaves the digest. */
  mac: Uint8Array;
}

/** A value resealed: its new ciphertext ‖ tag, and the LtHash element of the MAC it was read with (lthashElement). */
export interface Resealed {
  body: Uint8Array;
  readElement: Uint8Array;
}

/** The length the worker answers for a value that did not open. */
const FAILED = 0xffffffff;

/** A job's fixed part: three lengths, the IV, the MAC. */
const FIXED = 12 + IV_BYTES + MAC_BYTES;

/**
 * The worker. Jobs arrive packed: each is the lengths of its old AAD, new
 * AAD and body (u32 LE), its IV and its row's MAC, then those three. For
 * each, open the body under the old subkey and seal the plaintext under the
 * new one, and expand the MAC into its LtHash element exactly as
 * lthashElement (mac.ts) does. The answer, packed the same way: each job's
 * length (u32 LE; 0xffffffff where the tag did not verify, which the caller
 * reports), then its ciphertext ‖ tag, then the element. CommonJS, node's own
 * modules only (see above).
 */
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');
const TAG = ${TAG_BYTES}, KEY = ${KEY_BYTES}, IV = ${IV_BYTES}, FIXED = ${FIXED}, FAILED = ${FAILED};
const ZEROS = Buffer.alloc(${LTHASH_BYTES}), COUNTER = Buffer.alloc(16);
parentPort.on('message', ({ id, count, keys, jobs }) => {
  const k = new Uint8Array(keys);
  const input = Buffer.from(jobs);
  const parts = [];
  try {
    let at = 0;
    for (let i = 0; i < count; i++) {
      const oldAadLength = input.readUInt32LE(at), newAadLength = input.readUInt32LE(at + 4), bodyLength = input.readUInt32LE(at + 8);
      const iv = input.subarray(at + 12, at + 12 + IV);
      const mac = input.subarray(at + 12 + IV, at + FIXED);
      const oldAad = input.subarray(at + FIXED, at + FIXED + oldAadLength);
      const newAad = input.subarray(at + FIXED + oldAadLength, at + FIXED + oldAadLength + newAadLength);
      const body = input.subarray(at + FIXED + oldAadLength + newAadLength, at + FIXED + oldAadLength + newAadLength + bodyLength);
      at += FIXED + oldAadLength + newAadLength + bodyLength;
      const length = Buffer.alloc(4);
      let plain;
      try {
        const d = createDecipheriv('chacha20-poly1305', k.subarray(2 * KEY * i, 2 * KEY * i + KEY), iv, { authTagLength: TAG });
        d.setAAD(oldAad);
        d.setAuthTag(body.subarray(bodyLength - TAG));
        plain = d.update(body.subarray(0, bodyLength - TAG));
        d.final();
      } catch {
        if (plain) plain.fill(0);
        length.writeUInt32LE(FAILED);
        parts.push(length);
        continue;
      }
      const c = createCipheriv('chacha20-poly1305', k.subarray(2 * KEY * i + KEY, 2 * KEY * (i + 1)), iv, { authTagLength: TAG });
      c.setAAD(newAad);
      const ct = c.update(plain);
      c.final();
      plain.fill(0);
      length.writeUInt32LE(ct.length + TAG);
      parts.push(length, ct, c.getAuthTag(), createCipheriv('chacha20', mac, COUNTER).update(ZEROS));
    }
  } finally {
    k.fill(0);
  }
  // An ArrayBuffer of its own to transfer (Buffer.concat may hand out a slice of a shared pool).
  const answer = new ArrayBuffer(parts.reduce((n, p) => n + p.length, 0));
  const out = new Uint8Array(answer);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  parentPort.postMessage({ id, answer }, [answer]);
});
`;


/** The jobs in the worker's packed form, in a buffer of their own to transfer. */
function pack(jobs: readonly ResealJob[]): ArrayBuffer {
  let size = 0;
  for (const j of jobs) size += FIXED + j.oldAad.length + j.newAad.length + j.body.length;
  const packed = new ArrayBuffer(size);
  const out = Buffer.from(packed); // a view, not a copy
  let at = 0;
  for (const j of jobs) {
    if (j.iv.length !== IV_BYTES || j.mac.length !== MAC_BYTES || j.body.length < TAG_BYTES) throw new RangeError('reseal: a 12-byte IV, a 32-byte MAC and a body that holds a tag');
    out.writeUInt32LE(j.oldAad.length, at);
    out.writeUInt32LE(j.newAad.length, at + 4);
    out.writeUInt32LE(j.body.length, at + 8);
    out.set(j.iv, at + 12);
    out.set(j.mac, at + 12 + IV_BYTES);
    at += FIXED;
    out.set(j.oldAad, at);
    at += j.oldAad.length;
    out.set(j.newAad, at);
    at += j.newAad.length;
    out.set(j.body, at);
    at += j.body.length;
  }
  return packed;
}

/** Each job's result from the worker's answer, or null where the old value did not open. */
function unpack(answer: ArrayBuffer, count: number): (Resealed | null)[] {
  const b = Buffer.from(answer);
  const out: (Resealed | null)[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = b.readUInt32LE(at);
    at += 4;
    if (length === FAILED) {
      out.push(null);
      continue;
    }
    out.push({ body: new Uint8Array(answer, at, length), readElement: new Uint8Array(answer, at + length, LTHASH_BYTES) });
    at += length + LTHASH_BYTES;
  }
  if (at !== b.length) throw new Error('reseal: the worker answered for another batch');
  return out;
}

interface Pending {
  count: number;
  resolve: (out: (Resealed | null)[]) => void;
  reject: (e: Error) => void;
}

export class ResealWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #failed: Error | undefined;

  constructor() {
    // Loaded here, not at start-up: only a rotation of many versions needs it.
    const { Worker: WorkerThread } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
    this.#worker = new WorkerThread(SOURCE, { eval: true });
    // It keeps the process alive only while it owes an answer: a caller awaiting one must not see the process exit
    // under it, and a worker left idle must not hold a process that is done.
    this.#worker.unref();
    this.#worker.on('message', ({ id, answer }: { id: number; answer: ArrayBuffer }) => {
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (this.#pending.size === 0) this.#worker.unref();
      try {
        p.resolve(unpack(answer, p.count));
      } catch (e) {
        p.reject(e as Error);
      }
    });
    this.#worker.on('error', (e) => this.#fail(e));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the reseal worker stopped (exit code ${code})`)));
  }

  #fail(e: Error): void {
    this.#failed ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /**
   * Reseal `jobs`. `keys` holds each job's old and new subkey, 64 bytes a
   * job in order, and is handed over: detached here, zeroed by the worker
   * (zeroed here when refused). Resolves to each job's result, or null
   * where the old value did not open.
   */
  reseal(keys: Uint8Array, jobs: readonly ResealJob[]): Promise<(Resealed | null)[]> {
    if (keys.byteOffset !== 0 || keys.byteLength !== keys.buffer.byteLength || keys.length !== 2 * KEY_BYTES * jobs.length) {
      wipe(keys);
      return Promise.reject(new RangeError('reseal: keys must be a whole buffer of two 32-byte subkeys a job'));
    }
    let packed: ArrayBuffer;
    try {
      if (this.#failed) throw this.#failed;
      packed = pack(jobs);
    } catch (e) {
      wipe(keys);
      return Promise.reject(e as Error);
    }
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { count: jobs.length, resolve, reject });
      this.#worker.ref();
      this.#worker.postMessage({ id, count: jobs.length, keys: keys.buffer, jobs: packed }, [keys.buffer as ArrayBuffer, packed]);
    });
  }

  /** Stop the worker; a batch it has not answered, and any asked for later, is refused. */
  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit');
    this.#fail(new Error('the reseal worker is closed'));
    await this.#worker.terminate();
  }
}
