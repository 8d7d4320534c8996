// Write the man page dist/man/store.1 from the compiled program (dist/cli,
// made by tsc just before), so it says what --help says; and strongbox.1,
// which points man to it (the command is installed under both names).
// The date is SOURCE_DATE_EPOCH's when set, for reproducible builds.
import { mkdirSync, writeFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';

const { fullProgram, VERSION } = await import('../dist/cli/main.js');
const { Context } = await import('../dist/cli/context.js');
const { manPage } = await import('../dist/cli/help/man.js');

const nowhere = () => new Writable({ write: (_chunk, _enc, done) => done() });
const io = {
  stdin: Readable.from([]), stdout: nowhere(), stderr: nowhere(), env: {},
  stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
};
const epoch = process.env.SOURCE_DATE_EPOCH;
const date = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().slice(0, 10);

mkdirSync('dist/man', { recursive: true });
writeFileSync('dist/man/store.1', manPage(await fullProgram(new Context(io)), { version: VERSION, date }));
writeFileSync('dist/man/strongbox.1', '.so man1/store.1\n');
