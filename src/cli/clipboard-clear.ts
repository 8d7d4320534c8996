/**
 * `store __clip-clear`: the detached process `store get --clip` leaves
 * behind. It reads a ClearRequest from stdin (the tool and a SHA-256 digest
 * of the value: the value itself never reaches this process, its argv or its
 * environment), waits, and empties the clipboard only if it still holds the
 * value, so whatever the user copied since is left alone. A clipboard that
 * cannot be read (the display is gone) is left alone too.
 */
import { timingSafeEqual } from 'node:crypto';
import { StoreError } from '../errors.js';
import { readStreamAtMost } from './bounded-read.js';
import { clipDigest, copyToClipboard, readClipboard, type ClearRequest } from './clipboard.js';
import type { Io } from './io.js';

const MAX_REQUEST_BYTES = 64 * 1024;

function isRequest(r: unknown): r is ClearRequest {
  const o = r as ClearRequest;
  const argv = (a: unknown) => Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'string');
  return typeof o === 'object' && o !== null && typeof o.digest === 'string' && /^[0-9a-f]{64}$/.test(o.digest)
    && Number.isSafeInteger(o.seconds) && o.seconds > 0 && typeof o.tool === 'object' && o.tool !== null
    && typeof o.tool.name === 'string' && argv(o.tool.copy) && argv(o.tool.paste);
}

/** Sleep until `deadline` by the wall clock, checked each second: a laptop suspended meanwhile clears on waking. */
async function until(deadline: number): Promise<void> {
  while (Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(1000, deadline - Date.now())));
}

export async function clipClearMain(io: Io): Promise<number> {
  process.title = 'store clipboard clear';
  const text = new TextDecoder().decode(await readStreamAtMost(io.stdin, MAX_REQUEST_BYTES, 'on the clearer\'s stdin'));
  let request: unknown;
  try {
    request = JSON.parse(text);
  } catch {
    request = undefined;
  }
  if (!isRequest(request)) throw new StoreError('E_USAGE', 'store __clip-clear is started by store get --clip, with its request on stdin');
  await until(Date.now() + request.seconds * 1000);
  const now = await readClipboard(request.tool, io.env);
  if (now === undefined) return 0;
  const same = timingSafeEqual(Buffer.from(clipDigest(now), 'hex'), Buffer.from(request.digest, 'hex'));
  now.fill(0);
  if (same) await copyToClipboard(request.tool, new Uint8Array(0), io.env);
  return 0;
}
