/**
 * `--generate [--length N] [--charset SET]`: a new random value instead of
 * one given, for `store set` and `store rotate`. The value is never printed:
 * a terminal's scrollback and a CI log keep what a command prints, and
 * `store get` (or `store get --clip`) reads it back when it is wanted.
 */
import { Option, type Command } from 'commander';
import { StoreError } from '../errors.js';
import { CHARSETS, generateValue, MAX_LENGTH, MIN_LENGTH, SYMBOL_PUNCTUATION, type Charset } from '../crypto/generate.js';
import { wholeNumber } from './context.js';

export const DEFAULT_LENGTH = 32;
export const DEFAULT_CHARSET: Charset = 'alnum';

export interface GenerateOptions {
  generate?: boolean;
  length?: number;
  charset?: Charset;
}

/** What was generated, for the command's output (never the value). */
export interface Generated {
  length: number;
  charset: Charset;
}

function length(text: string): number {
  const n = wholeNumber('--length', MIN_LENGTH)(text);
  if (n > MAX_LENGTH) throw new StoreError('E_USAGE', `--length takes ${MIN_LENGTH}..${MAX_LENGTH}, not ${n}`);
  return n;
}

/** Add the three options to `cmd` (choices, so shell completion offers the charsets). */
export function addGenerateOptions(cmd: Command): Command {
  return cmd
    .option('--generate', 'generate a random value (never printed: read it with store get)')
    .option('--length <n>', `length of a generated value (${MIN_LENGTH}..${MAX_LENGTH}, default ${DEFAULT_LENGTH})`, length)
    .addOption(new Option('--charset <set>', `characters of a generated value (default ${DEFAULT_CHARSET}; symbols: alnum and ${SYMBOL_PUNCTUATION})`)
      .choices(Object.keys(CHARSETS)));
}

/**
 * The length and charset to generate with, or undefined without --generate.
 * `exclusive` names the options given that shape a value given (--file,
 * --value, --trim-newline): with --generate they would be ignored, and a
 * value silently ignored is a worse surprise than a usage error.
 * @throws StoreError E_USAGE
 */
export function generatePlan(opts: GenerateOptions, exclusive: string[]): Generated | undefined {
  if (!opts.generate) {
    if (opts.length !== undefined || opts.charset !== undefined) throw new StoreError('E_USAGE', '--length and --charset go with --generate');
    return undefined;
  }
  if (exclusive.length > 0) throw new StoreError('E_USAGE', `--generate makes the value, so it goes without ${exclusive.join(' and ')}`);
  return { length: opts.length ?? DEFAULT_LENGTH, charset: opts.charset ?? DEFAULT_CHARSET };
}

/** A new value as bytes (the caller zeroes them once stored). */
export function generateBytes(plan: Generated): Uint8Array {
  return new TextEncoder().encode(generateValue(plan.length, plan.charset));
}
