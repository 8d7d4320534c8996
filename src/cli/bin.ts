import { processIo } from './io.js';
import { run } from './main.js';

// `store list | head`: a reader that went away is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

// Exit through exitCode, not process.exit(), so stdout drains first when piped.
void run(process.argv.slice(2), processIo()).then((status) => {
  process.exitCode = status;
});
