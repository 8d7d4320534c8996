/**
 * The row MACs' canonical encoding (docs/integrity.md), written out by hand
 * for the vector tests to check our encoder against: numbers as 8 bytes
 * big-endian, text and bytes with a 4-byte length first, a nullable number
 * with a presence byte.
 */
const u32 = (n: number) => Buffer.from([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);

/** Length-prefixed bytes. */
export const lp = (b: Buffer) => Buffer.concat([u32(b.length), b]);
/** A whole number as 8 bytes. */
export const i64 = (n: number) => Buffer.concat([u32(Math.floor(n / 0x1_0000_0000)), u32(n >>> 0)]);
/** A nullable whole number: 0, or 1 and the number. */
export const opt = (n: number | null) => (n === null ? Buffer.from([0]) : Buffer.concat([Buffer.from([1]), i64(n)]));
