/**
 * Temp files beside a backup or a store, and what a killed run leaves of
 * them. `store backup` writes a full copy of the store as
 * `.<name>.backup-<host>-<pid>-<random>.tmp` beside the destination (restore
 * as `.<store>.restore-…` beside the store, migrate as `.<name>.migrate-…`
 * beside a new store file, export as `.<name>.export-…` beside its file, init as `.<name>.init-…`
 * beside the new store: init-target.ts; a new key file or age identity as
 * `.<name>.keyfile-…` / `.<name>.age-identity-…`: durable-file.ts) and
 * renames or links it into place; a run killed by SIGKILL, the OOM killer or a power cut leaves that
 * copy behind. The next run removes such leftovers from the directory,
 * sparing any a run in progress could own: the pid in the name is checked on
 * its own host, and a file of another host (or from before names carried a
 * pid) only goes once it is a day old.
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { nodeCrypto } from './node-crypto.js';
import { hostTag, isAlive } from './process.js';

export type TempLabel = 'backup' | 'restore' | 'migrate' | 'export' | 'init' | 'keyfile' | 'age-identity';

/** A file of another host, or with no pid in its name, is taken for a leftover only after this long untouched. */
export const FOREIGN_LEFTOVER_AGE_MS = 24 * 60 * 60 * 1000;

/** SQLite's companions of a temp copy, removed with it. */
const SIDE = '(?:-journal|-wal|-shm)?';

/** The name of a new temp file for `label` beside `near`, carrying this host and pid. */
export function tempNameBeside(near: string, label: TempLabel): string {
  const random = nodeCrypto().randomBytes(6).toString('hex');
  return join(dirname(near), `.${basename(near)}.${label}-${hostTag()}-${process.pid}-${random}.tmp`);
}

function patterns(label: TempLabel) {
  return {
    current: new RegExp(`^\\..+\\.${label}-([0-9a-f]{8})-([1-9][0-9]*)-[0-9a-f]{12}\\.tmp${SIDE}$`),
    legacy: new RegExp(`^\\..+\\.${label}-[0-9a-f]{12}\\.tmp${SIDE}$`),
  };
}

/** Whether the file `name` (in `dir`) is a leftover of a `label` run that cannot be in progress any more. */
function isLeftover(dir: string, name: string, label: TempLabel, now: number): boolean {
  const p = patterns(label);
  const m = p.current.exec(name);
  if (m && m[1] === hostTag()) return Number(m[2]) !== process.pid && !isAlive(Number(m[2]));
  if (!m && !p.legacy.test(name)) return false;
  try {
    const st = lstatSync(join(dir, name));
    return st.isFile() && now - st.mtimeMs > FOREIGN_LEFTOVER_AGE_MS;
  } catch {
    return false; // gone already: another run removed it
  }
}

/**
 * Remove the leftovers of killed `label` runs from `dir` (see the module
 * comment for which); best effort, silent. Returns the names removed.
 */
export function removeLeftovers(dir: string, label: TempLabel, now: number = Date.now()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!isLeftover(dir, name, label, now)) continue;
    try {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // not ours to insist on: the next run tries again
    }
  }
  return removed;
}
