/**
 * The agent's wire format: length-prefixed frames, each a small JSON head
 * (never secret) followed by raw byte fields. Key material travels as bytes,
 * not base64 inside JSON, so both ends hold it only in buffers they can zero:
 * a JS string cannot be wiped. Heads carry an id so a client may have several
 * requests in flight (opening a store unwraps its data keys concurrently).
 *
 *   frame = u32be(length of the rest) ‖ u32be(head length) ‖ head JSON ‖ field bytes…
 *   head.sizes lists the byte length of each field, in order.
 */
import type { Socket } from 'node:net';
import type { MasterKind } from '../master-key.js';
import { wipe } from '../../bytes.js';

export const AGENT_PROTOCOL = 1;
/** Far above any frame we send (a wrapped data key is under 100 bytes): a bigger one is a broken peer. */
export const MAX_FRAME_BYTES = 64 * 1024;

export type AgentOp = 'hello' | 'add' | 'has' | 'wrap' | 'unwrap' | 'forget';

/** What a request head may hold. `root` (add) and `data`/`aad` (wrap, unwrap) travel as fields. */
export interface RequestHead {
  id: number;
  op: AgentOp;
  storeId?: string;
  kind?: MasterKind;
  ttlMs?: number;
}

export interface HeldStore {
  storeId: string;
  kind: MasterKind;
  expiresAt: number;
}

/** A reply head: ok with fields per op, or an error code and a message (never key material). */
export interface ReplyHead {
  id: number;
  ok: boolean;
  code?: string;
  message?: string;
  pid?: number;
  protocol?: number;
  held?: HeldStore | null;
  forgot?: string[];
}

export interface Frame<H> {
  head: H;
  fields: Uint8Array[];
}

/** One frame as bytes. The caller wipes it once written, as it may hold key material. */
export function encodeFrame(head: object, fields: readonly Uint8Array[] = []): Buffer {
  const json = Buffer.from(JSON.stringify({ ...head, sizes: fields.map((f) => f.length) }), 'utf8');
  const rest = 4 + json.length + fields.reduce((n, f) => n + f.length, 0);
  const out = Buffer.alloc(4 + rest);
  out.writeUInt32BE(rest, 0);
  out.writeUInt32BE(json.length, 4);
  json.copy(out, 8);
  let off = 8 + json.length;
  for (const f of fields) {
    out.set(f, off);
    off += f.length;
  }
  return out;
}

/** Write a frame; resolves, with the frame zeroed, once the socket has taken it. */
export function sendFrame(socket: Socket, head: object, fields: readonly Uint8Array[] = []): Promise<void> {
  const frame = encodeFrame(head, fields);
  return new Promise((resolve) => {
    socket.write(frame, () => {
      frame.fill(0);
      resolve();
    });
  });
}

function decodeFrame<H>(body: Buffer): Frame<H> {
  const headLength = body.readUInt32BE(0);
  if (4 + headLength > body.length) throw new Error('agent frame: head longer than the frame');
  const head = JSON.parse(body.subarray(4, 4 + headLength).toString('utf8')) as H & { sizes?: unknown };
  const sizes = Array.isArray(head.sizes) ? head.sizes : [];
  const fields: Uint8Array[] = [];
  let off = 4 + headLength;
  for (const size of sizes) {
    if (!Number.isSafeInteger(size) || size < 0 || off + size > body.length) throw new Error('agent frame: bad field size');
    fields.push(new Uint8Array(body.subarray(off, off + size))); // a copy: `body` is zeroed next
    off += size;
  }
  if (off !== body.length) throw new Error('agent frame: trailing bytes');
  return { head, fields };
}

/**
 * Call `onFrame` with each complete frame read from `socket`. Buffers that
 * held a frame are zeroed once it is decoded; a malformed or oversized frame
 * ends the connection.
 */
export function readFrames<H>(socket: Socket, onFrame: (frame: Frame<H>) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on('close', () => wipe(pending)); // a frame cut off mid-way (a client died during an add)
  socket.on('data', (chunk: Buffer) => {
    const joined = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    if (joined !== chunk) {
      wipe(pending, chunk);
    }
    pending = joined;
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES || length < 4) {
        wipe(pending);
        socket.destroy();
        return;
      }
      if (pending.length < 4 + length) break;
      const body = pending.subarray(4, 4 + length);
      let frame: Frame<H>;
      try {
        frame = decodeFrame<H>(body);
      } catch {
        wipe(pending);
        socket.destroy();
        return;
      }
      body.fill(0);
      pending = pending.subarray(4 + length);
      onFrame(frame);
    }
  });
}
