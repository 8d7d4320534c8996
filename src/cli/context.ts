/** What every command needs: global options, the store, printing. */
import type { Command } from 'commander';
import { openStore } from '../store/open.js';
import { defaultStorePath } from '../store/paths.js';
import type { Store } from '../store/store.js';
import { StoreError } from '../errors.js';
import { line, type Io } from './io.js';
import { sourceForOpen, type MasterOptions } from './master.js';

export interface GlobalOptions extends MasterOptions {
  store: string;
  debug: boolean;
}

export class Context {
  /** A command whose result is an exit status of its own (store run: the child's) sets it here. */
  exitStatus: number | undefined;

  constructor(readonly io: Io) {}

  /** Global options; flags win over environment variables. */
  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals() as Partial<GlobalOptions>;
    const env = this.io.env;
    return {
      store: o.store ?? defaultStorePath(env),
      keyfile: o.keyfile ?? (env.STORE_KEYFILE || undefined),
      passphraseFile: o.passphraseFile ?? (env.STORE_PASSPHRASE_FILE || undefined),
      module: o.module ?? (env.STORE_PKCS11_MODULE || undefined),
      pinFile: o.pinFile ?? (env.STORE_PKCS11_PIN_FILE || undefined),
      tokenLabel: o.tokenLabel,
      keyLabel: o.keyLabel,
      debug: Boolean(o.debug),
    };
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

  json(value: unknown): Promise<void> {
    return line(this.io.stdout, JSON.stringify(value, null, 2));
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
    if (!Number.isSafeInteger(n) || n < min) throw new StoreError('E_USAGE', `${option} takes a whole number from ${min} up, not "${text}"`);
    return n;
  };
}

/** Parse "1,2,5" into version numbers. */
export function versionList(text: string): number[] {
  return text.split(',').map((part) => wholeNumber('--versions', 1)(part.trim()));
}

/** Render rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(header), ...rows.map(fmt)].join('\n');
}
