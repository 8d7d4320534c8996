/**
 * What a version's value is: the UTF-8 text of a JSON object (a Vault-style
 * secret, a map of fields: `PutOptions.json`) or plain bytes. The flag is
 * recorded with the version, authenticated by its row MAC, and set once when
 * the version is written: the value is checked here then, so a read only
 * reports the flag and never parses the value (the get path stays one read
 * and one AEAD open).
 *
 * Messages name what is wrong, never any part of the value: JSON.parse's own
 * message quotes the text it failed on, so it is not passed on.
 */
import { StoreError } from '../errors.js';

// fatal: a byte sequence that is not UTF-8 is refused, not replaced. ignoreBOM: a
// leading byte-order mark stays in the text, where JSON.parse refuses it (JSON has none).
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(problem: string): StoreError {
  return new StoreError('E_INVALID_VALUE', `the value is not a JSON object: ${problem}`, [
    'a JSON secret is the UTF-8 text of one JSON object, such as {"username":"app","password":"…"}',
  ]);
}

/** What a parsed JSON value is, in words (its type, never its content). */
function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? 'a string' : typeof v === 'number' ? 'a number' : typeof v === 'boolean' ? 'true or false' : typeof v;
}

/**
 * Check that `value` is the UTF-8 text of a JSON object.
 * @throws E_INVALID_VALUE saying what is wrong (not UTF-8, not JSON, or JSON whose top level is not an object)
 */
export function checkJsonObject(value: Uint8Array): void {
  let text: string;
  try {
    text = STRICT_UTF8.decode(value);
  } catch {
    throw invalid('it is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('it is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid(`its top level is ${kindOf(parsed)}, not an object`);
  }
}

/** `PutOptions.json` as given: absent is plain bytes. @throws E_USAGE when it is not a boolean */
export function checkJsonOption(json: unknown): boolean {
  if (json === undefined) return false;
  if (typeof json !== 'boolean') throw new StoreError('E_USAGE', 'json must be true or false');
  return json;
}
