/**
 * Text as one word of a POSIX shell (sh, bash, zsh): for completion scripts
 * we generate, `store env` output that a shell evaluates, and fixes printed
 * for a user to paste. The one place that knows the quoting rules.
 */

/** `'text'`: in single quotes, each `'` as `'\''`. Any text, the empty one as `''`. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Characters no POSIX shell treats specially anywhere in a word. */
const PLAIN_WORD = /^[\w@%+=:,./-]+$/;

/** `text` as it is when no shell would change it, else `shellQuote(text)`: for commands a person reads and pastes. */
export function shellWord(text: string): string {
  return PLAIN_WORD.test(text) ? text : shellQuote(text);
}
