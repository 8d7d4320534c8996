/**
 * The man page store(1) is made from the program (issue 11): every command
 * with its options and examples, the exit statuses of exit-codes.ts, every
 * environment variable the sources read. It is valid roff (groff renders it
 * without a warning), and the build writes it where package.json's "man" says.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { Context } from '../../../src/cli/context.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { ENVIRONMENT } from '../../../src/cli/help/environment.js';
import { EXAMPLES, commandPath } from '../../../src/cli/help/examples.js';
import { documentedCommands, manPage, roffText } from '../../../src/cli/help/man.js';
import type { Io } from '../../../src/cli/io.js';
import { VERSION, fullProgram } from '../../../src/cli/main.js';
import { sink } from '../../helpers/sink.js';

const quietContext = (): Context => new Context({
  stdin: Readable.from([]), stdout: sink().stream, stderr: sink().stream, env: {},
  stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
} satisfies Io);

let page: string;
let lines: string[];
let commands: Awaited<ReturnType<typeof fullProgram>>['commands'];

beforeAll(async () => {
  page = manPage(await fullProgram(quietContext()), { version: VERSION, date: '2026-01-31' });
  lines = page.split('\n');
  commands = documentedCommands(await fullProgram(quietContext()));
});

/** The lines of a section (.SH NAME) up to the next one. */
function section(name: string): string[] {
  const start = lines.indexOf(`.SH ${name}`);
  expect(start, `.SH ${name}`).toBeGreaterThan(-1);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('.SH '));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** Each command's subsection, by path: from its .SS to the next. */
function commandSections(): Map<string, string> {
  const body = section('COMMANDS');
  const out = new Map<string, string>();
  body.forEach((line, i) => {
    if (line !== '.SS') return;
    const end = body.findIndex((l, j) => j > i && l === '.SS');
    const heading = body[i + 1]!;
    const path = commands.map(commandPath).filter((p) => heading.startsWith(roffText(`store ${p} `)) || heading === roffText(`store ${p}`))
      .sort((a, b) => b.length - a.length)[0];
    expect(path, heading).toBeDefined();
    out.set(path!, body.slice(i, end === -1 ? undefined : end).join('\n'));
  });
  return out;
}

describe('store(1)', () => {
  it('has the sections of a man page, in order, under the package version', () => {
    expect(lines[0]).toBe(`.TH STORE 1 2026-01-31 "strongbox ${VERSION}" "User Commands"`);
    const sections = lines.filter((l) => l.startsWith('.SH ')).map((l) => l.slice(4));
    expect(sections).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'GLOBAL OPTIONS', 'COMMANDS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO']);
    for (const flag of ['--store', '--keyfile', '--passphrase-file', '--profile', '--debug']) {
      expect(section('GLOBAL OPTIONS').join('\n')).toContain(`\\fB${roffText(flag)}\\fR`);
    }
  });

  it('documents every command, each with its options and its examples', () => {
    const sections = commandSections();
    expect([...sections.keys()].sort()).toEqual(commands.map(commandPath).sort());
    for (const cmd of commands) {
      const text = sections.get(commandPath(cmd))!;
      const tags = text.split('\n').filter((_, i, all) => all[i - 1] === '.TP');
      for (const o of cmd.options) {
        if (o.long && o.long !== '--help') expect(tags.some((t) => t.startsWith('\\fB') && t.includes(roffText(o.long!))), `${commandPath(cmd)} ${o.long}`).toBe(true);
      }
      for (const e of EXAMPLES[commandPath(cmd)]!) expect(text).toContain(`\\fB${roffText(e.line)}\\fR`);
      if (cmd.description()) expect(text).toContain(roffText(cmd.description()));
    }
    // What a command adds to its --help by itself comes along (store run's note on variable names).
    expect(sections.get('run')).toContain('Variable names:');
    expect(sections.get('check')).toContain(roffText('store check --require db/url:url --require jwt/private-key:pem'));
  });

  it('lists every exit status with its error codes, 10 included', () => {
    const text = section('EXIT STATUS').join('\n');
    for (const status of Object.values(EXIT)) expect(text).toContain(`.TP\n\\fB${status}\\fR\n`);
    expect(text).toContain('E_LOCKED');
    expect(text).toMatch(/\\fB10\\fR\ncheck, due or doctor/);
  });

  it('lists exactly the environment variables the sources read', () => {
    const read = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) {
          for (const m of readFileSync(path, 'utf8').matchAll(/\benv(?:\.|\[')([A-Z_][A-Z0-9_]*)|['"](STORE_[A-Z0-9_]+)['"]/g)) read.add((m[1] ?? m[2])!);
        }
      }
    };
    walk('src');
    expect(read.size).toBeGreaterThan(15);
    expect(ENVIRONMENT.map((e) => e.name).sort()).toEqual([...read].sort());
    const text = section('ENVIRONMENT').join('\n');
    for (const e of ENVIRONMENT) expect(text).toContain(`.TP\n\\fB${roffText(e.name)}\\fR\n`);
  });

  it('is plain roff: known requests only, escapes troff understands, ASCII only', () => {
    const requests = new Set(['.TH', '.SH', '.SS', '.TP', '.PP', '.RS', '.RE', '.nf', '.fi', '.br', '.nh', '.ad']);
    for (const line of lines) {
      if (line.startsWith('.')) expect(requests.has(line.split(' ')[0]!), line).toBe(true);
      expect(line.startsWith("'"), line).toBe(false);
      expect(line.replace(/\\(e|-|f[BIR]|&|\[u[0-9A-F]{4,5}\])/g, ''), line).not.toContain('\\');
      expect(/^[\x20-\x7e]*$/.test(line), line).toBe(true);
    }
    let open = 0;
    for (const line of lines) {
      if (line === '.RS' || line === '.nf') open++;
      if (line === '.RE' || line === '.fi') open--;
      expect(open).toBeGreaterThanOrEqual(0);
    }
    expect(open).toBe(0);
  });

  it('renders with groff (when installed) without a warning', () => {
    const check = spawnSync('groff', ['-man', '-Tutf8', '-wall', '-z'], { input: page, encoding: 'utf8' });
    if ((check.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return; // no groff here: the roff checks above stand
    expect(check.error).toBeUndefined();
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    const text = spawnSync('groff', ['-man', '-Tascii', '-P-c', '-rLL=200n'], { input: page, encoding: 'utf8' }).stdout.replace(/.\x08/g, '');
    expect(text).toContain('store get [options] <name>');
    expect(text).toContain('store audit prune --before 180d');
  });

  it('is written by the build where package.json\'s "man" points (run npm run build first)', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { man: string[]; files: string[] };
    expect(pkg.man).toEqual(['./dist/man/store.1', './dist/man/strongbox.1']);
    for (const file of pkg.man) expect(existsSync(file), file).toBe(true);
    const built = readFileSync('dist/man/store.1', 'utf8');
    const date = /^\.TH STORE 1 (\S+) /.exec(built)?.[1];
    expect(date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(built).toBe(page.replace('2026-01-31', date!));
    expect(readFileSync('dist/man/strongbox.1', 'utf8')).toBe('.so man1/store.1\n');
  });
});
