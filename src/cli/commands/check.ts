/** `store check`: refuse to start an app whose required secrets are missing or malformed. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { StoreError } from '../../errors.js';
import { checkSecrets, parseRequirement, type Requirement } from '../../store/check.js';
import { FORMAT_KINDS } from '../../store/formats.js';
import { collect } from '../secret-env.js';
import type { Context } from '../context.js';
import { EXIT } from '../exit-codes.js';

interface CheckOptions {
  require?: string[];
  requireFile?: string[];
  json?: boolean;
}

/** Requirements of a file: one a line, `#` starts a comment, blank lines ignored. Errors name file and line. */
function requirementsOf(file: string): Requirement[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    // A requirements file that cannot be read is a bad requirement (exit 2), not a problem found in the store (exit 10).
    throw new StoreError('E_USAGE', `cannot read requirements file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const out: Requirement[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const spec = line.replace(/#.*/, '').trim();
    if (spec === '') return;
    try {
      out.push(parseRequirement(spec));
    } catch (e) {
      if (e instanceof StoreError) throw new StoreError(e.code, `${file} line ${i + 1}: ${e.message}`, e.hints);
      throw e;
    }
  });
  return out;
}

export function registerCheck(program: Command, ctx: Context): void {
  program
    .command('check')
    .description('check that required secrets exist and are well-formed; exit 10 listing every problem (never a value)')
    .option('--require <name[:rules]>', 'a required secret, with comma-separated format rules (repeatable)', collect)
    .option('--require-file <file>', 'read requirements from a file, one a line, # comments (repeatable)', collect)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
Rules: ${FORMAT_KINDS.join(', ')}, as in
  store check --require db/url:url --require jwt/private-key:pem --require api/key:hex,min=32
pem: one or more BEGIN/END blocks with matching labels and a base64 body,
  only whitespace around them. base64: standard alphabet, padded. base64url:
  url-safe alphabet, padding optional. hex: an even number of hex digits (any
  case). base64, base64url, hex and url must have no whitespace around them
  (not even a trailing newline). json: UTF-8 text that parses. url: an absolute
  URL with a host (file: URLs excepted). min=N: at least N bytes.
A missing, deleted, destroyed or undecryptable secret is a problem too.
Exit status 0 when every requirement holds, 10 when any does not, 2 for a bad
requirement (before the store is opened), 1 when the check itself failed.`)
    .action(async (opts: CheckOptions, cmd: Command) => {
      const requirements = [
        ...(opts.require ?? []).map(parseRequirement),
        ...(opts.requireFile ?? []).flatMap(requirementsOf),
      ];
      if (requirements.length === 0) throw new StoreError('E_USAGE', 'store check needs at least one --require NAME[:RULES] or --require-file FILE');
      const report = await ctx.withStore(cmd, (store) => checkSecrets(store, requirements));
      if (opts.json) await ctx.report(report);
      else {
        const lines = report.problems.map((p) => `${p.name}: ${p.message}`);
        const secrets = `${report.checked} required secret${report.checked === 1 ? '' : 's'}`;
        lines.push(report.ok ? `ok: ${secrets} present and well-formed` : `${report.problems.length} problem(s) in ${secrets}`);
        await ctx.out(lines.join('\n'));
      }
      // A status of its own (10, not 1: the command did not fail) so a start script (`store check ... || exit 1`) refuses to start.
      if (!report.ok) ctx.exitStatus = EXIT.found;
    });
}
