// CLI tests run the built CLI as a child process: make sure it exists and is
// not older than the sources (`npm test` builds first; a bare `npx vitest` may not).
import { execFileSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const cli = 'dist/bin/store.js';
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource('src')) {
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  }
}
