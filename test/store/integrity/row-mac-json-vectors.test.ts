/**
 * The JSON flag in row MACs (src/store/integrity/rows.ts, Canon.contentType)
 * against the vectors frozen in test/vectors/row-mac-json-v1.json: a JSON
 * version's row, and a secret row whose current version is JSON, encode as
 * their v1 twins (test/vectors/row-mac-v1.json) followed by lp("json"); a
 * row that is not JSON encodes exactly as in v1, so no row written before
 * the flag existed changes its MAC.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RowAuthenticator } from '../../../src/store/integrity/rows.js';

const v1 = JSON.parse(readFileSync('test/vectors/row-mac-v1.json', 'utf8'));
const v = JSON.parse(readFileSync('test/vectors/row-mac-json-v1.json', 'utf8'));
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auth = () => new RowAuthenticator(bytes(v.integrityKey), bytes(v.storeId));

describe('row MACs of JSON versions', () => {
  it('share the v1 vectors\' key and store id', () => {
    expect([v.integrityKey, v.storeId]).toEqual([v1.integrityKey, v1.storeId]);
  });

  it('each JSON row MACs to its frozen vector', () => {
    const a = auth();
    expect(hex(a.versionV1('app/db-password', v.rows.versionJson))).toBe(v.macs.versionJson);
    expect(hex(a.versionV1('app/db-password', v.rows.versionJsonDestroyed))).toBe(v.macs.versionJsonDestroyed);
    expect(hex(a.secretV1(v.rows.secretJsonHead))).toBe(v.macs.secretJsonHead);
  });

  it('the same rows with the flag false MAC exactly as their v1 twins; with it, differently', () => {
    const a = auth();
    expect(hex(a.versionV1('app/db-password', { ...v.rows.versionJson, json: false }))).toBe(v1.macs.version);
    expect(hex(a.versionV1('app/db-password', { ...v.rows.versionJsonDestroyed, json: false }))).toBe(v1.macs.versionDestroyed);
    expect(hex(a.secretV1({ ...v.rows.secretJsonHead, head: { ...v.rows.secretJsonHead.head, json: false } }))).toBe(v1.macs.secret);
    expect(new Set([v.macs.versionJson, v.macs.versionJsonDestroyed, v.macs.secretJsonHead, ...Object.values(v1.macs)]).size)
      .toBe(3 + Object.keys(v1.macs).length);
  });

  it('a JSON version row is HMAC-SHA256 over its v1 encoding ‖ lp("json"), as docs/integrity.md says', () => {
    const r = v.rows.versionJson;
    const lp = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, b.length >> 8, b.length & 0xff]), b]);
    const i64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64BE(BigInt(n));
      return b;
    };
    const opt = (n: number | null) => (n === null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), i64(n)]));
    const message = Buffer.concat([
      lp(Buffer.from('strongbox/row/version/v1')), lp(Buffer.from(v.storeId, 'hex')),
      i64(r.secretId), i64(r.version), i64(r.createdAt), opt(r.deletedAt), opt(r.destroyedAt), opt(r.keyId),
      lp(Buffer.from('json')),
    ]);
    expect(message.toString('hex')).toBe(v.versionJsonMessage);
    expect(createHmac('sha256', Buffer.from(v.integrityKey, 'hex')).update(message).digest('hex')).toBe(v.macs.versionJson);
  });

  it('a flag that is neither true nor false (an edited column) is a damaged row, named', () => {
    const a = auth();
    for (const json of [2, 'x', null]) {
      expect(() => a.versionV1('app/db-password', { ...v.rows.versionJson, json })).toThrow(/app\/db-password version 2 is damaged: json is not 0 or 1/);
      expect(() => a.secretV1({ ...v.rows.secretJsonHead, head: { ...v.rows.secretJsonHead.head, json } }))
        .toThrow(/secret app\/db-password is damaged: current version json is not 0 or 1/);
    }
  });
});
