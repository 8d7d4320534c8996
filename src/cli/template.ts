/**
 * The `{{ store:name }}` templates of `store inject`: the reference grammar,
 * its filters, and rendering.
 *
 *   {{ store:NAME[@VERSION] [| FILTER [ARG]]... }}
 *
 * A reference starts at `{{`, optional spaces or tabs, then `store:`; from
 * there to the next `}}` on the same line it must follow the grammar, or the
 * template is refused with its line and column. Any other `{{ … }}` is text
 * (templates often hold another tool's braces) and passes through untouched.
 *
 * The template is read as latin1 so offsets are byte offsets and any bytes
 * outside references pass through as they are. Values are bytes; filters
 * apply left to right, each taking the bytes the previous one gave.
 */
import { tryUtf8 } from '../crypto/bytes.js';
import { StoreError } from '../errors.js';
import { nameProblem } from '../store/names.js';
import type { Store } from '../store/store.js';

export type Filter =
  /** A JSON string literal, quotes included, as JSON.stringify gives it (UTF-8 values only). */
  | { kind: 'json' }
  /** Standard base64 (RFC 4648 §4) with padding. */
  | { kind: 'base64' }
  /** URL-safe base64 (RFC 4648 §5) without padding, as JWTs and JWKs use. */
  | { kind: 'base64url' }
  /** `width` spaces in front of every line after the first that is not empty. */
  | { kind: 'indent'; width: number }
  /** Spaces, tabs, CR and LF removed from both ends. */
  | { kind: 'trim' };

export interface TemplateRef {
  /** Byte offsets of the whole `{{ … }}` in the template. */
  start: number;
  end: number;
  /** 1-based, for messages. */
  line: number;
  column: number;
  name: string;
  version?: number;
  filters: Filter[];
}

/** The largest `indent` width: beyond any config file's nesting, small enough to stay a typo check. */
export const MAX_INDENT = 100;

export const FILTER_SUMMARY = 'json, base64, base64url, indent N (0..100), trim';

const START = /\{\{[ \t]*store:/g;
const NAME = /^[A-Za-z0-9._/-]+/;

/** A filter name as it may appear in a message: a short word, else not shown (it may be anything). */
function shownWord(word: string): string {
  return /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(word) ? ` "${word}"` : '';
}

function parseFilter(segment: string, fail: (problem: string) => StoreError): Filter {
  const words = segment.trim().split(/[ \t]+/);
  const [word, ...args] = words;
  if (!word) throw fail(`nothing follows a |; give a filter (${FILTER_SUMMARY})`);
  const noArgs = (kind: 'json' | 'base64' | 'base64url' | 'trim'): Filter => {
    if (args.length > 0) throw fail(`the ${kind} filter takes no argument`);
    return { kind };
  };
  switch (word) {
    case 'json':
    case 'base64':
    case 'base64url':
    case 'trim':
      return noArgs(word);
    case 'indent': {
      const arg = args[0];
      if (args.length !== 1 || !/^[0-9]{1,3}$/.test(arg!) || Number(arg) > MAX_INDENT) {
        throw fail(`the indent filter takes one whole number of spaces, 0 to ${MAX_INDENT} (as in | indent 4)`);
      }
      return { kind: 'indent', width: Number(arg) };
    }
    default:
      throw fail(`unknown filter${shownWord(word)} (the filters are ${FILTER_SUMMARY})`);
  }
}

/**
 * Every reference in a template, checked against the grammar. Nothing is
 * looked up: a template that does not parse is refused before the store is opened.
 * @throws StoreError E_USAGE naming the line and column (never quoting the reference: it may hold anything)
 */
export function parseTemplate(template: Buffer): TemplateRef[] {
  const text = template.toString('latin1');
  const refs: TemplateRef[] = [];
  let line = 1;
  let lineStart = 0;
  let scanned = 0;
  for (const m of text.matchAll(START)) {
    if (m.index < scanned) continue; // inside the previous reference
    for (let i = text.indexOf('\n', scanned); i !== -1 && i < m.index; i = text.indexOf('\n', i + 1)) {
      line++;
      lineStart = i + 1;
    }
    const column = m.index - lineStart + 1;
    const fail = (problem: string): StoreError =>
      new StoreError('E_USAGE', `template line ${line}, column ${column}: ${problem}; nothing was written`, [
        'a reference is {{ store:NAME }}, {{ store:NAME@VERSION }}, optionally with filters: {{ store:NAME | base64 | json }}',
      ]);
    const innerStart = m.index + m[0].length;
    const close = text.indexOf('}}', innerStart);
    const eol = text.indexOf('\n', innerStart);
    if (close === -1 || (eol !== -1 && eol < close)) throw fail('a {{ store: reference is not closed with }} on its line');
    const inner = text.slice(innerStart, close);
    const name = NAME.exec(inner)?.[0];
    if (name === undefined) throw fail('store: is not followed by a secret name (letters, digits and . _ / -)');
    const problem = nameProblem(name);
    if (problem) throw fail(`invalid secret name "${name}": ${problem}`);
    let rest = inner.slice(name.length);
    const ref: TemplateRef = { start: m.index, end: close + 2, line, column, name, filters: [] };
    if (rest.startsWith('@')) {
      const v = /^@([0-9]+)/.exec(rest);
      const n = v ? Number(v[1]) : NaN;
      if (!v || !Number.isSafeInteger(n) || n < 1) throw fail(`@ after ${name} must be followed by a version number from 1 up`);
      ref.version = n;
      rest = rest.slice(v![0].length);
    }
    const [beforeFilters, ...segments] = rest.split('|');
    if (beforeFilters!.trim() !== '') throw fail(`unexpected text after ${name}${ref.version ? `@${ref.version}` : ''}; filters follow a | (as in | json)`);
    ref.filters = segments.map((s) => parseFilter(s, fail));
    refs.push(ref);
    scanned = ref.end;
  }
  return refs;
}

/** The reference as a message may show it (names and versions are not secret; filters add nothing). */
function describe(r: TemplateRef): string {
  return `{{ store:${r.name}${r.version !== undefined ? `@${r.version}` : ''} }} (template line ${r.line})`;
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

function indented(value: Buffer, width: number): Buffer {
  if (width === 0) return Buffer.from(value);
  const pad = Buffer.alloc(width, 0x20);
  const parts: Buffer[] = [];
  let at = 0;
  for (let nl = value.indexOf(0x0a); nl !== -1; nl = value.indexOf(0x0a, nl + 1)) {
    parts.push(value.subarray(at, nl + 1));
    at = nl + 1;
    // An empty line (nothing, or only the CR of a CRLF) or the end gets no spaces: no trailing whitespace is made.
    const next = value[at];
    const emptyLine = next === undefined || next === 0x0a || (next === 0x0d && (value[at + 1] === 0x0a || at + 1 === value.length));
    if (!emptyLine) parts.push(pad);
  }
  parts.push(value.subarray(at));
  return Buffer.concat(parts);
}

/**
 * One filter over `value`, as a new buffer (the caller wipes both).
 * @throws StoreError E_INVALID_VALUE when json meets bytes that are not UTF-8
 */
export function applyFilter(value: Buffer, filter: Filter, where: string): Buffer {
  switch (filter.kind) {
    case 'json': {
      const text = tryUtf8(value);
      if (text === undefined) {
        throw new StoreError('E_INVALID_VALUE', `${where}: the value is not UTF-8 text, so the json filter cannot quote it; nothing was written`, [
          'encode it first: | base64 | json',
        ]);
      }
      return Buffer.from(JSON.stringify(text), 'utf8');
    }
    case 'base64':
      return Buffer.from(value.toString('base64'), 'latin1');
    case 'base64url':
      return Buffer.from(value.toString('base64url'), 'latin1');
    case 'trim': {
      let a = 0;
      let b = value.length;
      while (a < b && WHITESPACE.has(value[a]!)) a++;
      while (b > a && WHITESPACE.has(value[b - 1]!)) b--;
      return Buffer.from(value.subarray(a, b));
    }
    case 'indent':
      return indented(value, filter.width);
  }
}

/** `value` through every filter in turn; intermediate buffers are wiped. The caller owns (and wipes) the result. */
export function applyFilters(value: Buffer, filters: readonly Filter[], where: string): Buffer {
  let out: Buffer = Buffer.from(value);
  for (const f of filters) {
    try {
      const next = applyFilter(out, f, where);
      out.fill(0);
      out = next;
    } catch (e) {
      out.fill(0);
      throw e;
    }
  }
  return out;
}

/**
 * Render a parsed template: every reference is resolved and filtered first
 * (a missing, deleted or destroyed one, or a filter that cannot take its
 * value, throws naming it), then the bytes are joined. The caller owns the
 * returned buffer (it holds secrets: fill(0) after use).
 */
export async function renderTemplate(store: Store, template: Buffer, refs: readonly TemplateRef[] = parseTemplate(template)): Promise<Buffer> {
  const values = new Map<string, Buffer>();
  const key = (r: TemplateRef) => `${r.name}@${r.version ?? ''}`;
  const rendered: Buffer[] = [];
  try {
    for (const r of refs) {
      if (values.has(key(r))) continue;
      let s;
      try {
        s = await store.get(r.name, { version: r.version });
      } catch (e) {
        if (e instanceof StoreError) throw new StoreError(e.code, `template reference ${describe(r)}: ${e.message}; nothing was written`, e.hints);
        throw e;
      }
      values.set(key(r), Buffer.from(s.value.expose()));
      s.value.wipe();
    }
    for (const r of refs) rendered.push(applyFilters(values.get(key(r))!, r.filters, `template reference ${describe(r)}`));
    const parts: Buffer[] = [];
    let at = 0;
    refs.forEach((r, i) => {
      parts.push(template.subarray(at, r.start), rendered[i]!);
      at = r.end;
    });
    parts.push(template.subarray(at));
    return Buffer.concat(parts);
  } finally {
    for (const b of values.values()) b.fill(0);
    for (const b of rendered) b.fill(0);
  }
}
