/**
 * Who asked, beyond the OS user: a server answering requests runs each one
 * inside `withAuditContext({ detail })`, and every audit entry appended
 * while it runs (in the same async flow) carries that description in its
 * detail, so the log says which client's request each read and change was
 * made for. The entry's actor stays the OS user and pid of the process.
 *
 * The context is kept in an AsyncLocalStorage, so concurrent requests each
 * see their own. An entry takes the context of the flow that made it when
 * it is made: an audited read's entry is committed later, by whichever read
 * started the shared commit (audit-batch.ts), and must keep its own request.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { StoreError } from '../errors.js';
import type { AuditEntry } from './audit.js';

/** The most characters of a context's detail kept in an entry (longer text is cut, ending in '…'). */
export const MAX_AUDIT_CONTEXT_CHARS = 512;

export interface AuditContext {
  /**
   * What the request was, e.g. `accessor=… remote=127.0.0.1 GET /v1/secret/data/app`.
   * Never a token, a secret-id, a password or a value: this text is stored in
   * the audit log as given (cut to MAX_AUDIT_CONTEXT_CHARS, control characters
   * escaped), and keeping secrets out of it is the caller's duty.
   */
  detail: string;
  /**
   * Counted up for each entry made in the context, so a server can tell a
   * request whose store operations logged it from one it must log itself.
   */
  recorded?: number;
}

/** The flow's request: its bounded detail, and the caller's context object (for its count). */
export interface AuditFlow {
  detail: string;
  ctx: AuditContext;
  /**
   * Handed over by handOverAuditContext: the caller started its requests
   * together (a server, once per turn of the event loop), so their entries
   * may share a commit made as soon as the microtasks under way have run.
   */
  handed?: true;
}

const current = new AsyncLocalStorage<AuditFlow | undefined>();

/** The context handOverAuditContext gives for the synchronous extent of its call. */
let handed: AuditFlow | undefined;

/**
 * Control characters (C0, DEL, C1) and the Unicode line and paragraph
 * separators, which would let a text given by a client fake a line of
 * `store audit`'s output.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * `text` as an audit detail may hold it: unprintable characters as `\xNN` or
 * `\uNNNN`, then at most `max` characters, never half a surrogate pair.
 */
export function boundedAuditText(text: string, max = MAX_AUDIT_CONTEXT_CHARS): string {
  const printable = text.replace(UNPRINTABLE, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
  if (printable.length <= max) return printable;
  let cut = max - 1;
  const last = printable.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--; // a high surrogate whose pair would be cut off
  return `${printable.slice(0, cut)}…`;
}

/**
 * Run `fn` with every audit entry it appends (directly or through anything
 * it awaits, reads included) describing `ctx.detail` as the request it was
 * made for. Nested contexts replace the outer one for their own extent; an
 * empty detail runs `fn` with no context.
 *
 * `ctx.detail` must never hold a token, a secret-id, a credential or a
 * value: it is written to the audit log, and filtering it is the caller's
 * duty (only unprintable characters are escaped, and the length is capped
 * at MAX_AUDIT_CONTEXT_CHARS).
 * @throws E_USAGE when `ctx.detail` is not a string or `fn` not a function
 */
export function withAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  if (typeof ctx !== 'object' || ctx === null || typeof ctx.detail !== 'string') {
    throw new StoreError('E_USAGE', 'withAuditContext takes { detail: string } and a function');
  }
  if (typeof fn !== 'function') throw new StoreError('E_USAGE', 'withAuditContext takes { detail: string } and a function');
  const detail = boundedAuditText(ctx.detail);
  return current.run(detail === '' ? undefined : { detail, ctx }, fn);
}

/**
 * Run `fn` with `ctx` as the request of the audited read it starts, without
 * AsyncLocalStorage: the context is given only for fn's synchronous part,
 * where the store's reads (get, getEntry, describe, history, list) take it
 * (capturedAuditContext), before their first await. A change (put, delete,
 * changeRecords…) appends its entry later, and would not see it: changes
 * need withAuditContext. For a server's hot path: once any
 * AsyncLocalStorage has been entered, Node 20 runs its hooks for every
 * promise the process makes from then on.
 * `ctx.detail` follows withAuditContext's rules.
 */
export function handOverAuditContext<T>(ctx: AuditContext, fn: () => T): T {
  const detail = boundedAuditText(ctx.detail);
  const outer = handed;
  handed = detail === '' ? undefined : { detail, ctx, handed: true };
  try {
    return fn();
  } finally {
    handed = outer;
  }
}

/** The request the current call runs for: handed over (handOverAuditContext) or the flow's (withAuditContext). */
export function capturedAuditContext(): AuditFlow | undefined {
  return handed ?? current.getStore();
}

/** The current flow's request description (already bounded), if it runs inside withAuditContext. */
export function currentAuditContext(): string | undefined {
  return capturedAuditContext()?.detail;
}

/**
 * `e` as the current flow's request (or `flow`, captured earlier) made it: its own detail followed by the
 * request's in square brackets (`app/* [GET /v1/…]`, or `[GET /v1/…]` for an
 * entry without a detail of its own). `e` itself when there is no context.
 */
export function inAuditContext(e: AuditEntry, flow: AuditFlow | undefined = capturedAuditContext()): AuditEntry {
  if (flow === undefined) return e;
  flow.ctx.recorded = (flow.ctx.recorded ?? 0) + 1;
  const request = flow.detail;
  return { ...e, detail: e.detail === undefined || e.detail === '' ? `[${request}]` : `${e.detail} [${request}]` };
}
