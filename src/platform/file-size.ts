/** The size of a file that may not be there. */
import { lstatSync, statSync } from 'node:fs';

/**
 * Bytes in the file at `path`, 0 when there is none (or it cannot be
 * read). `noFollow`: the size of a link itself, not of what it points to.
 */
export function sizeOf(path: string, options: { noFollow?: boolean } = {}): number {
  try {
    return (options.noFollow ? lstatSync(path) : statSync(path)).size;
  } catch {
    return 0;
  }
}
