/**
 * Error extractors for tests: the StoreError code (or a description of what
 * else was thrown) a call ends with, or the StoreError itself.
 */
import { StoreError } from '../../src/errors.js';

/** The code of the StoreError `fn` throws; a `not a StoreError: …` text for anything else; undefined if nothing is thrown. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof StoreError ? e.code : `not a StoreError: ${String(e)}`;
  }
  return undefined;
}

/** As `codeOf`, for an async call. */
export async function codeOfAsync(p: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await p();
  } catch (e) {
    return e instanceof StoreError ? e.code : `not a StoreError: ${String(e)}`;
  }
  return undefined;
}

/** The StoreError `fn` throws; anything else thrown is rethrown, and throwing nothing fails. */
export function errorOf(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error('expected a StoreError, nothing was thrown');
}

/** As `errorOf`, for an async call. */
export async function errorOfAsync(p: () => Promise<unknown>): Promise<StoreError> {
  try {
    await p();
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error('expected a StoreError, nothing was thrown');
}

/** The code of the StoreError `p` rejects with; anything else is rethrown, and resolving fails. */
export async function rejectionCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    throw e;
  }
  throw new Error('expected a StoreError, the call succeeded');
}

/** The StoreError `p` rejects with; anything else is rethrown, and resolving fails. */
export async function rejectionError(p: Promise<unknown>): Promise<StoreError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StoreError) return e;
    throw e;
  }
  throw new Error('expected a StoreError, the call succeeded');
}
