/**
 * better-sqlite3, loaded for a fast start: through `require` (an ESM import
 * of a CommonJS package makes Node build a wrapper, ~10 ms) and with its
 * native addon named directly (the `bindings` package otherwise probes many
 * paths). A short CLI command is dominated by start-up, so this matters.
 */
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

const load = createRequire(import.meta.url);

export const Database = load('better-sqlite3') as typeof BetterSqlite3;
export type Database = BetterSqlite3.Database;
export type Statement = BetterSqlite3.Statement;

let addonPath: string | null | undefined;

/** The addon's path to pass as `nativeBinding`, or undefined to let better-sqlite3 search for it. */
export function nativeBinding(): string | undefined {
  if (addonPath === undefined) {
    try {
      addonPath = load.resolve('better-sqlite3/build/Release/better_sqlite3.node');
    } catch {
      addonPath = null; // an unusual install layout: better-sqlite3's own search finds it
    }
  }
  return addonPath ?? undefined;
}
