/**
 * A .env import file read strictly, line by line, beside dotenv's own parse:
 * dotenv skips a line it does not read as an assignment, lets a name, its `=`
 * and its value run across lines, and lets a later line of a name win. Here
 * every line that is not blank, not a comment and not inside a quoted value
 * must be an assignment dotenv reads as one, each name once; otherwise the
 * problems are listed (by line number and name, never a value) and nothing
 * is imported. Values are dotenv's own (its parse), checked against the lines.
 */
import { parse as parseDotenv } from 'dotenv';
import { shown } from './checks.js';

/**
 * dotenv's LINE regex (dotenv 16-18, lib/main.js `LINE`), with the d flag for
 * the places of its groups (which changes nothing in what it matches). Its
 * parse runs it over the text with \r\n and \r made \n; each match is one
 * variable: group 1 the name, group 2 the value as written.
 */
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dmg;

/** What dotenv's parse makes of a value as written (group 2). */
function dotenvValue(raw: string): string {
  let value = raw.trim();
  const quote = value[0];
  value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
  if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
  return value;
}

/** The variables of a .env file in file order, or the problems that stop its import. */
export function readEnvStrict(text: string): { entries: [string, string][]; problems: string[] } {
  const t = text.replace(/\r\n?/g, '\n');
  const lines = t.split('\n');
  const starts: number[] = [];
  for (let i = 0, at = 0; i < lines.length; at += lines[i]!.length + 1, i++) starts.push(at);
  /** The 1-based line number of offset `at`. */
  const lineOf = (at: number): number => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  const problems: string[] = [];
  const covered = new Set<number>();
  const found: { key: string; line: number; raw: string }[] = [];
  const re = new RegExp(LINE.source, LINE.flags);
  const blanks = /\s*/y;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    const [keyStart, keyEnd] = m.indices![1]!;
    const key = m[1]!;
    const line = lineOf(keyStart);
    // Before the name on its line: blanks and `export ` only (not a line break elsewhere, as U+2028, that ^ also takes).
    const lead = t.slice(starts[line - 1]!, keyStart);
    // The `=` (or `:`) and the value's first character on the name's line: not a name alone with ` = value` below it.
    blanks.lastIndex = keyEnd;
    const sep = keyEnd + blanks.exec(t)![0].length;
    const valueAt = m.indices![2];
    const raw = m[2] ?? '';
    const valueStart = valueAt ? valueAt[0] + (raw.length - raw.trimStart().length) : undefined;
    if (!/^\s*(?:export\s+)?$/.test(lead) || lineOf(sep) !== line || (valueStart !== undefined && raw.trim() !== '' && lineOf(valueStart) !== line)) {
      continue; // its lines stay uncovered: each is listed below
    }
    const last = valueAt ? lineOf(Math.max(valueAt[0], valueAt[1] - 1)) : line;
    for (let l = line; l <= last; l++) covered.add(l);
    found.push({ key, line, raw });
  }
  lines.forEach((l, i) => {
    if (covered.has(i + 1) || /^\s*$/.test(l) || /^\s*#/.test(l)) return;
    // By its number only: a line that is not an assignment may be part of a value.
    problems.push(`line ${i + 1}: not a NAME=value line that dotenv reads (NAME: letters, digits, _ . -)`);
  });

  const parsed = parseDotenv(text);
  const lineNumbers = new Map<string, number[]>();
  for (const f of found) lineNumbers.set(f.key, [...(lineNumbers.get(f.key) ?? []), f.line]);
  for (const [key, at] of lineNumbers) {
    if (at.length > 1) problems.push(`${shown(key, `a name on line ${at[0]}`)} is set more than once, on lines ${at.join(', ')}`);
  }
  for (const f of found) {
    const raw = f.raw.trim();
    // A shell's '…'\''…' (store env --format shell) or '…\'…': dotenv keeps the quotes and backslashes inside, a shell would not.
    if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'") && raw.slice(1, -1).includes("'")) {
      problems.push(`line ${f.line} (${shown(f.key, 'a name')}): a single-quoted value with a ' inside is written for a shell, which reads it otherwise than dotenv: import the dotenv or JSON format instead (store env --format dotenv or json)`);
    } else if (lineNumbers.get(f.key)!.length === 1 && (!Object.hasOwn(parsed, f.key) || parsed[f.key] !== dotenvValue(f.raw))) {
      problems.push(`line ${f.line} (${shown(f.key, 'a name')}): dotenv does not read this line as its own variable`);
    }
  }
  if (problems.length === 0 && Object.keys(parsed).length !== lineNumbers.size) {
    problems.push('dotenv reads this file otherwise than line by line: nothing is imported from it');
  }
  return { entries: problems.length > 0 ? [] : found.map((f) => [f.key, parsed[f.key]!]), problems };
}
