/**
 * Record row MACs (src/store/integrity/rows.ts, label
 * `strongbox/row/record/v1`) against the vectors frozen in
 * test/vectors/record-mac-v1.json. The MACs there were computed apart from
 * our code (Python's hmac over the encoding docs/integrity.md describes), so
 * this checks the format itself, not only that it did not change. If a test
 * here fails, the code changed the format; fix the code (test/vectors/README.md).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RowAuthenticator } from '../../../src/store/integrity/rows.js';
import { lthashElement } from '../../../src/crypto/mac.js';
import { LtHash } from '../../../src/crypto/lthash.js';

interface RecordVector { kind: string; id: string; value: string }
const v = JSON.parse(readFileSync('test/vectors/record-mac-v1.json', 'utf8')) as {
  integrityKey: string; storeId: string; rows: Record<string, RecordVector>; macs: Record<string, string>; digestOfRecords: string;
};
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const auth = () => new RowAuthenticator(bytes(v.integrityKey), bytes(v.storeId));

describe('record MAC format v1', () => {
  it('every record MACs to its frozen vector', () => {
    const a = auth();
    for (const [name, row] of Object.entries(v.rows)) expect(hex(a.record(row)), name).toBe(v.macs[name]);
  });

  it('a record is HMAC-SHA256(key, lp(label) ‖ lp(store id) ‖ lp(kind) ‖ lp(id) ‖ lp(value))', () => {
    const lp = (b: Buffer) => {
      const n = Buffer.alloc(4);
      n.writeUInt32BE(b.length);
      return Buffer.concat([n, b]);
    };
    for (const [name, row] of Object.entries(v.rows)) {
      const message = Buffer.concat([lp(Buffer.from('strongbox/row/record/v1')), lp(Buffer.from(v.storeId, 'hex')),
        lp(Buffer.from(row.kind)), lp(Buffer.from(row.id)), lp(Buffer.from(row.value))]);
      expect(createHmac('sha256', Buffer.from(v.integrityKey, 'hex')).update(message).digest('hex'), name).toBe(v.macs[name]);
    }
  });

  it('the MAC binds the kind and the id: the same value elsewhere MACs differently', () => {
    const a = auth();
    const { kind, id, value } = v.rows.role!;
    const mac = hex(a.record({ kind, id, value }));
    expect(hex(a.record({ kind: 'approle-rolf', id, value }))).not.toBe(mac);
    expect(hex(a.record({ kind, id: 'wea', value }))).not.toBe(mac);
    // The length prefixes keep the fields apart: moving a byte from the kind to the id changes the MAC.
    expect(hex(a.record({ kind: 'approle-rol', id: `e${id}`, value }))).not.toBe(mac);
  });

  it('the records count in the whole-state digest as any row does', () => {
    const d = LtHash.empty();
    for (const m of Object.values(v.macs)) d.add(lthashElement(bytes(m)));
    expect(hex(d.toBytes())).toBe(v.digestOfRecords);
  });
});
