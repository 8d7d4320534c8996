/** An in-memory Writable for the in-process CLI tests: what a command wrote, as text or as bytes. */
import { Writable } from 'node:stream';

export function sink(): { stream: Writable; text: () => string; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const bytes = () => Buffer.concat(chunks);
  return { stream, text: () => bytes().toString(), bytes };
}
