/**
 * Format rules a secret's value can be checked against (`store check`): pem,
 * base64, base64url, hex, json, url and a minimum length. Each validator
 * returns why the value fails, or undefined when it passes. A reason says
 * what is wrong in general terms (a length, a byte offset) and never quotes
 * the value, since it is printed by the start script that checks it.
 */
import { tryUtf8 } from '../crypto/bytes.js';
import { StoreError } from '../errors.js';

export type FormatRule =
  | { kind: 'pem' | 'base64' | 'base64url' | 'hex' | 'json' | 'url' }
  | { kind: 'min'; bytes: number };

export const FORMAT_KINDS = ['pem', 'base64', 'base64url', 'hex', 'json', 'url', 'min=N'] as const;

/** A rule as written in a requirement: `pem`, `min=32`. */
export function ruleText(rule: FormatRule): string {
  return rule.kind === 'min' ? `min=${rule.bytes}` : rule.kind;
}

/** Parse one rule (`pem`, `min=32`). @throws StoreError E_USAGE naming the rule */
export function parseRule(text: string): FormatRule {
  const t = text.trim();
  const min = /^min=(\d+)$/.exec(t);
  if (min) {
    const bytes = Number(min[1]);
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new StoreError('E_USAGE', `min= takes a whole number of bytes from 1 up, not "${t.slice(4)}"`);
    return { kind: 'min', bytes };
  }
  if (t === 'pem' || t === 'base64' || t === 'base64url' || t === 'hex' || t === 'json' || t === 'url') return { kind: t };
  throw new StoreError('E_USAGE', `unknown format rule "${t}"; rules are ${FORMAT_KINDS.join(', ')}`);
}

/** Why `value` breaks `rule`, or undefined when it keeps it. */
export function formatProblem(rule: FormatRule, value: Uint8Array): string | undefined {
  switch (rule.kind) {
    case 'min':
      return value.length >= rule.bytes ? undefined : `too short (${value.length} bytes, needs at least ${rule.bytes})`;
    case 'pem':
      return prefixed('not PEM', pemProblem(value));
    case 'base64':
      return prefixed('not base64', exactText(value, (t) => base64Problem(t, false)));
    case 'base64url':
      return prefixed('not base64url', exactText(value, (t) => base64Problem(t, true)));
    case 'hex':
      return prefixed('not hex', exactText(value, hexProblem));
    case 'json':
      return prefixed('not JSON', jsonProblem(value));
    case 'url':
      return prefixed('not a URL', exactText(value, urlProblem));
  }
}

function prefixed(what: string, reason: string | undefined): string | undefined {
  return reason === undefined ? undefined : `${what} (${reason})`;
}

/**
 * Encodings read as exact text: no surrounding whitespace, since an app
 * decoding the value may not trim it. The usual culprit, a trailing newline
 * from `echo` or an editor, gets its own reason.
 */
function exactText(value: Uint8Array, check: (text: string) => string | undefined): string | undefined {
  const text = tryUtf8(value);
  if (text === undefined) return 'not valid UTF-8';
  if (text.length === 0) return 'empty';
  if (/^[^\s]*\r?\n$/.test(text)) return 'ends with a newline';
  if (text.trim() !== text) return 'has whitespace around it';
  return check(text);
}

/** The first offset in `text` (a byte offset: callers pass ASCII-checked text) whose char is not in `allowed`. */
function firstOutside(text: string, allowed: RegExp): number {
  for (let i = 0; i < text.length; i++) if (!allowed.test(text[i]!)) return i;
  return -1;
}

function base64Problem(text: string, urlSafe: boolean): string | undefined {
  const alphabet = urlSafe ? /[A-Za-z0-9_-]/ : /[A-Za-z0-9+/]/;
  const body = text.replace(/=+$/, '');
  const bad = firstOutside(body, alphabet);
  if (bad >= 0) {
    const other = urlSafe ? /[+/]/ : /[_-]/;
    if (other.test(body[bad]!)) return `character at offset ${bad} belongs to the ${urlSafe ? 'standard' : 'url-safe'} alphabet`;
    return body[bad] === '=' ? `padding inside the text at offset ${bad}` : `character at offset ${bad} is outside the alphabet`;
  }
  const padding = text.length - body.length;
  if (body.length % 4 === 1) return `${body.length} characters cannot be base64 (a length of 4n+1)`;
  // Standard base64 must be padded to a multiple of 4; base64url may leave the padding out.
  if (!urlSafe || padding > 0) {
    if (padding > 2 || (body.length + padding) % 4 !== 0) return 'wrong padding';
  }
  // Non-zero bits in the last character's unused low bits: not canonical; strict decoders refuse it.
  const encoding = urlSafe ? 'base64url' : 'base64';
  const bytes = Buffer.from(body, encoding);
  const canonical = bytes.toString(encoding).replace(/=+$/, '') === body;
  bytes.fill(0);
  return canonical ? undefined : 'non-zero bits after the last byte';
}

function hexProblem(text: string): string | undefined {
  const bad = firstOutside(text, /[0-9a-fA-F]/);
  if (bad >= 0) return `character at offset ${bad} is not a hex digit`;
  return text.length % 2 === 0 ? undefined : `odd number of hex digits (${text.length})`;
}

function jsonProblem(value: Uint8Array): string | undefined {
  const text = tryUtf8(value);
  if (text === undefined) return 'not valid UTF-8';
  try {
    JSON.parse(text);
    return undefined;
  } catch {
    return 'does not parse'; // JSON.parse's own message quotes the text
  }
}

function urlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'does not parse as an absolute URL'; // the TypeError carries the input
  }
  if (url.protocol !== 'file:' && url.host === '') return `no host after ${url.protocol}`;
  return undefined;
}

// RFC 7468: a label is printable ASCII but '-', single '-' or spaces between; we ask for a non-empty one.
const LABEL = String.raw`[\x21-\x2C\x2E-\x7E]+(?:[- ][\x21-\x2C\x2E-\x7E]+)*`;
const BEGIN = new RegExp(`^-----BEGIN (${LABEL})-----$`);
const END = new RegExp(`^-----END (${LABEL})-----$`);
/** RFC 1421 header (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: ...`), as OpenSSL writes for legacy encrypted keys. */
const HEADER = /^[A-Za-z0-9-]+: ?\S.*$/;

/**
 * One or more PEM blocks (a certificate chain), with only whitespace around
 * and between them: BEGIN and END labels equal, the body base64 across lines
 * (optionally after RFC 1421 headers and a blank line).
 */
function pemProblem(value: Uint8Array): string | undefined {
  const text = tryUtf8(value);
  if (text === undefined) return 'not valid UTF-8';
  const lines = text.split(/\r?\n/).map((l) => l.replace(/[ \t]+$/, ''));
  let i = 0;
  let blocks = 0;
  const skipBlank = () => {
    while (i < lines.length && lines[i]!.trim() === '') i++;
  };
  skipBlank();
  while (i < lines.length) {
    const begin = BEGIN.exec(lines[i]!);
    if (!begin) return blocks === 0 ? `line ${i + 1} is not a BEGIN line` : `text after the END line of block ${blocks}`;
    const beginLine = i + 1;
    i++;
    const body: string[] = [];
    if (i < lines.length && HEADER.test(lines[i]!)) {
      while (i < lines.length && lines[i] !== '' && !END.test(lines[i]!)) i++; // headers, with continuation lines
      if (lines[i] !== '') return `the headers of the block at line ${beginLine} are not followed by a blank line`;
      i++;
    }
    while (i < lines.length && !lines[i]!.startsWith('-----')) body.push(lines[i++]!.trim());
    if (i >= lines.length) return `no END line for the BEGIN at line ${beginLine}`;
    const end = END.exec(lines[i]!);
    if (!end) return `line ${i + 1} is not an END line`;
    if (end[1] !== begin[1]) return `the BEGIN label at line ${beginLine} and the END label at line ${i + 1} differ`;
    const b64 = body.join('');
    if (b64 === '') return `the block at line ${beginLine} is empty`;
    if (base64Problem(b64, false) !== undefined) return `the body of the block at line ${beginLine} is not base64`;
    i++;
    blocks++;
    skipBlank();
  }
  return blocks === 0 ? 'no BEGIN line' : undefined;
}
