/** Byte helpers: shape checks (never echo content), concat, constant-time compare, wipe. */

export const utf8 = new TextEncoder();
/**
 * Decodes UTF-8, throwing on bytes that are not valid UTF-8 (never replacing them).
 * ignoreBOM: a leading EF BB BF is part of the text (U+FEFF), not dropped: a secret's
 * value must read back byte for byte. A reader of a file a person edits that means to
 * skip a BOM does so itself, where it reads that file.
 */
export const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Concatenate byte arrays into one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** 4-byte big-endian encoding of an unsigned 32-bit integer. */
export function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, false);
  return out;
}

export function readU32be(b: Uint8Array, offset: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(offset, false);
}

/** `b` after its length as 4 bytes big-endian: fields so framed cannot run into one another. */
export function lp(b: Uint8Array): Uint8Array {
  return concat(u32be(b.length), b);
}

/** Constant-time equality for equal-length inputs (length itself is not secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Overwrite key material we own. Best effort: JS may have copied it elsewhere. */
export function wipe(...arrays: (Uint8Array | undefined | null)[]): void {
  for (const a of arrays) a?.fill(0);
}

/** Decode UTF-8 (a leading BOM kept, as U+FEFF) or return undefined when the bytes are not valid UTF-8. */
export function tryUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8Strict.decode(b);
  } catch {
    return undefined;
  }
}

/** Strict base64 decode: the canonical alphabet, optional padding, surrounding whitespace ignored. */
export function fromBase64(text: string): Uint8Array | undefined {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.replace(/=+$/, '').length % 4 === 1) return undefined;
  return new Uint8Array(Buffer.from(t, 'base64'));
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict lowercase-or-uppercase hex of even length; undefined otherwise. */
export function fromHexStrict(text: string): Uint8Array | undefined {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}
