import { inspect, format } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SecretBytes } from '../../src/crypto/secret.js';

const CANARY = 'CANARY-secret-7c1e';

describe('SecretBytes', () => {
  const s = SecretBytes.from(CANARY);
  const shown = `[redacted ${CANARY.length} bytes]`;

  it('prints [redacted N bytes] through String()', () => {
    expect(String(s)).toBe(shown);
    expect(s.toString()).toBe(shown);
  });

  it('prints [redacted N bytes] in a template literal and string concatenation', () => {
    expect(`value=${s}`).toBe(`value=${shown}`);
    expect('value=' + s).toBe(`value=${shown}`);
  });

  it('prints [redacted N bytes] through JSON.stringify, alone and nested', () => {
    expect(JSON.stringify(s)).toBe(JSON.stringify(shown));
    expect(JSON.stringify({ value: s, list: [s] })).toBe(JSON.stringify({ value: shown, list: [shown] }));
  });

  it('prints [redacted N bytes] through util.inspect, util.format and nested objects', () => {
    expect(inspect(s)).toBe(shown);
    expect(inspect({ a: { b: s } }, { depth: 10 })).toContain(shown);
    expect(format('%s %o %O %j', s, s, s, s)).not.toContain(CANARY);
    expect(inspect({ a: { b: s } }, { depth: 10, showHidden: true })).not.toContain(CANARY);
  });

  it('never shows the plaintext in any of those forms', () => {
    const forms = [String(s), `${s}`, JSON.stringify({ s }), inspect(s), inspect([s]), format('%s', s), Object.keys(s).join(',')];
    for (const f of forms) expect(f).not.toContain(CANARY);
    expect(Object.keys(s)).toEqual([]);
  });

  it('counts bytes, not characters', () => {
    expect(String(SecretBytes.from('é€'))).toBe('[redacted 5 bytes]');
    expect(String(SecretBytes.from(new Uint8Array(0)))).toBe('[redacted 0 bytes]');
    expect(SecretBytes.from('é€').length).toBe(5);
  });

  it('gives the bytes through expose() and text()', () => {
    expect(s.text()).toBe(CANARY);
    expect(new TextDecoder().decode(s.expose())).toBe(CANARY);
  });

  it('from(Uint8Array) copies; the constructor takes ownership without a copy', () => {
    const raw = new Uint8Array([1, 2, 3]);
    const copied = SecretBytes.from(raw);
    raw[0] = 9;
    expect([...copied.expose()]).toEqual([1, 2, 3]);
    const owned = new SecretBytes(raw);
    expect(owned.expose()).toBe(raw);
  });

  it('from(SecretBytes) returns the same object', () => {
    expect(SecretBytes.from(s)).toBe(s);
  });

  it('from() refuses other types with a TypeError', () => {
    expect(() => SecretBytes.from(42 as unknown as string)).toThrow(TypeError);
    expect(() => SecretBytes.from(null as unknown as string)).toThrow(TypeError);
    expect(() => SecretBytes.from([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('wipe() zeroes the bytes in place and keeps the length', () => {
    const w = SecretBytes.from('wipe-me');
    const view = w.expose();
    w.wipe();
    expect(view.every((b) => b === 0)).toBe(true);
    expect(w.length).toBe(7);
    expect(String(w)).toBe('[redacted 7 bytes]');
  });

  it('text() maps invalid UTF-8 to U+FFFD rather than throwing', () => {
    expect(new SecretBytes(new Uint8Array([0x61, 0xff])).text()).toBe('a\uFFFD');
  });
});
