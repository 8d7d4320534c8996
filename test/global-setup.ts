// CLI tests run the built CLI as a child process: make sure it exists and is
// not older than the sources (`npm test` builds first; a bare `npx vitest` may not).
// And start the run's throwaway PostgreSQL cluster (test/helpers/postgres-cluster.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from './helpers/postgres-cluster.js';

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

export default function setup(): () => Promise<void> {
  const cli = 'dist/bin/store.js';
  if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource('src')) {
    execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  }
  // One private directory for the whole run (the workers inherit the variable), removed at its end:
  // the CLI tests point XDG_CONFIG_HOME inside it so no caller's profiles leak in (test/cli/run-cli.ts).
  const scratch = mkdtempSync(join(tmpdir(), 'strongbox-tests-run-'));
  process.env.STRONGBOX_TEST_SCRATCH = scratch;
  // One throwaway PostgreSQL cluster for the run, started without waiting: only the tests that
  // use it wait for it (test/helpers/postgres.ts), each in a database of its own.
  const cluster = startCluster();
  process.env.STRONGBOX_TEST_PG_DIR = cluster.dir;
  return async () => {
    rmSync(scratch, { recursive: true, force: true });
    await cluster.stop();
  };
}
