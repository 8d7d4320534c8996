import { processIo } from './io.js';
import { run } from './main.js';

// Exit through exitCode, not process.exit(), so stdout drains first when piped.
process.exitCode = await run(process.argv.slice(2), processIo());
