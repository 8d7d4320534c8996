/**
 * How a Vault secret (a JSON object) and a Strongbox value (bytes) map onto
 * each other, exactly both ways:
 *
 * - A write through the API stores the `data` object's own JSON text, as
 *   sent, and marks the version JSON (the mark is part of the version's
 *   authenticated record). A read answers that text as is: nested objects,
 *   numbers and unicode come back byte for byte.
 * - A version written otherwise (`store set`) is bytes: it reads as
 *   `{"value": "<text>"}`, the shape `vault kv put secret/x value=...`
 *   makes; bytes that are not UTF-8 read as `{"value_base64": "<base64>"}`.
 *
 * Which versions are JSON is recorded per version, never guessed from the
 * bytes: a `store set` of text that happens to be JSON stays a string.
 */
import { RawJson } from './envelope.js';
import type { SecretBytes } from '../crypto/secret.js';
import { tryUtf8 } from '../crypto/bytes.js';

/** The `data` of a read: the stored JSON text, or the bytes wrapped as `value`. */
export function vaultData(value: SecretBytes, json: boolean): RawJson | Record<string, string> {
  const bytes = value.expose();
  if (json) return new RawJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  // Strict (no replacement characters) and keeping a leading BOM: the text is the value's bytes exactly.
  const text = tryUtf8(bytes);
  return text !== undefined ? { value: text } : { value_base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64') };
}

/** The stored JSON text of a version, parsed (for a merge-PATCH). */
export function parsedData(value: SecretBytes, json: boolean): Record<string, unknown> {
  const data = vaultData(value, json);
  return data instanceof RawJson ? (JSON.parse(data.text) as Record<string, unknown>) : { ...data };
}

/**
 * RFC 7386 JSON merge patch: members of `patch` replace those of `target`,
 * objects merge recursively, `null` removes. Every member is data, even one
 * named `__proto__` (JSON.parse makes it an own member, and so must we).
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target)
    ? { ...(target as Record<string, unknown>) }
    : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else {
      // Not `out[k] = …`: for '__proto__' that sets the prototype, and the member is lost.
      const merged = mergePatch(Object.hasOwn(out, k) ? out[k] : undefined, v);
      Object.defineProperty(out, k, { value: merged, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

/** A time as Vault writes it: RFC 3339, UTC, nanoseconds. `""` when unset. */
export function vaultTime(ms: number | Date | undefined | null): string {
  if (ms === undefined || ms === null) return '';
  const iso = new Date(ms).toISOString(); // 2018-03-22T02:24:06.945Z
  return `${iso.slice(0, -1)}000000Z`;
}
