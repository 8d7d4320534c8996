/**
 * Row MAC format v2 of secret rows (schema 9, src/store/integrity/rows.ts):
 * the v1 fields (with the current version's state) and the current version's
 * nonce, against the vectors frozen in test/vectors/secret-mac-v2.json. If a
 * test here fails, the code changed the format; fix the code
 * (test/vectors/README.md).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RowAuthenticator } from '../../../src/store/integrity/rows.js';
import { i64, lp, opt } from '../../helpers/row-encoding.js';
import type { RawSecret } from '../../../src/storage/storage.js';

const v = JSON.parse(readFileSync('test/vectors/secret-mac-v2.json', 'utf8'));
const v1 = JSON.parse(readFileSync('test/vectors/row-mac-v1.json', 'utf8'));
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auth = () => new RowAuthenticator(bytes(v.integrityKey), bytes(v.storeId));
type Row = Omit<RawSecret, 'mac'>;
const row = (r: { head: { nonce: string | null } | null }) =>
  ({ ...r, head: r.head && { ...r.head, nonce: r.head.nonce === null ? null : bytes(r.head.nonce) } }) as unknown as Row;

describe('row MAC format v2 (secret rows)', () => {
  it('every secret row MACs to its frozen vector', () => {
    const a = auth();
    for (const [kind, r] of Object.entries(v.rows)) expect([kind, hex(a.secret(row(r as Row & { head: null })))]).toEqual([kind, v.macs[kind]]);
  });

  it('is HMAC-SHA256(key, lp(label v2) ‖ lp(store id) ‖ the v1 fields ‖ 1 ‖ lp(the current version\'s nonce)), as docs/integrity.md says', () => {
    const r = v.rows.secret;
    const message = Buffer.concat([
      lp(Buffer.from('strongbox/row/secret/v2')), lp(Buffer.from(v.storeId, 'hex')),
      i64(r.id), lp(Buffer.from(r.name)), i64(r.currentVersion), i64(r.maxVersions), lp(Buffer.from(r.custom)), i64(r.createdAt), i64(r.updatedAt),
      opt(1), i64(r.head.createdAt), opt(r.head.deletedAt), opt(r.head.destroyedAt),
      Buffer.from([1]), lp(Buffer.from(r.head.nonce, 'hex')),
    ]);
    expect(createHmac('sha256', Buffer.from(v.integrityKey, 'hex')).update(message).digest('hex')).toBe(v.macs.secret);
  });

  it('binds the nonce (none once destroyed) and no more; the v1 MACs of the same rows stay as frozen', () => {
    expect(v.macs.secretOtherNonce).not.toBe(v.macs.secret);
    expect(v.macs.secretDestroyedHead).not.toBe(v.macs.secret);
    const a = auth();
    expect(hex(a.secretV1(row(v.rows.secret)))).toBe(v1.macs.secret);
    expect(hex(a.secretV1(row(v.rows.secretOtherNonce)))).toBe(v1.macs.secret);
    expect(hex(a.secretV1(row(v.rows.secretNoHead)))).toBe(v1.macs.secretNoHead);
  });
});
