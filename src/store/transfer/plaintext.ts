/**
 * Plaintext export and import: a JSON object `{"name": "value"}` or a .env
 * file. THIS IS THE ONLY CODE THAT WRITES SECRET VALUES IN CLEAR TEXT TO A
 * FILE (the export's output, created new with mode 0600, never overwritten,
 * removed on failure; its buffers are wiped), and the only code that reads
 * them from one. It runs only when asked (`store export --format json|env`,
 * `store import` of a JSON or .env file); keep it small enough to audit.
 * Values never appear in an error or a report: problems name secrets only.
 */
import { parse as parseDotenv } from 'dotenv';
import { basename, extname } from 'node:path';
import { StoreError } from '../../errors.js';
import { ageEncodingOf } from '../../crypto/age.js';
import { tryUtf8, utf8, wipe } from '../../crypto/bytes.js';
import { BUNDLE_MAGIC_PREFIX } from '../../crypto/bundle/header.js';
import { nameProblem } from '../names.js';
import { refuseUnlogged } from '../read-only.js';
import type { Store } from '../store.js';
import type { StoreContext } from '../context.js';
import { checkPolicy, checkPrefix, looker, shown, usage } from './checks.js';
import { readEnvStrict } from './env-lines.js';
import { readBounded, withNewFile } from './files.js';
import { stopIfInterrupted, writeImport } from './importer.js';
import { auditExport, plaintextOf, selection, snapshot } from './snapshot.js';
import { ImportRefusedError, type ExportReport, type PlainExportOptions, type PlainFormat, type PlainImportOptions, type ImportReport } from './types.js';

/** Plaintext import files are read whole; this bounds the memory it takes. */
const MAX_PLAIN_FILE_BYTES = 256 * 1024 * 1024;

const ENV_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * What follows a line when it is checked: a line of each quote whose value
 * starts with '#'. dotenv's parser lets a quoted value run on past its
 * closing quote when a backslash is before it (`K='x\'`), across lines, up to
 * a later quote followed by a comment or the end of a line, as here: the
 * value would take in the lines after it. A line is written only when dotenv
 * reads it the same with these after it.
 */
const PROBE_KEYS = ['__strongbox_probe_1', '__strongbox_probe_2', '__strongbox_probe_3'];
const PROBE = `${PROBE_KEYS[0]}='#'\n${PROBE_KEYS[1]}="#"\n${PROBE_KEYS[2]}=\`#\`\n`;

/** Whether dotenv reads `line` as `name` = `value`, alone and with PROBE after it. */
function readsBack(line: string, name: string, value: string): boolean {
  const alone = parseDotenv(line);
  const keys = Object.keys(alone);
  if (keys.length !== 1 || keys[0] !== name || alone[name] !== value) return false;
  const followed = parseDotenv(line + PROBE);
  return Object.keys(followed).length === 1 + PROBE_KEYS.length && followed[name] === value && PROBE_KEYS.every((k) => followed[k] === '#');
}

/**
 * `NAME=<value>\n` such that dotenv's parser reads back exactly `value`,
 * alone and with other such lines after it, or undefined when no quoting does
 * (dotenv has no escape for a backslash or a quote inside double quotes).
 * Single quotes when dotenv reads them back: a shell that sources the file
 * (`set -a; . ./.env`) then reads the same, $ and \` in it as text. Not for a
 * value holding ' (dotenv may still read it, a shell would not). Then double
 * quotes (a value with ' or a CR: dotenv writes \n and \r there, and a shell
 * would expand $ and \` in them), backquotes, none (a value that ends with a
 * backslash, which no quote can follow). Each candidate is checked by parsing
 * it.
 */
export function envLine(name: string, value: string): string | undefined {
  if (!ENV_NAME.test(name)) return undefined;
  const candidates = [
    ...(value.includes("'") ? [] : [`'${value}'`]),
    `"${value.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`,
    `\`${value}\``,
    value,
  ];
  for (const quoted of candidates) {
    const line = `${name}=${quoted}\n`;
    if (readsBack(line, name, value)) return line;
  }
  return undefined;
}

/**
 * Write each current live value under `prefix` in plain text, as a JSON
 * object `{"name": "value"}` or a .env file, to `path` (a new file, 0600).
 * Each name is written with `prefix` taken off (app/DB_URL under app/ is
 * DB_URL), as importPlain's `prefix` puts it back on.
 * Values must be UTF-8 (and, for .env, names without '/' and values dotenv
 * can read back unchanged); otherwise nothing is written and every offending
 * secret is named.
 * @throws E_USAGE, E_INVALID_VALUE, E_IO, E_TAMPERED
 */
export async function writePlainExport(c: StoreContext, path: string, options: PlainExportOptions): Promise<ExportReport> {
  refuseUnlogged(c, 'an export');
  const prefix = checkPrefix(options.prefix);
  const format = options.format;
  if (format !== 'json' && format !== 'env') throw usage(`a plaintext export format is json or env, not "${String(format)}"`);
  const look = looker(options.signal, path);
  const written = (name: string) => name.slice(prefix.length); // every name selected starts with the prefix
  return withNewFile(path, true, (sink) => snapshot(c, sink, async (tx) => {
    const report: ExportReport = {
      path, format, secrets: 0, versions: 0, allVersions: false, skippedNotLive: [], skippedDestroyed: 0, bytes: 0,
    };
    // First pass: every value must be writable, or nothing is written.
    const problems: string[] = [];
    for await (const { secret: s, versions } of selection(tx, prefix, false)) {
      if (versions.length === 0) {
        report.skippedNotLive.push(s.name);
        continue;
      }
      if (format === 'env' && !ENV_NAME.test(written(s.name))) {
        problems.push(`${s.name}: a .env name holds only letters, digits and _ . - (no '/')${prefix ? ` after the prefix ${JSON.stringify(prefix)}` : ''}`);
        continue;
      }
      await look();
      const value = await plaintextOf(c, tx, s.name, versions[0]!.version);
      try {
        const text = tryUtf8(value);
        if (text === undefined) problems.push(`${s.name}: the value is not UTF-8 text`);
        else if (format === 'env' && envLine(written(s.name), text) === undefined) {
          problems.push(`${s.name}: the value cannot be quoted so that dotenv reads it back unchanged`);
        }
      } finally {
        wipe(value);
      }
    }
    if (problems.length > 0) {
      throw new StoreError('E_INVALID_VALUE', `cannot export as ${format}, nothing was written:${problems.map((p) => `\n  ${p}`).join('')}`, [
        'use an encrypted export (it carries any bytes and every name); for a .env file, --prefix P exports only the secrets under P, with P taken off their names (P/NAME is written NAME; store import --prefix P puts it back)',
      ]);
    }
    sink.write(utf8.encode(format === 'json' ? '{' : '# Strongbox plaintext export: this file holds secret values in clear text\n'));
    for await (const { secret: s, versions } of selection(tx, prefix, false)) {
      if (versions.length === 0) continue;
      await look();
      const value = await plaintextOf(c, tx, s.name, versions[0]!.version);
      const text = tryUtf8(value)!;
      wipe(value);
      const entry = format === 'json'
        ? `${report.secrets === 0 ? '' : ','}\n  ${JSON.stringify(written(s.name))}: ${JSON.stringify(text)}`
        : envLine(written(s.name), text)!;
      sink.write(utf8.encode(entry));
      report.secrets++;
      report.versions++;
    }
    if (format === 'json') sink.write(utf8.encode(report.secrets === 0 ? '}\n' : '\n}\n'));
    report.bytes = sink.bytes;
    return report;
  }).then((report) => auditExport(c, report)));
}

/** `store.exportPlain(path, options)`, as a function of the store (the library's API before the method). */
export function exportPlain(store: Store, path: string, options: PlainExportOptions): Promise<ExportReport> {
  return store.exportPlain(path, options);
}

export function plainFormatOf(path: string, head: Uint8Array): PlainFormat {
  const ext = extname(path).toLowerCase();
  const base = basename(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.env' || base === '.env' || base.startsWith('.env.')) return 'env';
  const text = Buffer.from(head).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  return text.startsWith('{') ? 'json' : 'env';
}

/** The entries of a plaintext import file, in file order, or the problems that stop it. */
export function parsePlain(text: string, format: PlainFormat): { entries: [string, unknown][]; problems: string[] } {
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the input: never pass it on.
      return { entries: [], problems: ['the file is not valid JSON (expected an object {"name": "value", …})'] };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { entries: [], problems: ['the JSON is not an object (expected {"name": "value", …})'] };
    }
    return { entries: Object.entries(parsed), problems: duplicateJsonKeys(text) };
  }
  return readEnvStrict(text);
}

/**
 * The names that a JSON object (text that JSON.parse has read) holds more than
 * once, each with the lines it is on: JSON.parse keeps the last silently. A
 * scan of the top-level object only: each key is a string literal (decoded by
 * JSON.parse, so "P\u0057" is PW), each value skipped by its brackets and
 * strings, which the text, being valid JSON, balances.
 */
export function duplicateJsonKeys(text: string): string[] {
  const lines = new Map<string, number[]>();
  let line = 1;
  let i = 0;
  const blank = () => {
    for (; i < text.length && /[ \t\n\r]/.test(text[i]!); i++) if (text[i] === '\n') line++;
  };
  const string = (): string => {
    const start = i;
    for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    i++;
    return text.slice(start, i);
  };
  blank();
  if (text[i] !== '{') return [];
  i++;
  blank();
  while (i < text.length && text[i] === '"') {
    const keyLine = line;
    const key = JSON.parse(string()) as string;
    lines.set(key, [...(lines.get(key) ?? []), keyLine]);
    blank();
    i++; // ':'
    for (let depth = 0; i < text.length; ) {
      const ch = text[i]!;
      if (ch === '"') {
        string();
        continue;
      }
      if (depth === 0 && (ch === ',' || ch === '}')) break;
      if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') depth--;
      else if (ch === '\n') line++;
      i++;
    }
    if (text[i] === ',') i++;
    blank();
  }
  return [...lines].filter(([, at]) => at.length > 1)
    .map(([key, at]) => `${shown(key, `a name on line ${at[0]}`)} is set more than once, on lines ${at.join(', ')}`);
}

/**
 * Import a plaintext JSON object `{"name": "value"}` or .env file (dotenv's
 * parser; each variable name is the secret name, after `prefix`). Every
 * entry is checked first (name rules, string values, size, empty values) and
 * all problems are reported at once; then one transaction writes them all.
 * @throws E_INVALID_IMPORT, E_IO, E_USAGE
 */
export async function importPlainInto(c: StoreContext, path: string, options: PlainImportOptions = {}): Promise<ImportReport> {
  const onConflict = checkPolicy(options.onConflict);
  const dryRun = options.dryRun ?? false;
  const prefix = checkPrefix(options.prefix);
  if (options.format !== undefined && options.format !== 'json' && options.format !== 'env') {
    throw usage(`a plaintext import format is json or env, not "${String(options.format)}"`);
  }
  const bytes = readBounded(path, MAX_PLAIN_FILE_BYTES, 'a plaintext import file');
  if (Buffer.from(bytes.subarray(0, 32)).toString('latin1').startsWith(BUNDLE_MAGIC_PREFIX) || ageEncodingOf(bytes.subarray(0, 64)) !== undefined) {
    wipe(bytes);
    throw usage(`${path} is an encrypted export bundle, not a plaintext file`, ['import it without --format']);
  }
  const format = options.format ?? plainFormatOf(path, bytes.subarray(0, 64));
  let text = tryUtf8(bytes);
  wipe(bytes);
  if (text === undefined) throw new ImportRefusedError(path, ['the file is not UTF-8 text']);
  // A file a person edits: a BOM an editor put first is not part of the first name or value (tryUtf8 keeps it).
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

  const { entries, problems } = parsePlain(text, format);
  const limit = c.header.maxValueBytes;
  const values: [string, Uint8Array][] = [];
  try {
    entries.forEach(([key, value], i) => {
      const name = prefix + key;
      const where = `entry ${i + 1}`;
      const problem = nameProblem(name);
      if (problem) problems.push(`${shown(name, where)}: invalid secret name: ${problem}`);
      if (typeof value !== 'string') {
        problems.push(`${shown(name, where)}: the value must be a string, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
        return;
      }
      // A lone surrogate ("\ud800" in JSON) has no UTF-8 form: encoding would store U+FFFD in its place.
      if (/\p{Cs}/u.test(value)) {
        problems.push(`${shown(name, where)}: the value holds a lone UTF-16 surrogate (\\uD800-\\uDFFF unpaired), which is not text; store such bytes with store set`);
        return;
      }
      const bytesOf = utf8.encode(value);
      if (bytesOf.length === 0 && !options.allowEmpty) problems.push(`${shown(name, where)}: the value is empty (allow with --allow-empty)`);
      else if (bytesOf.length > limit) problems.push(`${shown(name, where)}: the value is ${bytesOf.length} bytes; this store takes at most ${limit}`);
      values.push([name, bytesOf]);
    });
    if (problems.length > 0) throw new ImportRefusedError(path, problems);
    await stopIfInterrupted(options.signal, path);

    // A plaintext file holds values only: each becomes plain bytes (its text), never a JSON secret.
    return await writeImport(c, path, format, dryRun, onConflict, async (im) => {
      const now = c.now();
      for (const [name, value] of values) {
        const target = await im.begin(name, now);
        if (target.mode === 'create') {
          await im.insert(target.row, name, 1, now, null, value, false);
          await im.finish(target.row, { currentVersion: 1, maxVersions: 0, custom: {}, updatedAt: now }, [1]);
        } else if (target.mode === 'append') {
          await im.append(target.row, value, false);
        }
      }
    });
  } finally {
    for (const [, v] of values) wipe(v);
  }
}

/** `store.importPlain(path, options)`, as a function of the store (the library's API before the method). */
export function importPlain(store: Store, path: string, options: PlainImportOptions = {}): Promise<ImportReport> {
  return store.importPlain(path, options);
}
