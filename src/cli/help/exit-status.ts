/**
 * The exit statuses as people read them: the `--help` footer and the man
 * page's EXIT STATUS are both made from this, and it from exit-codes.ts, so
 * a status added there cannot be left out of either (the compiler asks for
 * its meaning). README.md's table is checked against it by a test.
 */
import type { ErrorCode } from '../../errors.js';
import { EXIT, EXIT_FOR } from '../exit-codes.js';

type ExitName = keyof typeof EXIT;

const MEANING: Record<ExitName, string> = {
  ok: 'ok',
  generic: 'the command failed otherwise (file system, internal error)',
  usage: 'usage error or invalid input',
  notFound: 'not found, deleted or destroyed',
  cas: 'check-and-set conflict',
  key: 'wrong master key or PIN, or tampered data',
  masterKey: 'master key missing or unusable, or the unlock agent unusable',
  store: 'no store, not a store, or written by a newer version',
  found: 'check, due or doctor (or stats --verify-audit) found something to act on',
  locked: 'locked by another process: try again',
  interrupted: 'stopped by Ctrl-C at a safe point, saying what was done',
};

export interface ExitStatusRow {
  status: number;
  /** The error codes that end with this status (none for 0 and 10). */
  codes: ErrorCode[];
  meaning: string;
}

/** Every exit status, lowest first. */
export function exitStatuses(): ExitStatusRow[] {
  return (Object.keys(EXIT) as ExitName[])
    .map((name) => ({
      status: EXIT[name],
      codes: (Object.keys(EXIT_FOR) as ErrorCode[]).filter((code) => EXIT_FOR[code] === EXIT[name]),
      meaning: MEANING[name],
    }))
    .sort((a, b) => a.status - b.status);
}

/** "Exit status: 0 ok, 1 …" wrapped to `width` columns, for the end of `store --help`. */
export function exitStatusFooter(width = 80): string {
  const items = exitStatuses().map((row, i, all) => `${row.status} ${row.meaning}${i < all.length - 1 ? ';' : '.'}`);
  const lines: string[] = [];
  let current = 'Exit status:';
  for (const item of items) {
    if (current.length + 1 + item.length > width) {
      lines.push(current);
      current = item;
    } else current += ` ${item}`;
  }
  lines.push(current);
  return lines.join('\n');
}
