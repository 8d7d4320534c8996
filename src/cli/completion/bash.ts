/** `store completion bash`: a completion function for bash 4+, without the bash-completion package. */
import { posixTables } from './posix.js';
import { shellQuote } from '../../platform/shell-quote.js';
import { allCommands, type CommandSpec } from './spec.js';

export function bashScript(root: CommandSpec): string {
  const commands = allCommands(root);
  const globalFlags = root.options.flatMap((o) => o.flags);
  const subLists = commands.filter((c) => c.subcommands.length > 0)
    .map((c) => `${shellQuote(c.path)}) REPLY=${shellQuote(c.subcommands.flatMap((s) => s.names).join(' '))} ;;`);
  const optLists = commands.filter((c) => c !== root)
    .map((c) => `${shellQuote(c.path)}) REPLY=${shellQuote(c.options.flatMap((o) => o.flags).join(' '))} ;;`);
  return `# bash completion for store (Strongbox), written by \`store completion bash\`.
# Load it in this shell:  source <(store completion bash)
# Or for every shell:     store completion bash > ~/.local/share/bash-completion/completions/store

${posixTables(root)}

# PATH: REPLY: its subcommands
_store_subs() {
  case "$1" in
${subLists.map((l) => `    ${l}`).join('\n')}
    *) REPLY='' ;;
  esac
}

# PATH: REPLY: its options and the global ones
_store_opts() {
  case "$1" in
${optLists.map((l) => `    ${l}`).join('\n')}
    *) REPLY='' ;;
  esac
  REPLY="$REPLY ${globalFlags.join(' ')}"
}

# COMPREPLY += the lines of a command's output
_store_add_lines() {
  local line
  while IFS= read -r line; do
    [[ -n $line ]] && COMPREPLY+=("$line")
  done < <("$@")
}

_store() {
  local cur=\${COMP_WORDS[COMP_CWORD]} kind='' REPLY
  local _store_path _store_pending _store_nargs _store_dashdash
  local -a _store_globals
  COMPREPLY=()
  _store_walk "\${COMP_WORDS[@]:1:COMP_CWORD-1}"
  if [[ -n $_store_pending ]]; then
    kind=$_store_pending
    [[ $cur == = ]] && cur=''
  elif [[ -z $_store_dashdash && $cur == -* ]]; then
    _store_opts "$_store_path"
    _store_add_lines compgen -W "$REPLY" -- "$cur"
    return 0
  else
    if ((_store_nargs == 0)) && [[ -z $_store_dashdash ]]; then
      _store_subs "$_store_path"
      [[ -n $REPLY ]] && _store_add_lines compgen -W "$REPLY" -- "$cur"
    fi
    _store_arg "$_store_path" "$_store_nargs"
    kind=$REPLY
  fi
  case $kind in
    name) _store_add_lines _store_names "$cur" "\${_store_globals[@]}" ;;
    file) compopt -o filenames 2>/dev/null; _store_add_lines compgen -f -- "$cur" ;;
    command) _store_add_lines compgen -c -- "$cur" ;;
    choices:*) _store_add_lines compgen -W "\${kind#choices:}" -- "$cur" ;;
  esac
  return 0
}

complete -F _store store
`;
}
