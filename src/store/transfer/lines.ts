/** The decrypted stream of an age bundle cut into its JSON Lines, bounded, wiped as they go. */
import { StoreError } from '../../errors.js';
import { concat, wipe } from '../../crypto/bytes.js';

/**
 * Cuts a byte stream into lines (without their line feeds), each at most
 * `max` bytes; the last line must end with a line feed too.
 */
export class LineSplitter {
  #parts: Uint8Array[] = [];
  #length = 0;

  constructor(private readonly max: number, private readonly onLine: (line: Uint8Array) => void) {}

  /** `chunk` is not kept: the caller may wipe it afterwards. */
  push(chunk: Uint8Array): void {
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf !== -1; lf = chunk.indexOf(0x0a, start)) {
      this.#take(chunk.subarray(start, lf));
      const parts = this.#parts;
      const line = parts.length === 1 ? parts[0]! : concat(...parts);
      if (parts.length > 1) wipe(...parts);
      this.#parts = [];
      this.#length = 0;
      try {
        this.onLine(line);
      } finally {
        wipe(line);
      }
      start = lf + 1;
    }
    this.#take(chunk.subarray(start));
  }

  end(): void {
    if (this.#length > 0) {
      this.discard();
      throw new StoreError('E_TAMPERED', 'the age bundle is damaged or was altered: its last line has no line feed', ['nothing was imported']);
    }
  }

  discard(): void {
    wipe(...this.#parts);
    this.#parts = [];
    this.#length = 0;
  }

  #take(part: Uint8Array): void {
    if (part.length === 0) return;
    this.#length += part.length;
    if (this.#length > this.max) {
      this.discard();
      throw new StoreError('E_TAMPERED', `the age bundle is damaged or was altered: a line is longer than ${this.max} bytes`, ['nothing was imported']);
    }
    this.#parts.push(new Uint8Array(part));
  }
}
