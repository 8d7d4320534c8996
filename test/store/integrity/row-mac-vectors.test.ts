/**
 * Row MAC format v1 (src/store/integrity/rows.ts), the LtHash element and
 * digest (src/crypto/lthash.ts, mac.ts) and the state row's MAC against the
 * vectors frozen in test/vectors/row-mac-v1.json. A store's rows carry these
 * MACs on disk: if a test here fails, the code changed the format; fix the
 * code (test/vectors/README.md).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RowAuthenticator } from '../../../src/store/integrity/rows.js';
import { lthashElement } from '../../../src/crypto/mac.js';
import { LtHash } from '../../../src/crypto/lthash.js';

const v = JSON.parse(readFileSync('test/vectors/row-mac-v1.json', 'utf8'));
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auth = () => new RowAuthenticator(bytes(v.integrityKey), bytes(v.storeId));

describe('row MAC format v1', () => {
  it('every kind of row MACs to its frozen vector', () => {
    const a = auth();
    expect(hex(a.meta(v.rows.meta))).toBe(v.macs.meta);
    expect(hex(a.key({ ...v.rows.key, wrapped: bytes(v.rows.key.wrapped) }))).toBe(v.macs.key);
    expect(hex(a.key(v.rows.keyDestroyed))).toBe(v.macs.keyDestroyed);
    expect(hex(a.secretV1(v.rows.secret))).toBe(v.macs.secret);
    expect(hex(a.secretV1(v.rows.secretNoHead))).toBe(v.macs.secretNoHead);
    expect(hex(a.versionV1('app/db-password', v.rows.version))).toBe(v.macs.version);
    expect(hex(a.versionV1('app/db-password', v.rows.versionDestroyed))).toBe(v.macs.versionDestroyed);
  });

  it('a header entry is HMAC-SHA256(key, lp(label) ‖ lp(store id) ‖ lp(key) ‖ lp(value)), as docs/integrity.md says', () => {
    const lp = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, b.length >> 8, b.length & 0xff]), b]);
    const message = Buffer.concat([lp(Buffer.from('strongbox/row/meta/v1')), lp(Buffer.from(v.storeId, 'hex')), lp(Buffer.from(v.rows.meta.key)), lp(Buffer.from(v.rows.meta.value))]);
    expect(createHmac('sha256', Buffer.from(v.integrityKey, 'hex')).update(message).digest('hex')).toBe(v.macs.meta);
  });

  it('the LtHash element of a MAC, the digest of all of them and the state row MAC', () => {
    expect(hex(lthashElement(bytes(v.macs.meta)))).toBe(v.elementOfMeta);
    const d = LtHash.empty();
    for (const m of Object.values(v.macs) as string[]) d.add(lthashElement(bytes(m)));
    expect(hex(d.toBytes())).toBe(v.digestOfAll);
    expect(hex(auth().state(bytes(v.digestOfAll), v.state.auditSeq, bytes(v.state.auditMac)))).toBe(v.state.mac);
  });
});
