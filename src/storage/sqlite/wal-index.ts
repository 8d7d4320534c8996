/**
 * A cheap first look for the read cache's change detector (driver.ts,
 * changeCounter): has any connection committed to a WAL-mode store file
 * since the last look? SQLite rewrites the WAL-index header at the start of
 * the file's `-shm` at every commit (its change counter goes up by one;
 * https://www.sqlite.org/walformat.html), so the same 48 bytes there mean
 * nobody committed. One small read, a third of what asking SQLite itself
 * costs (PRAGMA data_version begins and ends a read transaction); any other
 * answer, or no `-shm` to read, sends the detector to SQLite.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const HEADER_BYTES = 48;

export class WalIndexLook {
  /** The open -shm; null once it cannot be used (no such file, a failed read). */
  #fd: number | null | undefined;
  readonly #now = Buffer.alloc(HEADER_BYTES);
  readonly #seen = Buffer.alloc(HEADER_BYTES);
  #settled = false;

  constructor(private readonly storeFile: string) {}

  /** Whether the header is what it was at the last settle(): no commit since. Reads it (for settle) either way. */
  unchanged(): boolean {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(`${this.storeFile}-shm`, 'r');
      } catch {
        this.#fd = null;
      }
    }
    if (this.#fd === null) return false;
    try {
      if (readSync(this.#fd, this.#now, 0, HEADER_BYTES, 0) !== HEADER_BYTES) return false;
    } catch {
      this.close();
      return false;
    }
    return this.#settled && this.#now.equals(this.#seen);
  }

  /** Every commit up to the header read by the last unchanged() has been accounted for. */
  settle(): void {
    this.#now.copy(this.#seen);
    this.#settled = true;
  }

  /** Forget the header seen: the next look goes to SQLite. */
  reset(): void {
    this.#settled = false;
  }

  close(): void {
    if (typeof this.#fd === 'number') closeSync(this.#fd);
    this.#fd = null;
  }
}
