/**
 * Associated data: every ciphertext is bound to its place, so a ciphertext
 * copied to another store, name, version or key slot fails to open.
 * Each field is length-prefixed so that no two different places encode alike.
 */
import { concat, lp, u32be, utf8 } from './bytes.js';

const VALUE_LABEL = utf8.encode('strongbox/value/v1');
const KEYWRAP_LABEL = utf8.encode('strongbox/keywrap/v1');
const CHECK_LABEL = utf8.encode('strongbox/master-check/v1');
const AUDIT_KEY_LABEL = utf8.encode('strongbox/audit-key/v1');
const INTEGRITY_KEY_LABEL = utf8.encode('strongbox/integrity-key/v1');

/**
 * AAD of a value: lp(header) ‖ lp(label) ‖ lp(store id) ‖ lp(name) ‖ version (u32).
 * Built in one allocation without DataView or TextEncoder for ASCII names:
 * it runs on every get and put.
 */
export function aadFor(header: Uint8Array, storeId: Uint8Array, name: string, version: number): Uint8Array {
  const nameBytes = isAscii(name) ? undefined : utf8.encode(name);
  const nameLength = nameBytes ? nameBytes.length : name.length;
  const out = new Uint8Array(16 + header.length + VALUE_LABEL.length + storeId.length + nameLength + 4);
  let off = putField(out, 0, header);
  off = putField(out, off, VALUE_LABEL);
  off = putField(out, off, storeId);
  putU32(out, off, nameLength);
  off += 4;
  if (nameBytes) out.set(nameBytes, off);
  else for (let i = 0; i < nameLength; i++) out[off + i] = name.charCodeAt(i);
  putU32(out, off + nameLength, version);
  return out;
}

/**
 * The AAD aadFor builds for the same place under another header of the same
 * length (a rewrap's new key id): the header is the first field, so it is
 * the old AAD with those bytes replaced.
 */
export function aadWithHeader(aad: Uint8Array, header: Uint8Array): Uint8Array {
  const out = aad.slice();
  out.set(header, 4);
  return out;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function putU32(out: Uint8Array, off: number, n: number): void {
  out[off] = n >>> 24;
  out[off + 1] = (n >>> 16) & 0xff;
  out[off + 2] = (n >>> 8) & 0xff;
  out[off + 3] = n & 0xff;
}

function putField(out: Uint8Array, off: number, field: Uint8Array): number {
  putU32(out, off, field.length);
  out.set(field, off + 4);
  return off + 4 + field.length;
}

/** AAD of a wrapped data key: label ‖ store id ‖ key id ‖ key version. */
export function keyWrapAad(storeId: Uint8Array, keyId: number, keyVersion: number): Uint8Array {
  return concat(lp(KEYWRAP_LABEL), lp(storeId), u32be(keyId), u32be(keyVersion));
}

/** AAD of the master-key check blob: label ‖ store id. */
export function masterCheckAad(storeId: Uint8Array): Uint8Array {
  return concat(lp(CHECK_LABEL), lp(storeId));
}

/** AAD of the wrapped audit-log key: label ‖ store id. */
export function auditKeyAad(storeId: Uint8Array): Uint8Array {
  return concat(lp(AUDIT_KEY_LABEL), lp(storeId));
}

/** AAD of the wrapped integrity key (row MACs and the state digest): label ‖ store id. */
export function integrityKeyAad(storeId: Uint8Array): Uint8Array {
  return concat(lp(INTEGRITY_KEY_LABEL), lp(storeId));
}
