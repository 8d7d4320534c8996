/**
 * The part of the bash and zsh scripts both shells read alike: the command
 * tables as `case` functions, and the walk over the words before the cursor
 * that finds the command, a pending option value and the global options to
 * pass on when secret names are asked for.
 */
import { shellQuote } from '../../platform/shell-quote.js';
import { allCommands, NAME_LOOKUP_OPTIONS, type CommandSpec } from './spec.js';

function caseFunction(name: string, comment: string, subject: string, arms: string[], otherwise: string): string {
  return [
    `# ${comment}`,
    `${name}() {`,
    `  case ${subject} in`,
    ...arms.map((a) => `    ${a}`),
    `    *) ${otherwise} ;;`,
    '  esac',
    '}',
  ].join('\n');
}

/**
 * The `PATH|N` keys of a command's positional arguments and what each is; a
 * variadic last one gets the key `PATH|` with `any` set, for every later index.
 */
export function argKeys(c: CommandSpec): { key: string; any: boolean; kind: string }[] {
  const keys = c.args.map((kind, i) => ({ key: `${c.path}|${i}`, any: false, kind }));
  const last = c.args.at(-1);
  // `run -- CMD ARGS...`: a program first, then its arguments are files, as a shell would offer.
  if (c.variadic && last !== undefined) keys.push({ key: `${c.path}|`, any: true, kind: last === 'command' ? 'file' : last });
  return keys;
}

export function posixTables(root: CommandSpec): string {
  const commands = allCommands(root);
  const valueOptions = (c: CommandSpec) => c.options.filter((o) => o.value !== undefined);
  const subArms = commands.flatMap((c) => c.subcommands.map((s) => `${s.names.map((n) => shellQuote(`${c.path}|${n}`)).join('|')}) REPLY=${shellQuote(s.path)} ;;`));
  const optArms = commands.filter((c) => c !== root).flatMap((c) => valueOptions(c).map((o) =>
    `${o.flags.map((f) => shellQuote(`${c.path}|${f}`)).join('|')}) REPLY=${shellQuote(o.value!)} ;;`));
  // The global options last: a command's own option of the same name wins.
  optArms.push(...valueOptions(root).map((o) => `${o.flags.map((f) => `*${shellQuote(`|${f}`)}`).join('|')}) REPLY=${shellQuote(o.value!)} ;;`));
  const argArms = commands.flatMap(argKeys).map((a) => `${shellQuote(a.key)}${a.any ? '*' : ''}) REPLY=${shellQuote(a.kind)} ;;`);
  const globals = valueOptions(root).flatMap((o) => o.flags).filter((f) => NAME_LOOKUP_OPTIONS.includes(f));
  return [
    caseFunction('_store_sub', 'PATH WORD: is WORD a subcommand of PATH? REPLY: its path', '"$1|$2"', subArms, 'return 1'),
    caseFunction('_store_optval', 'PATH OPTION: does OPTION take a value? REPLY: what the value is', '"$1|$2"', optArms, 'return 1'),
    caseFunction('_store_arg', 'PATH N: REPLY: what positional argument N (from 0) of PATH is', '"$1|$2"', argArms, "REPLY=''"),
    caseFunction('_store_global', 'OPTION: is it one of the global options passed on to find secret names (never --module or a passphrase or PIN file)?', '"$1"',
      globals.length > 0 ? [`${globals.map(shellQuote).join('|')}) return 0 ;;`] : [], 'return 1'),
    `# WORDS...: the words between the program name and the cursor. Sets _store_path, _store_pending
# (what a pending option value is), _store_nargs, _store_dashdash and _store_globals.
_store_walk() {
  local w opt value REPLY
  _store_path='' _store_pending='' _store_nargs=0 _store_dashdash=''
  _store_globals=()
  opt=''
  for w in "$@"; do
    if [[ -n $_store_pending ]]; then
      [[ $w == = ]] && continue # bash splits --opt=value at the =
      _store_global "$opt" && _store_globals+=("$opt" "\${w/#\\~/$HOME}")
      _store_pending=''
      continue
    fi
    if [[ -z $_store_dashdash && $w == -- ]]; then
      _store_dashdash=1
    elif [[ -z $_store_dashdash && $w == -* ]]; then
      if [[ $w == *=* ]]; then
        value=\${w#*=}
        _store_global "\${w%%=*}" && _store_globals+=("\${w%%=*}" "\${value/#\\~/$HOME}")
      elif _store_optval "$_store_path" "$w"; then
        _store_pending=$REPLY opt=$w
      fi
    elif [[ -z $_store_dashdash ]] && _store_sub "$_store_path" "$w"; then
      _store_path=$REPLY _store_nargs=0
    else
      _store_nargs=$((_store_nargs + 1))
    fi
  done
}

# PREFIX GLOBAL-OPTIONS...: secret names starting with PREFIX, from the store the command line
# names; nothing when that store cannot be opened without asking for a passphrase or PIN.
_store_names() {
  local prefix=$1
  shift
  STORE_NO_PROMPT=1 command store "$@" __complete names -- "$prefix" </dev/null 2>/dev/null
}`,
  ].join('\n\n');
}
