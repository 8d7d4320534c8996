/** `store completion zsh`: a completion function for zsh's compsys, with descriptions. */
import { posixTables } from './posix.js';
import { shellQuote } from '../../platform/shell-quote.js';
import { allCommands, oneLine, type CommandSpec } from './spec.js';

/** `word:description` for _describe (a colon in the word is escaped). */
function described(word: string, description: string): string {
  return shellQuote(`${word.replace(/:/g, '\\:')}:${oneLine(description)}`);
}

export function zshScript(root: CommandSpec): string {
  const commands = allCommands(root);
  const subLists = commands.filter((c) => c.subcommands.length > 0)
    .map((c) => `${shellQuote(c.path)}) reply=(${c.subcommands.flatMap((s) => s.names.map((n) => described(n, s.description))).join(' ')}) ;;`);
  const optLists = commands.filter((c) => c !== root)
    .map((c) => `${shellQuote(c.path)}) reply=(${c.options.flatMap((o) => o.flags.map((f) => described(f, o.description))).join(' ')}) ;;`);
  const globalOpts = root.options.flatMap((o) => o.flags.map((f) => described(f, o.description)));
  return `#compdef store
# zsh completion for store (Strongbox), written by \`store completion zsh\`.
# Load it in this shell:  source <(store completion zsh)   (after compinit)
# Or for every shell:     store completion zsh > "\${fpath[1]}/_store"

${posixTables(root)}

# PATH: reply: its subcommands, as word:description
_store_subs() {
  case "$1" in
${subLists.map((l) => `    ${l}`).join('\n')}
    *) reply=() ;;
  esac
}

# PATH: reply: its options and the global ones, as word:description
_store_opts() {
  case "$1" in
${optLists.map((l) => `    ${l}`).join('\n')}
    *) reply=() ;;
  esac
  reply+=(${globalOpts.join(' ')})
}

_store() {
  emulate -L zsh
  local cur=$PREFIX kind='' REPLY
  local -a reply names
  local _store_path _store_pending _store_nargs _store_dashdash
  local -a _store_globals
  _store_walk "\${(@)words[2,CURRENT-1]}"
  if [[ -n $_store_pending ]]; then
    kind=$_store_pending
  elif [[ -z $_store_dashdash && $cur == -*=* ]] && _store_optval "$_store_path" "\${cur%%=*}"; then
    kind=$REPLY
    compset -P '*='
    cur=$PREFIX
  elif [[ -z $_store_dashdash && $cur == -* ]]; then
    _store_opts "$_store_path"
    _describe -t options 'option' reply
    return
  else
    if ((_store_nargs == 0)) && [[ -z $_store_dashdash ]]; then
      _store_subs "$_store_path"
      (( \${#reply} )) && _describe -t commands 'store command' reply
    fi
    _store_arg "$_store_path" "$_store_nargs"
    kind=$REPLY
  fi
  case $kind in
    name)
      names=("\${(@f)$(_store_names "$cur" "\${_store_globals[@]}")}")
      names=(\${names:#})
      (( \${#names} )) && compadd -a names
      ;;
    file) _files ;;
    command) _command_names -e ;;
    choices:*) compadd -- \${=kind#choices:} ;;
  esac
}

if [[ \${zsh_eval_context[-1]} == loadautoload ]]; then
  _store "$@"
else
  (( \${+functions[compdef]} )) || { autoload -Uz compinit && compinit; }
  compdef _store store
fi
`;
}
