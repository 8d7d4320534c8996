/**
 * A fresh temporary directory per call, removed after the test that made it.
 *
 * Called inside a test, the directory is removed when that test finishes
 * (vitest `onTestFinished`). Called elsewhere (a `beforeAll`, module scope),
 * it is removed by `cleanupTempDirs()` (call it from `afterAll`) or, at the
 * latest, when the worker process exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

const pending = new Set<string>();
let exitHook = false;

function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  pending.delete(dir);
}

/** Remove every directory made outside a test and not yet removed. */
export function cleanupTempDirs(): void {
  for (const dir of [...pending]) remove(dir);
}

/** Make a new empty directory under os.tmpdir(). */
export function tempDir(prefix = 'strongbox-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    onTestFinished(() => remove(dir));
  } catch {
    // Not inside a running test: fall back to explicit or exit-time cleanup.
    pending.add(dir);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', cleanupTempDirs);
    }
  }
  return dir;
}
