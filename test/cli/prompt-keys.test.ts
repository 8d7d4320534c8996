/**
 * What typing at the hidden prompt (src/cli/prompt.ts) makes of the bytes a
 * terminal in raw mode sends: HiddenLine fed bytes as the terminal would,
 * in one chunk or one byte at a time. Backspace (DEL or ^H) removes the last
 * whole UTF-8 character; escape sequences (arrow, Home, Delete, F-keys:
 * ESC [ ... final byte, ESC O x) are dropped; Enter ends the line, Ctrl-C and
 * Ctrl-D cancel it. On a real terminal: prompt-terminal.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { HiddenLine } from '../../src/cli/prompt.js';

const DEL = [0x7f];
const BS = [0x08];
const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

/** Feed `input` whole, then byte by byte: both must give the same outcome and value. */
function typed(input: Buffer): { outcome: string | undefined; value: string; raw: Buffer } {
  const results = [];
  for (const split of [false, true]) {
    const line = new HiddenLine();
    let outcome: string | undefined;
    const chunks = split ? [...input].map((b) => Uint8Array.of(b)) : [Uint8Array.from(input)];
    for (const c of chunks) {
      outcome = line.feed(c);
      if (outcome) break;
    }
    const raw = Buffer.from(line.value());
    results.push({ outcome, value: raw.toString('utf8'), raw });
  }
  expect(results[1]).toEqual(results[0]);
  return results[0]!;
}

describe('HiddenLine', () => {
  it('backspace removes the last whole character: 1, 2, 3 and 4 byte ones', () => {
    expect(typed(bytes('pé', DEL, 'x\r'))).toMatchObject({ outcome: 'done', value: 'px' });
    expect(typed(bytes('a✓', DEL, '\r')).value).toBe('a');
    expect(typed(bytes('a🔑', BS, 'b\r')).value).toBe('ab');
    expect(typed(bytes('ab', DEL, DEL, DEL, 'c\r')).value).toBe('c');
    expect(typed(bytes('é🔑✓', DEL, DEL, '\r')).value).toBe('é');
  });

  it('backspace over bytes that are not UTF-8 removes one byte at a time', () => {
    expect(typed(bytes('a', [0xc3], DEL, '\r')).raw).toEqual(Buffer.from('a'));
    expect(typed(bytes('a', [0x80, 0x80], DEL, '\r')).raw).toEqual(Buffer.from([0x61, 0x80]));
    expect(typed(bytes([0xff], 'é', DEL, DEL, '\r')).raw).toEqual(Buffer.alloc(0));
  });

  it('escape sequences are not stored: arrows, Home/End, Delete, F5, modified arrows', () => {
    expect(typed(bytes('ab', '\x1b[D', 'c\r')).value).toBe('abc');
    expect(typed(bytes('a', '\x1bOH', '\x1bOF', '\x1b[3~', '\x1b[15~', '\x1b[1;5C', 'b\r')).value).toBe('ab');
    expect(typed(bytes('a', '\x1bOA', '\x1b[A', 'b\r')).value).toBe('ab');
  });

  it('Enter inside an unfinished escape sequence still ends the line', () => {
    expect(typed(bytes('a', '\x1b[1;', '\r'))).toMatchObject({ outcome: 'done', value: 'a' });
    expect(typed(bytes('a', '\x1b', '\r'))).toMatchObject({ outcome: 'done', value: 'a' });
  });

  it('Enter (CR or LF) ends the line, Ctrl-C and Ctrl-D cancel it; what follows is not read', () => {
    expect(typed(bytes('abc\rdef'))).toMatchObject({ outcome: 'done', value: 'abc' });
    expect(typed(bytes('abc\ndef'))).toMatchObject({ outcome: 'done', value: 'abc' });
    expect(typed(bytes('abc', [0x03]))).toMatchObject({ outcome: 'cancel' });
    expect(typed(bytes('abc', [0x04]))).toMatchObject({ outcome: 'cancel' });
    expect(typed(bytes('abc'))).toMatchObject({ outcome: undefined, value: 'abc' });
  });

  it('other bytes are kept as typed, tab and non-UTF-8 included', () => {
    expect(typed(bytes('a\tb', [0xff], '\r')).raw).toEqual(Buffer.from([0x61, 0x09, 0x62, 0xff]));
  });

  it('wipe zeroes and empties what was typed', () => {
    const line = new HiddenLine();
    line.feed(Buffer.from('secret'));
    line.wipe();
    expect(line.value()).toEqual(new Uint8Array(0));
  });
});
