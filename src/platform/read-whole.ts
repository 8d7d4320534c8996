/** Reading a small file whole through a descriptor already checked (type, size, mode). */
import { readSync } from 'node:fs';

/**
 * The first `size` bytes of the open file `fd` (its size when checked), or
 * fewer when it ends sooner: a file that shrank since is read as it now is.
 */
export function readWhole(fd: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let done = 0;
  while (done < out.length) {
    const got = readSync(fd, out, done, out.length - done, done);
    if (got === 0) break;
    done += got;
  }
  return out.subarray(0, done);
}
