/**
 * Ask for a secret on the controlling terminal without echo, as ssh and gpg
 * do. It reads /dev/tty rather than stdin, so `printf v | store set x` on a
 * passphrase store can still ask for the passphrase. No terminal: undefined.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

const ESC = 0x1b;

/** How many bytes a UTF-8 sequence that starts with `lead` has; 0 when `lead` cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * The line typed at the hidden prompt, from the bytes a terminal in raw mode
 * sends (no line discipline edits them for us). Enter (CR or LF) ends it;
 * Ctrl-C or Ctrl-D cancels it; backspace (DEL or ^H) removes the last whole
 * UTF-8 character (one byte when what ends the line is not UTF-8); escape
 * sequences, which arrow, Home, Delete and function keys send (CSI: ESC [,
 * parameter and intermediate bytes, a final byte; SS3: ESC O and one byte;
 * ESC and one other byte: Alt+key), are dropped, not typed. Every other byte
 * is kept as it is. A sequence may be split across chunks.
 */
export class HiddenLine {
  #bytes: number[] = [];
  /** Where in an escape sequence the last byte left us. */
  #escape: 'none' | 'esc' | 'csi' | 'ss3' = 'none';

  /** Take typed bytes: 'done' at Enter, 'cancel' at Ctrl-C or Ctrl-D (what follows is not read), else undefined. */
  feed(chunk: Uint8Array): 'done' | 'cancel' | undefined {
    for (const b of chunk) {
      // Enter, Ctrl-C and Ctrl-D count even inside an unfinished escape sequence (a lone Esc pressed).
      if (b === 0x0d || b === 0x0a) return 'done';
      if (b === 0x03 || b === 0x04) return 'cancel';
      if (this.#inEscape(b)) continue;
      if (b === 0x7f || b === 0x08) this.#backspace();
      else if (b === ESC) this.#escape = 'esc';
      else this.#bytes.push(b);
    }
    return undefined;
  }

  /** Whether `b` belongs to an escape sequence (and so is dropped). */
  #inEscape(b: number): boolean {
    switch (this.#escape) {
      case 'none':
        return false;
      case 'esc':
        // ESC ESC [ A is how some terminals send Alt+arrow.
        this.#escape = b === 0x5b ? 'csi' : b === 0x4f ? 'ss3' : b === ESC ? 'esc' : 'none';
        return true;
      case 'ss3':
        this.#escape = 'none';
        return true;
      case 'csi':
        // Parameter (0x30-0x3f) and intermediate (0x20-0x2f) bytes go on; a final byte (0x40-0x7e) ends it.
        if (b >= 0x20 && b <= 0x3f) return true;
        this.#escape = 'none';
        if (b >= 0x40 && b <= 0x7e) return true;
        return false; // not part of a sequence after all: a control byte, say, is handled as typed
    }
  }

  /** Remove the last character: a whole UTF-8 sequence when the line ends with one, else one byte. */
  #backspace(): void {
    const bytes = this.#bytes;
    let start = bytes.length - 1;
    while (start > 0 && bytes.length - start < 4 && (bytes[start]! & 0xc0) === 0x80) start--;
    const whole = start >= 0 && sequenceLength(bytes[start]!) === bytes.length - start;
    const cut = whole ? start : bytes.length - 1;
    for (let i = Math.max(cut, 0); i < bytes.length; i++) bytes[i] = 0;
    bytes.length = Math.max(cut, 0);
  }

  /** What was typed, a copy. */
  value(): Uint8Array {
    return new Uint8Array(this.#bytes);
  }

  /** Zero what was typed, and forget it. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#bytes.length = 0;
    this.#escape = 'none';
  }
}

export async function promptHidden(question: string): Promise<Uint8Array | undefined> {
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return undefined; // no controlling terminal: cron, CI, a pipe
  }
  // node:tty (and node:net behind it) only now: every command's start would pay ~2 ms for it (fd-output.ts).
  const { ReadStream } = createRequire(import.meta.url)('node:tty') as typeof import('node:tty');
  const input = new ReadStream(fd);
  input.setRawMode(true);
  writeSync(fd, question);
  const line = new HiddenLine();
  try {
    const ok = await new Promise<boolean>((resolve) => {
      input.on('data', (chunk: Buffer) => {
        try {
          const outcome = line.feed(chunk);
          if (outcome) resolve(outcome === 'done');
        } finally {
          chunk.fill(0);
        }
      });
    });
    writeSync(fd, '\n');
    return ok ? line.value() : undefined;
  } finally {
    line.wipe();
    input.setRawMode(false);
    input.destroy();
    try {
      closeSync(fd);
    } catch {
      // destroy() may already have closed it
    }
  }
}
