/**
 * Associated data: every ciphertext is bound to its place, so a ciphertext
 * copied to another store, name, version or key slot fails to open.
 * Each field is length-prefixed so that no two different places encode alike.
 */
import { concat, u32be, utf8 } from './bytes.js';

const VALUE_LABEL = utf8.encode('strongbox/value/v1');
const KEYWRAP_LABEL = utf8.encode('strongbox/keywrap/v1');
const CHECK_LABEL = utf8.encode('strongbox/master-check/v1');

function lp(b: Uint8Array): Uint8Array {
  return concat(u32be(b.length), b);
}

/** AAD of a value: header ‖ label ‖ store id ‖ name ‖ version. */
export function aadFor(header: Uint8Array, storeId: Uint8Array, name: string, version: number): Uint8Array {
  return concat(lp(header), lp(VALUE_LABEL), lp(storeId), lp(utf8.encode(name)), u32be(version));
}

/** AAD of a wrapped data key: label ‖ store id ‖ key id ‖ key version. */
export function keyWrapAad(storeId: Uint8Array, keyId: number, keyVersion: number): Uint8Array {
  return concat(lp(KEYWRAP_LABEL), lp(storeId), u32be(keyId), u32be(keyVersion));
}

/** AAD of the master-key check blob: label ‖ store id. */
export function masterCheckAad(storeId: Uint8Array): Uint8Array {
  return concat(lp(CHECK_LABEL), lp(storeId));
}
