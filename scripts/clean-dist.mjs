// Start every build from an empty dist/: `files` in package.json packs all of
// dist/, so a file left by an older build (a removed module, a source map)
// would otherwise be published.
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
