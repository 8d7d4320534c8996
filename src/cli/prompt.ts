/**
 * Ask for a secret on the controlling terminal without echo, as ssh and gpg
 * do. It reads /dev/tty rather than stdin, so `printf v | store set x` on a
 * passphrase store can still ask for the passphrase. No terminal: undefined.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';

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
  const bytes: number[] = [];
  try {
    const ok = await new Promise<boolean>((resolve) => {
      input.on('data', (chunk: Buffer) => {
        for (const b of chunk) {
          if (b === 0x0d || b === 0x0a) return resolve(true);
          if (b === 0x03 || b === 0x04) return resolve(false); // Ctrl-C, Ctrl-D
          if (b === 0x7f || b === 0x08) bytes.pop();
          else bytes.push(b);
        }
        chunk.fill(0);
      });
    });
    writeSync(fd, '\n');
    return ok ? new Uint8Array(bytes) : undefined;
  } finally {
    bytes.fill(0);
    input.setRawMode(false);
    input.destroy();
    try {
      closeSync(fd);
    } catch {
      // destroy() may already have closed it
    }
  }
}
