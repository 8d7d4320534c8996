import { processIo, watchStdoutErrors } from './io.js';
import { run } from './main.js';

const io = processIo();

// `store list | head`: a reader that went away is not an error worth a stack trace (exit 0). Any other
// write error (`store get x > /dev/full`) is told by run() as E_IO, never thrown as a stack trace.
const stdout = watchStdoutErrors(io.stdout, io.stderr);

// Exit through exitCode, not process.exit(), so stdout drains first when it is Node's stream.
void run(process.argv.slice(2), io).then((status) => {
  process.exitCode = stdout.finish(status);
});

// Once nothing is left to run ('beforeExit': every write has drained), exit at once: Node would go on to free
// the whole heap and environment first, which is ~2 ms of a short command such as `store get`, for nothing.
process.once('beforeExit', () => process.exit());
