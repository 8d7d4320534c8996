/** `store completion fish`: one function that prints the candidates (with descriptions) for the token at the cursor. */
import { argKeys } from './posix.js';
import { allCommands, NAME_LOOKUP_OPTIONS, oneLine, type CommandSpec } from './spec.js';

/** A fish single-quoted word: only \\ and ' are special. */
function fq(text: string): string {
  return `'${text.replace(/[\\']/g, '\\$&')}'`;
}

function switchFunction(name: string, comment: string, subject: string, arms: [pattern: string, body: string][], otherwise: string): string {
  return [
    `# ${comment}`,
    `function ${name}`,
    `    switch ${subject}`,
    ...arms.flatMap(([pattern, body]) => [`        case ${pattern}`, `            ${body}`]),
    `        case '*'`,
    `            ${otherwise}`,
    '    end',
    'end',
  ].join('\n');
}

/** `word<TAB>description` lines. */
function candidates(pairs: [string, string][]): string {
  return `printf '%s\\t%s\\n' ${pairs.map(([w, d]) => `${fq(w)} ${fq(oneLine(d))}`).join(' ')}`;
}

export function fishScript(root: CommandSpec): string {
  const commands = allCommands(root);
  const valueOptions = (c: CommandSpec) => c.options.filter((o) => o.value !== undefined);
  const subArms = commands.flatMap((c) => c.subcommands.map((s): [string, string] =>
    [s.names.map((n) => fq(`${c.path}|${n}`)).join(' '), `echo ${fq(s.path)}`]));
  const optArms: [string, string][] = commands.filter((c) => c !== root).flatMap((c) => valueOptions(c).map((o): [string, string] =>
    [o.flags.map((f) => fq(`${c.path}|${f}`)).join(' '), `echo ${fq(o.value!)}`]));
  optArms.push(...valueOptions(root).map((o): [string, string] => [o.flags.map((f) => `'*|${f}'`).join(' '), `echo ${fq(o.value!)}`]));
  // fish expands * inside quotes in a case pattern.
  const argArms = commands.flatMap(argKeys).map((a): [string, string] => [fq(`${a.key}${a.any ? '*' : ''}`), `echo ${fq(a.kind)}`]);
  const globals = valueOptions(root).flatMap((o) => o.flags).filter((f) => NAME_LOOKUP_OPTIONS.includes(f));
  const subLists = commands.filter((c) => c.subcommands.length > 0)
    .map((c): [string, string] => [fq(c.path), candidates(c.subcommands.flatMap((s) => s.names.map((n): [string, string] => [n, s.description])))]);
  const optLists = commands.map((c): [string, string] =>
    [fq(c.path), candidates(c.options.flatMap((o) => o.flags.map((f): [string, string] => [f, o.description])))]);
  return `# fish completion for store (Strongbox), written by \`store completion fish\`.
# Load it in this shell:  store completion fish | source
# Or for every shell:     store completion fish > ~/.config/fish/completions/store.fish

${switchFunction('__store_sub', 'PATH WORD: the path of subcommand WORD of PATH (status 1: not one)', '"$argv[1]|$argv[2]"', subArms, 'return 1')}

${switchFunction('__store_optval', 'PATH OPTION: what the value of OPTION is (status 1: it takes none)', '"$argv[1]|$argv[2]"', optArms, 'return 1')}

${switchFunction('__store_arg', 'PATH N: what positional argument N (from 0) of PATH is', '"$argv[1]|$argv[2]"', argArms, 'return 0')}

${switchFunction('__store_subs', 'PATH: its subcommands', '"$argv[1]"', subLists, 'return 0')}

${switchFunction('__store_opts', 'PATH: its own options (the global ones are those of the path "")', '"$argv[1]"', optLists, 'return 0')}

function __store_global --description 'is it one of the global options passed on to find secret names (never --module or a passphrase or PIN file)?'
    contains -- $argv[1] ${globals.map(fq).join(' ')}
end

# Secret names starting with PREFIX, from the store the command line names; nothing when that
# store cannot be opened without asking for a passphrase or PIN.
function __store_names --argument-names prefix
    STORE_NO_PROMPT=1 command store $argv[2..-1] __complete names -- $prefix </dev/null 2>/dev/null
end

function __store_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l path ''
    set -l pending ''
    set -l opt ''
    set -l dashdash ''
    set -l nargs 0
    set -l globals
    set -l next ''
    set -l kind ''
    set -l lead ''
    for w in $words[2..-1]
        if test -n "$pending"
            __store_global $opt; and set -a globals $opt $w
            set pending ''
        else if test -z "$dashdash"; and test "$w" = '--'
            set dashdash 1
        else if test -z "$dashdash"; and string match -q -- '-*' $w
            if string match -q -- '*=*' $w
                set -l parts (string split -m 1 = -- $w)
                __store_global $parts[1]; and set -a globals $parts[1] $parts[2]
            else if set kind (__store_optval "$path" $w)
                set pending $kind
                set opt $w
            end
        else if test -z "$dashdash"; and set next (__store_sub "$path" $w)
            set path $next
            set nargs 0
        else
            set nargs (math $nargs + 1)
        end
    end
    set kind ''
    if test -n "$pending"
        set kind $pending
    else if test -z "$dashdash"; and string match -q -- '-*=*' $cur; and set kind (__store_optval "$path" (string split -m 1 = -- $cur)[1])
        set -l parts (string split -m 1 = -- $cur)
        set lead "$parts[1]="
        set cur $parts[2]
    else if test -z "$dashdash"; and string match -q -- '-*' $cur
        __store_opts "$path"
        test -n "$path"; and __store_opts ''
        return 0
    else
        if test $nargs -eq 0; and test -z "$dashdash"
            __store_subs "$path"
        end
        set kind (__store_arg "$path" $nargs)
    end
    switch "$kind"
        case name
            for n in (__store_names "$cur" $globals)
                echo "$lead$n"
            end
        case file
            for f in (__fish_complete_path "$cur")
                echo "$lead$f"
            end
        case command
            __fish_complete_command
        case 'choices:*'
            for c in (string split ' ' -- (string replace 'choices:' '' -- $kind))
                echo "$lead$c"
            end
    end
end

complete -c store -f -a '(__store_complete)'
`;
}
