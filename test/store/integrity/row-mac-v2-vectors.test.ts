/**
 * Row MAC format v2 of version rows (schema 8, src/store/integrity/rows.ts):
 * the v1 fields and the head of the ciphertext (format byte, key id, nonce),
 * against the vectors frozen in test/vectors/row-mac-v2.json. If a test here
 * fails, the code changed the format; fix the code (test/vectors/README.md).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RowAuthenticator } from '../../../src/store/integrity/rows.js';
import { i64, lp, opt } from '../../helpers/row-encoding.js';
import type { RawVersion } from '../../../src/storage/storage.js';

const v = JSON.parse(readFileSync('test/vectors/row-mac-v2.json', 'utf8'));
const v1 = JSON.parse(readFileSync('test/vectors/row-mac-v1.json', 'utf8'));
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auth = () => new RowAuthenticator(bytes(v.integrityKey), bytes(v.storeId));
const row = (r: Record<string, unknown>) => ({ ...r, ciphertext: r.ciphertext === null ? null : bytes(r.ciphertext as string) }) as Omit<RawVersion, 'mac'>;

describe('row MAC format v2 (version rows)', () => {
  it('every version row MACs to its frozen vector', () => {
    const a = auth();
    for (const [kind, r] of Object.entries(v.rows)) expect([kind, hex(a.version(v.name, row(r as Record<string, unknown>)))]).toEqual([kind, v.macs[kind]]);
  });

  it('is HMAC-SHA256(key, lp(label v2) ‖ lp(store id) ‖ the v1 fields ‖ 1 ‖ lp(the ciphertext\'s first 29 bytes)), as docs/integrity.md says', () => {
    const r = v.rows.version;
    const message = Buffer.concat([
      lp(Buffer.from('strongbox/row/version/v2')), lp(Buffer.from(v.storeId, 'hex')),
      i64(r.secretId), i64(r.version), i64(r.createdAt), opt(r.deletedAt), opt(r.destroyedAt), opt(r.keyId),
      Buffer.from([1]), lp(Buffer.from(r.ciphertext, 'hex').subarray(0, 29)),
    ]);
    expect(createHmac('sha256', Buffer.from(v.integrityKey, 'hex')).update(message).digest('hex')).toBe(v.macs.version);
  });

  it('binds the ciphertext\'s head, not its tail (the AEAD binds that); v1 MACs, which bind neither, stay as frozen', () => {
    expect(v.macs.versionOtherTail).toBe(v.macs.version);
    expect(v.macs.versionOtherNonce).not.toBe(v.macs.version);
    const a = auth();
    expect(hex(a.versionV1(v.name, row(v.rows.version)))).toBe(v1.macs.version);
    expect(hex(a.versionV1(v.name, row(v.rows.versionDestroyed)))).toBe(v1.macs.versionDestroyed);
  });
});
