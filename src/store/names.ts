/** Secret names: 1–256 chars of [A-Za-z0-9._/-], no leading or trailing '/', no empty, '.' or '..' segment. */
import { StoreError } from '../errors.js';

export const MAX_NAME_LENGTH = 256;
const NAME_CHARS = /^[A-Za-z0-9._/-]+$/;
/** The whole rule in one expression: segments of allowed chars, none '.' or '..', joined by '/'. */
const VALID_NAME = /^(?!\.\.?(?:\/|$))(?:[A-Za-z0-9._-]+)(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*$/;

/** Why `name` is not a valid secret name, or undefined when it is. */
export function nameProblem(name: unknown): string | undefined {
  // Fast path: checked on every get and put.
  if (typeof name === 'string' && name.length <= MAX_NAME_LENGTH && VALID_NAME.test(name)) return undefined;
  if (typeof name !== 'string') return 'a name must be a string';
  if (name.length === 0) return 'a name must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `a name is at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  if (!NAME_CHARS.test(name)) return 'a name may hold only letters, digits and . _ / -';
  if (name.startsWith('/') || name.endsWith('/')) return "a name must not start or end with '/'";
  for (const seg of name.split('/')) {
    if (seg === '') return "a name must not hold an empty segment ('//')";
    if (seg === '.' || seg === '..') return "a name must not hold a '.' or '..' segment";
  }
  return 'a name breaks the naming rules';
}

/**
 * How a text the caller gave as a name may appear in a message: quoted
 * (` "text"`) when short and printable, else nothing. Never when it holds
 * '=': `store set FOO=bar` is the NAME=value habit of other tools, and the
 * part after '=' is then a value.
 */
export function quotedIfSafe(text: unknown, max = 64): string {
  if (typeof text !== 'string' || text.length > max || !/^[\x21-\x7e]*$/.test(text) || text.includes('=')) return '';
  return ` "${text}"`;
}

/** The hint for a name that holds '=': values come from elsewhere. */
export const VALUE_NOT_IN_NAME_HINT = 'a value never goes in the name (as NAME=value): give it on stdin or with --file, e.g. printf %s "$VALUE" | store set NAME';

/** @throws StoreError E_INVALID_NAME */
export function checkName(name: unknown): string {
  const problem = nameProblem(name);
  if (problem) {
    // The name is not secret, but a wrong one may be a value typed in the wrong
    // place: quote it only when it is short, printable and holds no '='.
    if (typeof name === 'string' && name.includes('=')) {
      throw new StoreError('E_INVALID_NAME', `invalid secret name (not shown: it holds '=', so part of it may be a value): ${problem}`, [VALUE_NOT_IN_NAME_HINT]);
    }
    throw new StoreError('E_INVALID_NAME', `invalid secret name${quotedIfSafe(name)}: ${problem}`);
  }
  return name as string;
}

export interface NamePattern {
  /** Every match starts with this literal prefix (lets the store read a key range). */
  prefix: string;
  /** Undefined for a plain prefix: every name under the prefix matches. */
  test?: (name: string) => boolean;
}

/**
 * A list pattern: a glob when it holds * ? or [, else a name prefix. As in a
 * shell, `*` and `?` stay within one segment (they never match '/'); `**`
 * crosses segments; `[abc]`, `[a-z]`, `[!a]` are character classes.
 */
export function namePattern(pattern: string): NamePattern {
  const first = pattern.search(/[*?[]/);
  if (first < 0) return { prefix: pattern };
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new StoreError('E_USAGE', `unclosed [ in pattern${quotedIfSafe(pattern, 256)}`);
      const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/[\\\]]/g, '\\$&');
      re += `[${body}]`;
      i = end;
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${re}$`);
  return { prefix: pattern.slice(0, first), test: (name) => regex.test(name) };
}
