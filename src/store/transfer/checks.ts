/** Checks of export and import options, how names appear in messages (never values), and the looks at Ctrl-C. */
import { StoreError } from '../../errors.js';
import { CONFLICT_POLICIES, type ConflictPolicy } from './types.js';

export function usage(message: string, hints: string[] = []): StoreError {
  return new StoreError('E_USAGE', message, hints);
}

/** A name as it may appear in a message: quoted when short and printable (it may be a misplaced value). */
export function shown(name: string, where?: string): string {
  if (name.length > 0 && name.length <= 64 && /^[\x21-\x7e]*$/.test(name) && !name.includes('=')) return `"${name}"`;
  return where ?? `a name of ${name.length} characters`;
}

export function checkPolicy(p: ConflictPolicy | undefined): ConflictPolicy {
  const policy = p ?? 'skip';
  if (!CONFLICT_POLICIES.includes(policy)) throw usage(`onConflict must be one of ${CONFLICT_POLICIES.join(', ')}, not "${String(p)}"`);
  return policy;
}

export function checkPrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string' || prefix.length > 256) throw usage('a prefix must be a string of at most 256 characters');
  return prefix;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records between two looks at the abort signal in a long export or import (a look costs two turns of the event loop). */
export const RECORDS_BETWEEN_LOOKS = 256;

/**
 * Let pending events run (a Ctrl-C handler among them: a signal that came
 * during synchronous work waits for the event loop's poll, which lies between
 * two turns of setImmediate), then throw `stopped()` if `signal` was aborted.
 */
export async function stopIfAborted(signal: AbortSignal | undefined, stopped: () => StoreError): Promise<void> {
  if (!signal) return;
  await yieldToEventLoop();
  await yieldToEventLoop();
  if (signal.aborted) throw stopped();
}

/** An export stopped by its abort signal: its temp file is removed, and nothing has the name asked for. */
export function exportInterrupted(path: string): StoreError {
  return new StoreError('E_INTERRUPTED', `the export to ${path} was interrupted: nothing was written`, ['run it again: it starts from the beginning']);
}

/** Time between two looks at most, whatever the records' size: a few large values take as long as many small ones. */
export const MS_BETWEEN_LOOKS = 100;

/**
 * Called before each record of an export: every RECORDS_BETWEEN_LOOKS calls,
 * or once MS_BETWEEN_LOOKS have passed since the last look, it stops the
 * export if its signal was aborted.
 */
export type Look = () => Promise<void> | undefined;

export function looker(signal: AbortSignal | undefined, path: string): Look {
  let n = 0;
  let last = performance.now();
  return () => {
    if (!signal) return undefined;
    if (++n % RECORDS_BETWEEN_LOOKS !== 0 && performance.now() - last < MS_BETWEEN_LOOKS) return undefined;
    last = performance.now();
    return stopIfAborted(signal, () => exportInterrupted(path));
  };
}
