/**
 * LtHash16 as a multiset hash: the digest depends only on which elements are
 * in (not on the order they came), removing undoes adding, the byte form
 * round-trips, and a multiset that differs by one element has another digest.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LtHash, LTHASH_BYTES } from '../../src/crypto/lthash.js';
import { lthashElement } from '../../src/crypto/mac.js';

const mac = fc.uint8Array({ minLength: 32, maxLength: 32 });
const digestOf = (macs: Uint8Array[]) => {
  const h = LtHash.empty();
  for (const m of macs) h.add(lthashElement(m));
  return h;
};

describe('LtHash16', () => {
  it('is order-independent, and removing an element undoes adding it', () => {
    fc.assert(fc.property(fc.array(mac, { maxLength: 12 }), mac, (macs, extra) => {
      const a = digestOf(macs);
      const b = digestOf([...macs].reverse());
      expect(a.equals(b)).toBe(true);
      const c = a.clone();
      c.add(lthashElement(extra));
      expect(c.equals(a)).toBe(false); // one more element: another digest
      c.remove(lthashElement(extra));
      expect(c.equals(a)).toBe(true);
    }), { numRuns: 200 });
  });

  it('update(added, removed) is adding and removing one by one, whatever the two counts', () => {
    fc.assert(fc.property(fc.array(mac, { maxLength: 5 }), fc.array(mac, { maxLength: 7 }), fc.array(mac, { maxLength: 7 }), (start, added, removed) => {
      const oneByOne = digestOf(start);
      const together = oneByOne.clone();
      for (const m of added) oneByOne.add(lthashElement(m));
      for (const m of removed) oneByOne.remove(lthashElement(m));
      together.update(added.map(lthashElement), removed.map(lthashElement));
      expect(together.toBytes()).toEqual(oneByOne.toBytes());
    }), { numRuns: 300 });
  });

  it('its byte form round-trips, and a wrong length is refused', () => {
    fc.assert(fc.property(fc.array(mac, { maxLength: 5 }), (macs) => {
      const d = digestOf(macs);
      const bytes = d.toBytes();
      expect(bytes.length).toBe(LTHASH_BYTES);
      expect(LtHash.fromBytes(bytes)!.equals(d)).toBe(true);
      expect(LtHash.fromBytes(bytes.subarray(1))).toBeUndefined();
    }), { numRuns: 100 });
  });
});
