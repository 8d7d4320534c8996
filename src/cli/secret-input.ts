/**
 * Reading a secret the CLI is given: a passphrase, a PIN, an export
 * passphrase. From a file, an environment variable, or a no-echo prompt on
 * the terminal (asked twice when it is being set): never from argv.
 */
import { readFileSync } from 'node:fs';
import { StoreError } from '../errors.js';
import { promptHidden } from './prompt.js';
import { masterKeyNotGiven } from '../crypto/master/master-key.js';

/** Drop one trailing newline (and a CR before it): what `echo` and editors add to a file. */
export function stripNewline(b: Uint8Array): Uint8Array {
  let end = b.length;
  if (end > 0 && b[end - 1] === 0x0a) end--;
  if (end > 0 && b[end - 1] === 0x0d) end--;
  return b.subarray(0, end);
}

export interface SecretSource {
  /** What it is, for messages and the prompt: "passphrase", "PKCS#11 PIN". */
  what: string;
  file?: string;
  /** The environment variable's value, if set. */
  fromEnv?: string;
  /** How to give it when none was: hints for the error. */
  hints: string[];
  /** Never ask on the terminal (see promptsForbidden): no file and no variable is then E_MASTER_KEY at once. */
  noPrompt?: boolean;
}

/**
 * STORE_NO_PROMPT=1 (any value but empty or 0): never ask on the terminal.
 * For callers that must not block on a person, like shell completion.
 */
export function promptsForbidden(env: Record<string, string | undefined>): boolean {
  const v = env.STORE_NO_PROMPT;
  return v !== undefined && v !== '' && v !== '0';
}

/** @throws StoreError E_MASTER_KEY when none is given or the file cannot be read; E_USAGE when the two prompts differ */
export async function readSecretInput(src: SecretSource, confirm: boolean): Promise<Uint8Array> {
  if (src.file) {
    try {
      return stripNewline(new Uint8Array(readFileSync(src.file)));
    } catch (e) {
      throw new StoreError('E_MASTER_KEY', `cannot read ${src.what} file ${src.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (src.fromEnv) return new TextEncoder().encode(src.fromEnv);
  if (src.noPrompt) throw masterKeyNotGiven(`no ${src.what} given (STORE_NO_PROMPT is set, so none was asked for)`, src.hints);
  const label = src.what[0]!.toUpperCase() + src.what.slice(1);
  const first = await promptHidden(`${label}: `);
  if (!first) throw masterKeyNotGiven(`no ${src.what} given`, src.hints);
  if (confirm) {
    const again = await promptHidden(`${label} again: `);
    const same = again !== undefined && Buffer.from(first).equals(Buffer.from(again));
    again?.fill(0);
    if (!same) {
      first.fill(0);
      throw new StoreError('E_USAGE', `the ${src.what}s do not match`);
    }
  }
  return first;
}
