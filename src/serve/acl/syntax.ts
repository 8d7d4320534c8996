/**
 * The syntax Vault policies are written in, read into a small tree: the HCL
 * subset people write (`path "x" { capabilities = ["read"] }`, `key = value`,
 * lists with trailing commas, `#`, `//` and `/* *\/` comments) and JSON, which
 * is the same tree with `:` and quoted keys. Our own tokenizer and recursive
 * descent, no dependency. Every node keeps its line so errors can name it.
 *
 * Errors never quote the input at length: a message names the line, what was
 * expected and the kind of token found (a word or key is shown only when short).
 */
import { StoreError } from '../../errors.js';

export type SyntaxNode =
  | { kind: 'string'; value: string; line: number }
  | { kind: 'number'; line: number }
  | { kind: 'bool'; value: boolean; line: number }
  | { kind: 'null'; line: number }
  | { kind: 'list'; items: SyntaxNode[]; line: number }
  | { kind: 'object'; items: SyntaxItem[]; line: number };

/** `a "b" { … }` or `a = value`: one or more keys, then the value. */
export interface SyntaxItem {
  keys: Array<{ text: string; line: number }>;
  value: SyntaxNode;
  line: number;
}

type Token =
  | { type: 'string'; value: string; line: number }
  | { type: 'ident'; value: string; line: number }
  | { type: 'number'; line: number }
  | { type: 'punct'; value: string; line: number }
  | { type: 'eof'; line: number };

/** Deep enough for any policy; shallow enough that `[[[[…` cannot exhaust the stack. */
const MAX_DEPTH = 16;

/** How an error shows a key or word the user wrote: quoted when short and printable, else by kind. */
export function shown(text: string, what = 'text'): string {
  if (text.length <= 40 && /^[\x20-\x7e]*$/.test(text)) return JSON.stringify(text);
  return `a ${what} of ${text.length} characters`;
}

export class PolicySyntaxError extends Error {
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(`line ${line}: ${detail}`);
  }
}

function describe(t: Token): string {
  switch (t.type) {
    case 'eof':
      return 'the end of the text';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'punct':
      return `"${t.value}"`;
    case 'ident': {
      const word = shown(t.value, 'word');
      return word.startsWith('"') ? `the word ${word}` : word;
    }
  }
}

const IDENT = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const NUMBER = /-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\uFEFF') {
      i++;
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const start = line;
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new PolicySyntaxError(start, 'a /* comment is never closed');
      for (let j = i; j < end; j++) if (text[j] === '\n') line++;
      i = end + 2;
    } else if (c === '"') {
      const start = line;
      let value = '';
      i++;
      for (;;) {
        if (i >= n || text[i] === '\n') throw new PolicySyntaxError(start, 'a string is not closed on its line');
        const ch = text[i]!;
        if (ch === '"') {
          i++;
          break;
        }
        if (ch === '\\') {
          const e = text[i + 1];
          if (e !== undefined && ESCAPES[e] !== undefined) {
            value += ESCAPES[e];
            i += 2;
          } else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
            value += String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16));
            i += 6;
          } else {
            throw new PolicySyntaxError(line, 'a string holds an unknown escape (after "\\")');
          }
        } else {
          value += ch;
          i++;
        }
      }
      tokens.push({ type: 'string', value, line: start });
    } else if ('{}[]=:,'.includes(c)) {
      tokens.push({ type: 'punct', value: c, line });
      i++;
    } else if (c === '<' && text[i + 1] === '<') {
      throw new PolicySyntaxError(line, 'heredoc strings (<<) are not supported: write a quoted string');
    } else if (/[A-Za-z_]/.test(c)) {
      IDENT.lastIndex = i;
      const m = IDENT.exec(text)!;
      tokens.push({ type: 'ident', value: m[0], line });
      i += m[0].length;
    } else if (/[0-9-]/.test(c)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) throw new PolicySyntaxError(line, 'expected a number after "-"');
      tokens.push({ type: 'number', line });
      i += m[0].length;
    } else {
      throw new PolicySyntaxError(line, `unexpected character ${/^[\x21-\x7e]$/.test(c) ? `"${c}"` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`}`);
    }
  }
  tokens.push({ type: 'eof', line });
  return tokens;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    return this.tokens[this.pos++]!;
  }
  private isPunct(value: string): boolean {
    const t = this.peek();
    return t.type === 'punct' && t.value === value;
  }
  private fail(expected: string): never {
    const t = this.peek();
    throw new PolicySyntaxError(t.line, `expected ${expected}, found ${describe(t)}`);
  }

  /** The whole text: a JSON object, or a body of HCL items. */
  document(): SyntaxItem[] {
    let items: SyntaxItem[];
    if (this.isPunct('{')) items = this.object(0).items;
    else items = this.body(0);
    if (this.peek().type !== 'eof') this.fail('the end of the text');
    return items;
  }

  /** Items until `}` (or the end of the text at the top), commas between them optional. */
  private body(depth: number, openedOn?: number): SyntaxItem[] {
    const items: SyntaxItem[] = [];
    for (;;) {
      const t = this.peek();
      if (openedOn === undefined ? t.type === 'eof' : this.isPunct('}')) return items;
      if (t.type === 'eof') this.fail(`"}" to close the block opened on line ${openedOn}`);
      items.push(this.item(depth));
      if (this.isPunct(',')) this.next();
    }
  }

  private item(depth: number): SyntaxItem {
    const first = this.peek();
    const keys: SyntaxItem['keys'] = [];
    for (;;) {
      const t = this.peek();
      if (t.type === 'ident' || t.type === 'string') {
        keys.push({ text: t.value, line: t.line });
        this.next();
      } else break;
    }
    if (keys.length === 0) this.fail('a key (such as path)');
    if (this.isPunct('{')) return { keys, value: this.object(depth + 1), line: first.line };
    if (keys.length > 1) this.fail(`"{" after ${shown(keys[0]!.text, 'key')} and its label`);
    if (this.isPunct('=') || this.isPunct(':')) {
      this.next();
      return { keys, value: this.value(depth + 1), line: first.line };
    }
    return this.fail(`"=" or "{" after ${shown(keys[0]!.text, 'key')}`);
  }

  private object(depth: number): Extract<SyntaxNode, { kind: 'object' }> {
    if (depth > MAX_DEPTH) this.fail('less nesting');
    const open = this.next(); // '{'
    const items = this.body(depth, open.line);
    if (!this.isPunct('}')) this.fail('"}"');
    this.next();
    return { kind: 'object', items, line: open.line };
  }

  private value(depth: number): SyntaxNode {
    if (depth > MAX_DEPTH) this.fail('less nesting');
    const t = this.peek();
    if (t.type === 'string') {
      this.next();
      return { kind: 'string', value: t.value, line: t.line };
    }
    if (t.type === 'number') {
      this.next();
      return { kind: 'number', line: t.line };
    }
    if (t.type === 'ident' && (t.value === 'true' || t.value === 'false')) {
      this.next();
      return { kind: 'bool', value: t.value === 'true', line: t.line };
    }
    if (t.type === 'ident' && t.value === 'null') {
      this.next();
      return { kind: 'null', line: t.line };
    }
    if (this.isPunct('{')) return this.object(depth);
    if (this.isPunct('[')) {
      this.next();
      const items: SyntaxNode[] = [];
      while (!this.isPunct(']')) {
        items.push(this.value(depth + 1));
        if (this.isPunct(',')) this.next();
        else if (!this.isPunct(']')) this.fail('"," or "]" in a list');
      }
      this.next();
      return { kind: 'list', items, line: t.line };
    }
    return this.fail('a value (a quoted string, a list or a block)');
  }
}

/** @throws PolicySyntaxError naming the line */
export function parseSyntax(text: string): SyntaxItem[] {
  return new Parser(tokenize(text)).document();
}

/** For callers that turn a syntax error into the store's error. */
export function invalidPolicy(name: string, detail: string): StoreError {
  return new StoreError('E_INVALID_POLICY', `invalid policy ${shown(name, 'name')}: ${detail}`);
}
