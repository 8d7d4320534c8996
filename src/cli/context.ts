/** What every command needs: global options, the store, printing. */
import type { Command } from 'commander';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { StoreError } from '../errors.js';
import { notShown } from './error-report.js';
import { line, write, type Io } from './io.js';
import { jsonLine, stamped } from './json-output.js';
import { sourceForOpen, type MasterOptions } from './master.js';
import { profilesPath, readProfiles, type ProfilesFile } from './profiles.js';
import { resolveSettings, type Resolved, type Settings } from './settings.js';

export interface GlobalOptions extends MasterOptions, Settings {
  debug: boolean;
}

export class Context {
  /** A command whose result is an exit status of its own (store run: the child's) sets it here. */
  exitStatus: number | undefined;

  #profiles: { file: ProfilesFile | undefined } | undefined;

  constructor(readonly io: Io) {}

  /** The profiles file, read once per run (undefined when there is none). */
  profilesFile(): ProfilesFile | undefined {
    this.#profiles ??= { file: readProfiles(this.io.env) };
    return this.#profiles.file;
  }

  /** Every setting with where it came from: flag, then environment, then profile, then default. */
  resolve(cmd: Command): Resolved {
    const o = cmd.optsWithGlobals() as Partial<Settings> & { profile?: string };
    const flags = {
      profile: o.profile, store: o.store, master: o.master, keyfile: o.keyfile, passphraseFile: o.passphraseFile,
      module: o.module, pinFile: o.pinFile, tokenLabel: o.tokenLabel, keyLabel: o.keyLabel,
    };
    return resolveSettings(flags, this.io.env, this.profilesFile(), profilesPath(this.io.env));
  }

  /** Global options, as resolved by `resolve`. */
  globals(cmd: Command): GlobalOptions {
    return { ...this.resolve(cmd).settings, debug: Boolean(cmd.optsWithGlobals<{ debug?: boolean }>().debug) };
  }

  /** Open the store named by the global options, run `fn`, always close. */
  async withStore<T>(cmd: Command, fn: (store: Store) => Promise<T>): Promise<T> {
    const g = this.globals(cmd);
    const store = await openStore(g.store, sourceForOpen(g, this.io));
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  /** Data (a secret, a list, a history) as one line of JSON, in the shape it has. */
  json(value: unknown): Promise<void> {
    return write(this.io.stdout, jsonLine(value));
  }

  /** An operation's report as one line of JSON, stamped with `time` for logs (see json-output.ts). */
  report(value: object): Promise<void> {
    return write(this.io.stdout, jsonLine(stamped(value)));
  }

  out(text: string): Promise<void> {
    return line(this.io.stdout, text);
  }

  /** A note for people (stderr), kept off stdout so pipes get data only. */
  note(text: string): Promise<void> {
    return line(this.io.stderr, `store: ${text}`);
  }
}

/** Parse a whole number option, or fail as a usage error naming the option. */
export function wholeNumber(option: string, min = 0): (text: string) => number {
  return (text: string) => {
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new StoreError('E_USAGE', `${option} takes a whole number from ${min} up${notShown(text)}`);
    return n;
  };
}

/** Parse "1,2,5" into version numbers. */
export function versionList(text: string): number[] {
  return text.split(',').map((part) => wholeNumber('--versions', 1)(part.trim()));
}

/** Render rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = columnWidths(header);
  for (const r of rows) widenColumns(widths, r);
  const lines = [tableLine(header, widths)];
  for (const r of rows) lines.push(tableLine(r, widths));
  return lines.join('\n');
}

/**
 * The widths of `table`'s columns before any row: its header's. Widened row by
 * row (widenColumns), in a loop: never Math.max(...rows), whose spread of
 * every row overflows the stack beyond ~120k rows.
 */
export function columnWidths(header: string[]): number[] {
  return header.map((h) => h.length);
}

/** Make each column at least as wide as this row's cell in it. */
export function widenColumns(widths: number[], row: string[]): void {
  for (let i = 0; i < widths.length; i++) {
    const n = (row[i] ?? '').length;
    if (n > widths[i]!) widths[i] = n;
  }
}

/** One line of a table whose column widths are `widths` (no newline; the last cell is not padded). */
export function tableLine(row: string[], widths: number[]): string {
  return row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
}
