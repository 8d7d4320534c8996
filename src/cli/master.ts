/**
 * Which master key the CLI uses: flags first, then environment variables,
 * then (for a passphrase) a prompt on the terminal. Never argv for secrets.
 */
import { readFileSync } from 'node:fs';
import { StoreError } from '../errors.js';
import { masterFamily, type MasterKeySource, type MasterKind, type MasterParams } from '../crypto/master.js';
import { passphrase } from '../crypto/providers/passphrase.js';
import { keyFile } from '../crypto/providers/keyfile.js';
import { envKey } from '../crypto/providers/raw-key.js';
import type { Io } from './io.js';
import { promptHidden } from './prompt.js';

export interface MasterOptions {
  keyfile?: string;
  passphraseFile?: string;
  /** scrypt cost for a new passphrase store (log2 N). */
  scryptLogN?: number;
}

function missing(message: string, hints: string[]): StoreError {
  return new StoreError('E_MASTER_KEY', message, hints);
}

function stripNewline(b: Uint8Array): Uint8Array {
  let end = b.length;
  if (end > 0 && b[end - 1] === 0x0a) end--;
  if (end > 0 && b[end - 1] === 0x0d) end--;
  return b.subarray(0, end);
}

async function readPassphrase(opts: MasterOptions, io: Io, confirm: boolean): Promise<Uint8Array> {
  if (opts.passphraseFile) {
    try {
      return stripNewline(new Uint8Array(readFileSync(opts.passphraseFile)));
    } catch (e) {
      throw missing(`cannot read passphrase file ${opts.passphraseFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, []);
    }
  }
  if (io.env.STORE_PASSPHRASE) return new TextEncoder().encode(io.env.STORE_PASSPHRASE);
  const first = await promptHidden('Passphrase: ');
  if (!first) {
    throw missing('no passphrase given', ['use --passphrase-file FILE or STORE_PASSPHRASE, or run on a terminal to be asked']);
  }
  if (confirm) {
    const again = await promptHidden('Passphrase again: ');
    const same = again !== undefined && Buffer.from(first).equals(Buffer.from(again));
    again?.fill(0);
    if (!same) {
      first.fill(0);
      throw new StoreError('E_USAGE', 'the passphrases do not match');
    }
  }
  return first;
}

async function passphraseSource(opts: MasterOptions, io: Io, creating: boolean): Promise<MasterKeySource> {
  const pw = await readPassphrase(opts, io, creating);
  try {
    return passphrase(pw, opts.scryptLogN !== undefined ? { scrypt: { logN: opts.scryptLogN } } : {});
  } finally {
    pw.fill(0); // passphrase() keeps its own copy, wiped once the key is derived
  }
}

function keySource(opts: MasterOptions, io: Io, creating: boolean): MasterKeySource {
  if (opts.keyfile) return keyFile(opts.keyfile, { create: creating });
  if (io.env.STORE_MASTER_KEY) return envKey('STORE_MASTER_KEY', io.env);
  throw missing('no master key given', ['use --keyfile FILE (or STORE_KEYFILE), or set STORE_MASTER_KEY']);
}

/** The source for `store init --master KIND`. */
export async function sourceForInit(kind: MasterKind, opts: MasterOptions, io: Io): Promise<MasterKeySource> {
  switch (kind) {
    case 'passphrase':
      return passphraseSource(opts, io, true);
    case 'keyfile':
      if (!opts.keyfile) throw new StoreError('E_USAGE', '--master keyfile needs --keyfile PATH (created 0600 if absent)');
      return keyFile(opts.keyfile, { create: true });
    case 'env':
      return envKey('STORE_MASTER_KEY', io.env);
    default:
      throw new StoreError('E_USAGE', `unknown master key kind "${kind}"; choose passphrase, keyfile or env`);
  }
}

/** The kind `store init` uses when --master is not given. */
export function defaultInitKind(opts: MasterOptions, io: Io): MasterKind {
  if (opts.keyfile) return 'keyfile';
  if (io.env.STORE_MASTER_KEY) return 'env';
  return 'passphrase';
}

/** A chooser for openStore: the source matching the kind the store was made with. */
export function sourceForOpen(opts: MasterOptions, io: Io): (params: MasterParams) => Promise<MasterKeySource> {
  return async (params) => {
    if (masterFamily(params.kind) === 'passphrase') return passphraseSource(opts, io, false);
    return keySource(opts, io, false);
  };
}
