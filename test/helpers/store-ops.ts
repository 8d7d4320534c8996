/**
 * Random histories for the store's property tests: secret names, a sequence
 * of operations on them (each test draws its own mix of operations and
 * values), applying them to a real store, and what a call ended with.
 */
import fc from 'fast-check';
import { nameProblem, StoreError, type Store } from '../../src/index.js';

const segment = fc.stringMatching(/^[A-Za-z0-9._-]{1,6}$/);
/** A valid secret name of one to three segments. */
export const nameArb = fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => s.join('/')).filter((n) => nameProblem(n) === undefined);

/** One operation on secret `name` (an index into the test's names); `dt`: ms the store's clock moves first. */
export type StoreOp = { name: number; dt?: number } & (
  | { op: 'put'; value: Uint8Array }
  | { op: 'delete' }
  | { op: 'undelete' }
  | { op: 'destroy'; pick: number }
  | { op: 'meta'; maxVersions: number; custom: Record<string, string> }
);

/**
 * Apply `ops` in order. Operations on names that do not exist yet are part of
 * the history; only those may fail (E_NOT_FOUND), anything else is a failure.
 */
export async function applyOps(store: Store, names: string[], ops: StoreOp[], advance?: (ms: number) => unknown): Promise<void> {
  for (const o of ops) {
    if (o.dt !== undefined) advance?.(o.dt);
    const name = names[o.name]!;
    try {
      if (o.op === 'put') await store.put(name, o.value, { allowEmpty: true });
      else if (o.op === 'delete') await store.delete(name);
      else if (o.op === 'undelete') await store.undelete(name);
      else if (o.op === 'meta') await store.setMetadata(name, { maxVersions: o.maxVersions, custom: o.custom });
      else {
        const h = await store.history(name);
        const v = h[o.pick % h.length]!;
        if (v.state !== 'destroyed') await store.destroy(name, [v.version]);
      }
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== 'E_NOT_FOUND') throw e;
    }
  }
}

/** What a call ended with, for assertions: 'ok', its error code, or the name of what was thrown instead. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof StoreError) return e.code;
    return `not a StoreError: ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}
